import {
    ClientClosedError, GenerationsRunningError, ModelNotReadyError, SchedulerClosedError, WorkerError
} from "../errors.js";
import type {Engine, EngineStatus} from "../engine/types.js";

/**
 * Permission to use the loaded model until `release()`: while any hold is out, the model is not
 * unloaded. `signal` fires when the hold is revoked (forced unload, shutdown past its grace),
 * with a WorkerError as its reason.
 */
export interface ModelHold {
    readonly signal: AbortSignal;
    release(): void;
}

/** What the chat pipeline asks before it touches the model. */
export interface ModelGate {
    /** Waits until the model is ready (loading it first if it was unloaded) and returns a hold. */
    enter(signal?: AbortSignal): Promise<ModelHold>;
}

export interface LifecycleLogger {
    info(details: Record<string, unknown>, message: string): void;
    warn(details: Record<string, unknown>, message: string): void;
}

export interface UnloadOptions {
    /** Abort running generations instead of waiting for them. */
    force: boolean;
    /** How long to wait for running requests; past it, 409. */
    timeoutSeconds: number;
    /** Why, for the log and the metrics: "request" (POST /memory/unload) or "idle". */
    cause: "request" | "idle";
}

export interface UnloadResult {
    /** False when the model was not loaded to begin with. */
    wasLoaded: boolean;
    /** Requests aborted by `force`. */
    aborted: number;
    waitedSeconds: number;
}

export interface LifecycleOptions {
    /** 0 disables idle unloading. */
    idleUnloadSeconds: number;
}

type Listener = () => void;

/** The longest a request waits for the model through unloads and loads before it gets a 503. */
const ENTER_TIMEOUT_SECONDS = 300;

/**
 * Failures that may heal by themselves (a download cut by the network, a mirror that is down, a
 * token granted later): the load is tried again after 2 s, doubling up to 5 min, until it works
 * or the model is unloaded. The others (a corrupt file, too little memory) wait for /memory/load.
 */
const RETRIED_FAILURES = new Set(["download_failed"]);
const RETRY_FIRST_SECONDS = 2;
const RETRY_MAX_SECONDS = 300;

/**
 * Owns when the model is loaded: explicit load/unload, lazy reload on the next request after an
 * unload, unload after idleness, and the holds that keep the model in place while requests use
 * it. Unloading closes the gate at once: requests arriving meanwhile wait, then load the model
 * again, so no request ever finds the model gone halfway.
 */
export class ModelLifecycle implements ModelGate {
    private readonly holds = new Set<AbortController>();
    private waitingForModel = 0;
    private pendingUnload: Promise<unknown> | null = null;
    private loadJob: Promise<EngineStatus> | null = null;
    private shuttingDown = false;
    private idleTimer: NodeJS.Timeout | null = null;
    private lastActivity = performance.now();
    private readonly holdWaiters = new Set<Listener>();
    private readonly loadStartListeners: Listener[] = [];
    private readonly loadedListeners: Array<(status: EngineStatus) => void> = [];
    private readonly unloadListeners: Array<(cause: UnloadOptions["cause"]) => void> = [];
    private retryTimer: NodeJS.Timeout | null = null;
    private retryAt: number | null = null;
    private retries = 0;

    constructor(
        private readonly engine: Engine,
        private readonly options: LifecycleOptions,
        private readonly logger: LifecycleLogger
    ) {}

    /** Requests waiting for the model to load or for an unload to finish. */
    get waiting(): number {
        return this.waitingForModel;
    }

    get isShuttingDown(): boolean {
        return this.shuttingDown;
    }

    /** An unload is waiting for running generations (or freeing the model); /health says so. */
    get isUnloading(): boolean {
        return this.pendingUnload != null;
    }

    /** Seconds until a failed load is tried again (see RETRIED_FAILURES); null when none is planned. */
    get retryInSeconds(): number | null {
        return this.retryAt == null ? null : Math.max(0, Math.ceil((this.retryAt - performance.now()) / 1000));
    }

    onLoadStart(listener: Listener): void {
        this.loadStartListeners.push(listener);
    }

    /** Called each time a load through this lifecycle settles (ready or failed), with the engine's status. */
    onLoaded(listener: (status: EngineStatus) => void): void {
        this.loadedListeners.push(listener);
    }

