import fs from "node:fs";
import path from "node:path";
import {randomUUID} from "node:crypto";
import type {EngineLogger} from "../types.js";
import {commonPrefixLength} from "./sequenceAffinity.js";
import {hashFile, hashOpenFile} from "./fileHash.js";
import {UnexpectedFile, openRegularFile, readRegularTextFile} from "./regularFile.js";

/**
 * Why a stored state was thrown away: its bytes no longer match their checksum, its file is gone
 * or unreadable, or the tokens it loaded are not the recorded ones.
 */
export type StateDiscardReason = "checksum" | "missing" | "tokens";

/** The part of a llama.cpp sequence the store needs; LlamaContextSequence has it. */
export interface StatefulSequence {
    readonly contextTokens: readonly number[];
    saveStateToFile(filePath: string): Promise<{fileSize: number}>;
    loadStateFromFile(filePath: string, acceptRisk: {acceptRisk: true}): Promise<void>;
    clearHistory(): Promise<void>;
}

export interface StoredState {
    id: string;
    conversationId: string | null;
    /** The exact tokens the saved state holds; a state is used only when these are a prefix of the prompt. */
    tokens: number[];
    bytes: number;
    /** xxHash64 of the state file's bytes, checked before every restore. */
    checksum: string;
    lastUsed: number;
}

/** Version 3 added `model`; a sidecar of another version is dropped with its state. */
const SIDECAR_VERSION = 3;
/** A sidecar is a few bytes per token: far below this even for a million-token context. */
const MAX_SIDECAR_BYTES = 64 * 1024 * 1024;

interface Sidecar {
    version: typeof SIDECAR_VERSION;
    /** The identity of the model that wrote the state (modelIdentity): a state is restored only into that model. */
    model: string;
    conversationId: string | null;
    tokens: string; // base64 of a Uint32Array
    bytes: number;
    checksum: string;
    lastUsed: number;
}

/**
 * Sequence states spilled to disk when a conversation's sequence is given to another, kept under
 * a byte budget with least-recently-used eviction. Files live in a folder named after the model's
 * identity, and each sidecar names that identity too: files copied in from another model's folder
 * (same shape, other weights: they would load and answer wrong) are dropped, not restored.
 * Nothing in the folder is trusted to be a plain file: a state or sidecar that is a symlink, a
 * FIFO or a device, or of another size than recorded, is dropped without being read (see
 * openRegularFile). Every failure (folder unwritable, disk full, corrupt file) disables nothing
 * but that one step: serving goes on without the cache.
 */
export class StateStore {
    private readonly entries = new Map<string, StoredState>();
    /** Entries being loaded into a sequence right now: their files are removed only afterwards. */
    private readonly restoring = new Map<string, {removeAfter: boolean}>();
    private totalBytes = 0;

    constructor(
        private readonly dir: string,
        private readonly maxBytes: number,
        private readonly logger: EngineLogger,
        private readonly onDiscard: (reason: StateDiscardReason) => void = () => undefined,
        /** The model identity the sidecars must name: by default the folder's name, which the engine makes that identity. */
        private readonly identity: string = path.basename(dir)
    ) {}

    get bytes(): number {
        return this.totalBytes;
    }

    get size(): number {
        return this.entries.size;
    }

    /** Reads the index left by an earlier run of the same model. */
    async open(): Promise<void> {
        try {
            await fs.promises.mkdir(this.dir, {recursive: true});
            for (const name of await fs.promises.readdir(this.dir)) {
                if (!name.endsWith(".json")) continue;
                const id = name.slice(0, -5);
                try {
                    const sidecar = JSON.parse(await readRegularTextFile(path.join(this.dir, name), MAX_SIDECAR_BYTES)) as Sidecar;
                    if (sidecar.version !== SIDECAR_VERSION || sidecar.model !== this.identity || typeof sidecar.checksum !== "string" ||
                        !Number.isSafeInteger(sidecar.bytes) || typeof sidecar.tokens !== "string")
                        throw new Error("stale entry");
                    // A regular file of the recorded size (opened without reading it, so a FIFO cannot block).
                    await (await openRegularFile(this.stateFile(id), sidecar.bytes)).close();
                    const tokens = Array.from(new Uint32Array(Uint8Array.from(Buffer.from(sidecar.tokens, "base64")).buffer));
                    this.entries.set(id, {
                        id, conversationId: sidecar.conversationId, tokens, bytes: sidecar.bytes, checksum: sidecar.checksum, lastUsed: sidecar.lastUsed
                    });
                    this.totalBytes += sidecar.bytes;
                } catch {
                    await this.removeFiles(id);
                }
            }
            await this.evict(0);
            this.logger.info({entries: this.entries.size, bytes: this.totalBytes}, "conversation cache opened");
        } catch (err) {
            // Each later save tries the folder again, so the cache comes back once it is writable.
            this.logger.warn({error: (err as Error).message, dir: this.dir}, "conversation cache folder unusable; serving continues without it");
        }
    }

    /**
     * The stored state that reuses the most of `tokens`: its tokens must be a true prefix of them,
     * checked token by token. A state of the same conversation wins ties.
     */
    find(tokens: readonly number[], conversationId: string | null): StoredState | null {
        let best: StoredState | null = null;
        for (const entry of this.entries.values()) {
            if (entry.tokens.length > tokens.length || commonPrefixLength(entry.tokens, tokens) !== entry.tokens.length)
                continue;
            if (best == null || entry.tokens.length > best.tokens.length ||
                (entry.tokens.length === best.tokens.length && conversationId != null && entry.conversationId === conversationId))
                best = entry;
        }
        return best;
    }

