import {UnknownModelError, WrongModelKindError, type WorkerError} from "../errors.js";
import type {ModelKind} from "../config/config.js";
import type {Engine} from "../engine/types.js";
import type {Scheduler} from "../scheduler/scheduler.js";
import type {ModelLifecycle} from "./modelLifecycle.js";

/** One served model: its engine (a runner of its own), its sequences and its lifecycle. */
export interface ServedModel {
    /** The name requests route by: a MODELS key, or (one model from MODEL_PATH) the model's own name. */
    readonly name: string;
    readonly engine: Engine;
    readonly scheduler: Scheduler;
    readonly lifecycle: ModelLifecycle;
    /** What it serves: chat (and completions), or embeddings only. */
    readonly kind: ModelKind;
    /** An embedding model whose vectors may be truncated (`dimensions`). */
    readonly matryoshka: boolean;
}

export interface ModelEntry {
    /** The MODELS key; null for the one model of MODEL_PATH, which is named by its engine. */
    key: string | null;
    engine: Engine;
    scheduler: Scheduler;
    lifecycle: ModelLifecycle;
    /** Default chat. */
    kind?: ModelKind;
    matryoshka?: boolean;
}

/**
 * The models a worker serves. With MODELS, a request names its model (`model` on every protocol)
 * and an unknown name is refused with the known ones; a request without one goes to the first
 * model. With one model (MODEL_PATH), every name reaches it, as with llama-server: the callers
 * send their own model names (`qwen_instruct`), and the answer reports the real one.
 */
export class ModelPool {
    private readonly entries: readonly ServedModel[];

    constructor(entries: readonly ModelEntry[]) {
        if (entries.length === 0) throw new Error("a worker serves at least one model");
        this.entries = entries.map(({key, engine, scheduler, lifecycle, kind = "chat", matryoshka = false}) => ({
            get name() {
                return key ?? engine.info().modelName;
            },
            engine, scheduler, lifecycle, kind, matryoshka
        }));
    }

    get all(): readonly ServedModel[] {
        return this.entries;
    }

    /** True when requests are routed by name (MODELS); false with a single model, which takes any name. */
    get routesByName(): boolean {
        return this.entries.length > 1;
    }

    /** The model of requests that name none. */
    get default(): ServedModel {
        return this.entries[0];
    }

    names(): string[] {
        return this.entries.map((entry) => entry.name);
    }

    /**
     * The model a request asks for; `param` names the field in the 400 for an unknown name. With
     * `kind`, a model of the other kind is a 400 too, and a request that names none gets the
     * first model of that kind.
     */
    resolve(name: string | null | undefined, param = "model", kind: ModelKind | null = null): ServedModel {
        const found = name == null || !this.routesByName
            ? (kind != null && name == null ? this.entries.find((entry) => entry.kind === kind) : null) ?? this.default
            : this.entries.find((entry) => entry.name === name);
        if (found == null)
            throw new UnknownModelError(param,
                `unknown model ${JSON.stringify(name)}; this worker serves ${this.names().map((known) => JSON.stringify(known)).join(", ")}`);
        if (kind != null && found.kind !== kind)
            // The served name: a worker of one model answers to any name, which may say nothing of what it is.
            throw new WrongModelKindError(param, found.name, found.kind);
        return found;
    }

    /** The models `which` selects (`/memory/load?which=`): one by name, every one for `all` or none given. */
    select(which: string | undefined): readonly ServedModel[] {
        if (which == null || which === "all")
            return this.entries;
        const found = this.entries.find((entry) => entry.name === which);
        if (found == null)
            throw new UnknownModelError("which",
                `unknown model ${JSON.stringify(which)}; expected "all" or one of ${this.names().map((known) => JSON.stringify(known)).join(", ")}`);
        return [found];
    }

    get isShuttingDown(): boolean {
        return this.default.lifecycle.isShuttingDown;
    }

    /** Requests generating, over every model. */
    get running(): number {
        return this.entries.reduce((sum, entry) => sum + entry.scheduler.running, 0);
    }

    /** Requests waiting for a sequence or for their model to load, over every model. */
    get queued(): number {
        return this.entries.reduce((sum, entry) => sum + entry.scheduler.queued + entry.lifecycle.waiting, 0);
    }

    beginShutdown(): void {
        for (const entry of this.entries) {
            entry.lifecycle.beginShutdown();
            entry.scheduler.close();
        }
    }

    /** True once no request holds any model, false if `seconds` pass first. */
    async waitForNoHolds(seconds: number): Promise<boolean> {
        const results = await Promise.all(this.entries.map((entry) => entry.lifecycle.waitForNoHolds(seconds)));
        return results.every(Boolean);
    }

    abortAll(reason: WorkerError): number {
        return this.entries.reduce((sum, entry) => sum + entry.lifecycle.abortAll(reason), 0);
    }

    async close(): Promise<void> {
        await Promise.all(this.entries.map(async (entry) => {
            await entry.scheduler.whenIdle();
            await entry.engine.close();
        }));
    }

    /** Kills every model runner at once (a shutdown past its deadline). */
    kill(): void {
        for (const entry of this.entries) entry.engine.kill?.();
    }
}