    onUnload(listener: (cause: UnloadOptions["cause"]) => void): void {
        this.unloadListeners.push(listener);
    }

    async enter(signal?: AbortSignal): Promise<ModelHold> {
        // Unloads and loads may follow each other (an operator cycling the model): keep waiting
        // through them, up to a bound; only a failed load ends the wait early.
        const deadline = performance.now() + ENTER_TIMEOUT_SECONDS * 1000;
        for (;;) {
            if (this.shuttingDown)
                throw new SchedulerClosedError();
            if (signal?.aborted)
                throw new ClientClosedError("model_wait");
            if (this.pendingUnload != null) {
                await this.waitFor(this.pendingUnload, signal);
                continue;
            }
            const status = this.engine.status();
            if (status.state === "ready" || (status.state === "failed" && this.engine.failureIsTransient === true))
                break;
            if (status.state === "failed")
                throw new ModelNotReadyError(status.state, status.reason);
            // A download can take many minutes: requests arriving meanwhile are refused at once (with
            // Retry-After), not held open; only the request that asked for the load waits for it.
            if (status.download != null)
                throw new ModelNotReadyError(status.state, "the model's files are being downloaded; GET /health says how far");
            if (performance.now() > deadline)
                throw new ModelNotReadyError(status.state, `the model did not become ready within ${ENTER_TIMEOUT_SECONDS} s`);
            await this.waitFor(status.state === "unloaded" ? this.load() : this.engine.whenSettled(), signal);
        }
        // No await between the readiness check and taking the hold, so an unload cannot slip in.
        const controller = new AbortController();
        this.holds.add(controller);
        this.touch();
        let released = false;
        return {
            signal: controller.signal,
            release: () => {
                if (released) return;
                released = true;
                this.holds.delete(controller);
                this.touch();
                if (this.holds.size === 0) {
                    for (const waiter of [...this.holdWaiters]) waiter();
                    this.scheduleIdleUnload();
                }
            }
        };
    }

    /** Loads the model unless it is loaded; resolves with the engine's status once settled. */
    load(): Promise<EngineStatus> {
        if (this.shuttingDown)
            return Promise.reject(new SchedulerClosedError());
        this.clearRetry();
        // Concurrent callers (several requests after an unload) share one load.
        this.loadJob ??= this.runLoad().finally(() => {
            this.loadJob = null;
        });
        return this.loadJob;
    }

    private async runLoad(): Promise<EngineStatus> {
        if (this.pendingUnload != null)
            await this.pendingUnload;
        const before = this.engine.status().state;
        if (before !== "ready") {
            if (before !== "loading")
                for (const listener of this.loadStartListeners) listener();
            await this.engine.load();
        }
        const after = this.engine.status();
        if (before !== "ready") {
            for (const listener of this.loadedListeners) listener(after);
            this.touch();
            this.scheduleIdleUnload();
            this.scheduleRetry(after);
        }
        return after;
    }

