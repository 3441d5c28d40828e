import type {ConversationItem} from "./responsesInput.js";
import type {ResponseObject} from "./responsesSchemas.js";

/**
 * How many stored responses, and for how long. In memory (a restart forgets them, and a client
 * then gets a 404 for its previous_response_id): the count and a byte budget bound what a
 * client can make the worker hold, the TTL frees what nobody continues.
 */
export const RESPONSE_STORE_LIMITS = {maxResponses: 512, ttlSeconds: 3600, maxBytes: 64 * 1024 * 1024} as const;

/** A stored response: the body, and the conversation a follow-up continues. */
export interface StoredResponse {
    response: ResponseObject;
    /** The conversation so far without instructions (they are not carried over): every input item, then the answer's items. */
    items: ConversationItem[];
    /** The conversation cache's id of the chain, so a follow-up resumes its sequence. */
    conversationId: string;
    /** The answer's output items by their id (`msg_...`, `fc_...`): what an `item_reference` names. */
    outputItems: ReadonlyMap<string, ConversationItem>;
}

interface Entry {
    stored: StoredResponse;
    expiresAt: number;
    bytes: number;
}

/** Responses by id, oldest dropped first, each for `ttlSeconds` after it was stored. */
export class ResponseStore {
    private readonly entries = new Map<string, Entry>();
    /** Output item id to the response that holds it (clients with `store` replay earlier items as references). */
    private readonly itemOwners = new Map<string, string>();
    private bytes = 0;

    constructor(private readonly limits: {maxResponses: number; ttlSeconds: number; maxBytes: number} = RESPONSE_STORE_LIMITS,
        private readonly now: () => number = Date.now) {}

    get size(): number {
        return this.entries.size;
    }

    get(id: string): StoredResponse | null {
        const entry = this.entries.get(id);
        if (entry == null) return null;
        if (entry.expiresAt <= this.now()) {
            this.remove(id, entry);
            return null;
        }
        return entry.stored;
    }

    /** A stored response's output item, as an `item_reference` names it; null when unknown or expired. */
    item(id: string): ConversationItem | null {
        const owner = this.itemOwners.get(id);
        return owner != null ? this.get(owner)?.outputItems.get(id) ?? null : null;
    }

    put(stored: StoredResponse): void {
        const bytes = JSON.stringify(stored.items).length + JSON.stringify(stored.response).length;
        if (bytes > this.limits.maxBytes) return;
        const old = this.entries.get(stored.response.id);
        if (old != null) this.remove(stored.response.id, old);
        this.entries.set(stored.response.id, {stored, expiresAt: this.now() + this.limits.ttlSeconds * 1000, bytes});
        for (const itemId of stored.outputItems.keys()) this.itemOwners.set(itemId, stored.response.id);
        this.bytes += bytes;
        // A Map iterates in insertion order: the first entries are the oldest.
        for (const [id, entry] of this.entries) {
            if (this.entries.size <= this.limits.maxResponses && this.bytes <= this.limits.maxBytes && entry.expiresAt > this.now()) break;
            this.remove(id, entry);
        }
    }

    private remove(id: string, entry: Entry): void {
        this.entries.delete(id);
        for (const itemId of entry.stored.outputItems.keys()) this.itemOwners.delete(itemId);
        this.bytes -= entry.bytes;
    }
}