    /** Saves what `sequence` holds now. Replaces older states of the same conversation or that it extends. */
    async save(sequence: StatefulSequence, conversationId: string | null): Promise<void> {
        if (this.maxBytes <= 0) return;
        const tokens = [...sequence.contextTokens];
        if (this.find(tokens, conversationId)?.tokens.length === tokens.length)
            return; // an identical state is already stored
        const id = randomUUID();
        try {
            await fs.promises.mkdir(this.dir, {recursive: true});
            const {fileSize} = await sequence.saveStateToFile(this.stateFile(id));
            const checksum = await hashFile(this.stateFile(id));
            const entry: StoredState = {id, conversationId, tokens, bytes: fileSize, checksum, lastUsed: Date.now()};
            await this.writeSidecar(entry);
            for (const old of [...this.entries.values()])
                if ((conversationId != null && old.conversationId === conversationId) ||
                    commonPrefixLength(old.tokens, tokens) === old.tokens.length)
                    await this.delete(old);
            this.entries.set(id, entry);
            this.totalBytes += fileSize;
            await this.evict(0);
        } catch (err) {
            await this.removeFiles(id);
            this.logger.warn({error: (err as Error).message, dir: this.dir}, "could not save a sequence state; serving continues without it");
        }
    }

    /**
     * Loads a stored state into `sequence`. Returns false (and leaves the sequence empty) if the
     * file is gone or does not hold exactly the recorded tokens.
     */
    async restore(sequence: StatefulSequence, entry: StoredState): Promise<boolean> {
        const pin = {removeAfter: false};
        this.restoring.set(entry.id, pin);
        try {
            // Emptied first: a load that fails before reading (file gone) would otherwise leave the
            // old cells in the KV cache while node-llama-cpp believes the sequence empty.
            await sequence.clearHistory();
            // A file damaged on disk would load "successfully" and answer garbage (and spread to
            // every conversation reusing it): its bytes must match the checksum taken when it was written.
            const checksum = await this.checksumOf(entry);
            if (checksum !== entry.checksum)
                throw new DiscardedState("checksum", "the state file's bytes do not match their checksum");
            await sequence.loadStateFromFile(this.stateFile(entry.id), {acceptRisk: true});
            const loaded = sequence.contextTokens;
            if (loaded.length !== entry.tokens.length || commonPrefixLength(loaded, entry.tokens) !== loaded.length)
                throw new DiscardedState("tokens", "restored tokens differ from the recorded ones");
            entry.lastUsed = Date.now();
            if (!pin.removeAfter)
                void this.writeSidecar(entry).catch(() => undefined);
            return true;
        } catch (err) {
            const reason = err instanceof DiscardedState ? err.reason : "missing";
            this.onDiscard(reason);
            this.logger.warn({reason, error: (err as Error).message}, "discarded a stored sequence state");
            await sequence.clearHistory().catch(() => undefined);
            pin.removeAfter = true;
            return false;
        } finally {
            this.restoring.delete(entry.id);
            if (pin.removeAfter)
                await this.delete(entry);
        }
    }

    /** The checksum of an entry's state file, read only if it is a regular file of the recorded size. */
    private async checksumOf(entry: StoredState): Promise<string> {
        let file;
        try {
            file = await openRegularFile(this.stateFile(entry.id), entry.bytes);
        } catch (err) {
            if (err instanceof UnexpectedFile && err.problem === "size")
                throw new DiscardedState("checksum", "the state file's size is not the recorded one");
            throw new DiscardedState("missing", "the state file is gone, unreadable or not a regular file");
        }
        try {
            return await hashOpenFile(file);
        } catch {
            throw new DiscardedState("missing", "the state file could not be read");
        } finally {
            await file.close();
        }
    }

    private async evict(incoming: number): Promise<void> {
        const byAge = [...this.entries.values()].sort((a, b) => a.lastUsed - b.lastUsed);
        while (this.totalBytes + incoming > this.maxBytes && byAge.length > 0)
            await this.delete(byAge.shift()!);
    }

    private async delete(entry: StoredState): Promise<void> {
        if (this.entries.delete(entry.id))
            this.totalBytes -= entry.bytes;
        const pin = this.restoring.get(entry.id);
        if (pin != null) {
            // Another request is loading it: its files go once that load is done.
            pin.removeAfter = true;
            return;
        }
        await this.removeFiles(entry.id);
    }

    private async writeSidecar(entry: StoredState): Promise<void> {
        const sidecar: Sidecar = {
            version: SIDECAR_VERSION, model: this.identity, conversationId: entry.conversationId, bytes: entry.bytes, checksum: entry.checksum, lastUsed: entry.lastUsed,
            tokens: Buffer.from(Uint32Array.from(entry.tokens).buffer).toString("base64")
        };
        const file = path.join(this.dir, `${entry.id}.json`);
        await fs.promises.writeFile(`${file}.tmp`, JSON.stringify(sidecar));
        await fs.promises.rename(`${file}.tmp`, file);
    }

    private async removeFiles(id: string): Promise<void> {
        await fs.promises.rm(this.stateFile(id), {force: true}).catch(() => undefined);
        await fs.promises.rm(path.join(this.dir, `${id}.json`), {force: true}).catch(() => undefined);
    }

    private stateFile(id: string): string {
        return path.join(this.dir, `${id}.state`);
    }
}

class DiscardedState extends Error {
    constructor(readonly reason: StateDiscardReason, message: string) {
        super(message);
    }
}