    /** After a failure that may heal by itself, loads again later, waiting longer each time. */
    private scheduleRetry(status: EngineStatus): void {
        if (status.state === "ready") this.retries = 0;
        if (status.state !== "failed" || !RETRIED_FAILURES.has(status.code ?? "") || this.shuttingDown || this.retryTimer != null)
            return;
        const seconds = Math.min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** this.retries++);
        this.logger.warn({code: status.code, reason: status.reason, retryInSeconds: seconds}, "model load failed; trying again later");
        this.retryAt = performance.now() + seconds * 1000;
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.retryAt = null;
            this.load().catch(() => undefined);
        }, seconds * 1000);
        // A retry alone must not keep the process alive.
        this.retryTimer.unref();
    }

    private clearRetry(): void {
        if (this.retryTimer != null) clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.retryAt = null;
    }

    /**
     * Unloads the model once no request holds it. New requests wait meanwhile. Without `force`,
     * fails with 409 when requests still hold it after `timeoutSeconds`; with `force`, aborts them.
     */
    unload(options: UnloadOptions): Promise<UnloadResult> {
        if (this.shuttingDown)
            return Promise.reject(new SchedulerClosedError());
        if (this.pendingUnload != null) {
            // Join the unload already under way.
            const joined = this.pendingUnload;
            return joined.then(() => ({wasLoaded: false, aborted: 0, waitedSeconds: 0}));
        }
        const started = performance.now();
        this.clearRetry();
        const job = (async (): Promise<UnloadResult> => {
            // A download is not waited for: the engine stops it (and keeps the partial file).
            if (this.engine.status().download == null)
                await this.engine.whenSettled();
            const aborted = options.force
                ? this.abortAll(new WorkerError("unavailable", "model_unloaded",
                    "The model was unloaded (force) while this request used it", {retryAfterSeconds: 1}))
                : 0;
            if (!await this.waitForNoHolds(options.timeoutSeconds))
                throw new GenerationsRunningError(this.holds.size, options.timeoutSeconds);
            const wasLoaded = this.engine.status().state === "ready";
            this.clearIdleTimer();
            await this.engine.unload();
            const waitedSeconds = (performance.now() - started) / 1000;
            this.logger.info({cause: options.cause, force: options.force, aborted, waitedSeconds: round3(waitedSeconds)}, "model unloaded");
            if (wasLoaded)
                for (const listener of this.unloadListeners) listener(options.cause);
            return {wasLoaded, aborted, waitedSeconds};
        })();
        const pending = job.then(() => undefined, () => undefined).finally(() => {
            if (this.pendingUnload === pending) this.pendingUnload = null;
        });
        this.pendingUnload = pending;
        return job;
    }

    /** Revokes every hold: running generations end with `finish_reason: "abort"`, queued ones fail with `reason`. */
    abortAll(reason: WorkerError): number {
        const count = this.holds.size;
        for (const controller of this.holds) controller.abort(reason);
        return count;
    }

    /** Closes the gate for good: new requests get 503. Running ones go on. */
    beginShutdown(): void {
        this.shuttingDown = true;
        this.clearIdleTimer();
        this.clearRetry();
    }

    /** Resolves true once no request holds the model, false if `seconds` pass first. */
    waitForNoHolds(seconds: number): Promise<boolean> {
        if (this.holds.size === 0)
            return Promise.resolve(true);
        return new Promise((resolve) => {
            const done = (result: boolean) => {
                clearTimeout(timer);
                this.holdWaiters.delete(onEmpty);
                resolve(result);
            };
            const onEmpty = () => done(true);
            const timer = setTimeout(() => done(this.holds.size === 0), Math.max(0, seconds) * 1000);
            this.holdWaiters.add(onEmpty);
        });
    }

    private async waitFor(work: Promise<unknown>, signal?: AbortSignal): Promise<void> {
        this.waitingForModel++;
        try {
            if (signal == null) {
                // The caller looks at the engine's state next; a failed wait needs no error of its own.
                await work.catch(() => undefined);
                return;
            }
            await new Promise<void>((resolve, reject) => {
                const onAbort = () => reject(new ClientClosedError("model_wait"));
                signal.addEventListener("abort", onAbort, {once: true});
                work.then(() => resolve(), () => resolve()).finally(() => signal.removeEventListener("abort", onAbort));
            });
        } finally {
            this.waitingForModel--;
        }
    }

    private touch(): void {
        this.lastActivity = performance.now();
    }

    private scheduleIdleUnload(): void {
        this.clearIdleTimer();
        const idleMs = this.options.idleUnloadSeconds * 1000;
        if (idleMs <= 0 || this.shuttingDown || this.holds.size > 0 || this.engine.status().state !== "ready")
            return;
        const due = this.lastActivity + idleMs;
        this.idleTimer = setTimeout(() => {
            this.idleTimer = null;
            if (this.holds.size > 0 || this.pendingUnload != null || this.engine.status().state !== "ready")
                return;
            if (performance.now() < this.lastActivity + idleMs) {
                this.scheduleIdleUnload();
                return;
            }
            this.unload({force: false, timeoutSeconds: 0, cause: "idle"}).catch((err: unknown) =>
                this.logger.warn({err: (err as Error).message}, "idle unload skipped"));
        }, Math.max(0, due - performance.now()));
        // An idle timer alone must not keep the process alive.
        this.idleTimer.unref();
    }

    private clearIdleTimer(): void {
        if (this.idleTimer != null) clearTimeout(this.idleTimer);
        this.idleTimer = null;
    }
}

function round3(value: number): number {
    return Math.round(value * 1000) / 1000;
}
