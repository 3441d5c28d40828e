import {
    ClientClosedError, GenerationsRunningError, ModelNotReadyError, SchedulerClosedError, WorkerError
} from "../errors.js";
import type {Engine, EngineExit, EngineStatus} from "../engine/types.js";
import type {BackoffSchedule} from "./backoff.js";
import {LoadRetry} from "./loadRetry.js";

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

/** A failed load the engine reports that may heal by itself: a download cut by the network, a mirror that is down, a token granted later. */
const RETRIED_FAILURES = new Set(["download_failed"]);
/** A failed load (or a crash that points at the model) is tried again after 2 s, doubling up to 5 min. */
const RETRY_BACKOFF: BackoffSchedule = {firstSeconds: 2, maxSeconds: 300};
/** A runner that died while serving (or was killed from outside) is started again after 1 s, doubling up to 30 s. */
const RESTART_BACKOFF: BackoffSchedule = {firstSeconds: 1, maxSeconds: 30};

/**
 * The one owner of the model's state. The engine reports facts: its status (loading, ready,
 * failed with its own reason, unloaded) and the exits it did not ask for (EngineExit). This class
 * decides, and `status()` is what every reader sees:
 *
 *   unloaded --load (a request, /memory/load, MODEL_LOADING=eager)--> loading --> ready | failed
 *   ready --unload (/memory/unload, idle)--> unloaded; requests meanwhile wait, then load it again
 *   ready --runner exits--> loading ("runner_restarting"); a new runner after the restart backoff,
 *       requests wait for it
 *   loading --runner exits--> killed from outside (an operator, the OOM killer): as above, the
 *       file is not blamed; died of its own accord (an abort, a segfault: "model_invalid"), killed
 *       past its memory or load time ("load_failed"), could not start ("backend_unavailable"):
 *       failed with that reason, and loaded again after the retry backoff
 *   failed "download_failed" --retry backoff--> loading
 *   failed (a missing or unparsable file, too little memory) --/memory/load--> loading
 *
 * Both backoffs double with each failure in a row (LoadRetry), from the first delay again once
 * the model stayed ready a minute; /memory/load or an unload cancels a planned attempt. Failed
 * refuses requests with 503; loading makes them wait (a download refuses them, it can take long).
 * The holds keep the model in place while requests use it: unloading closes the gate at once, so
 * no request ever finds the model gone halfway.
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
    /** What the lifecycle decided after an exit the engine reported; null: the engine's own status stands. */
    private decided: EngineStatus | null = null;
    private readonly retry = new LoadRetry(() => this.load());

    constructor(
        private readonly engine: Engine,
        private readonly options: LifecycleOptions,
        private readonly logger: LifecycleLogger
    ) {
        engine.onExit?.((exit) => this.engineExited(exit));
    }

    /** The model's state, for every reader (/health, /ready, /model/info, metrics). */
    status(): EngineStatus {
        return this.decided != null ? {...this.decided} : this.engine.status();
    }

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

    /** Seconds until a failed load is tried again; null when none is planned. */
    get retryInSeconds(): number | null {
        return this.retry.inSeconds;
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
            const status = this.status();
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
            await this.waitFor(status.state === "unloaded" ? this.load() : this.settled(), signal);
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
        this.retry.cancel();
        // Concurrent callers (several requests after an unload) share one load.
        this.loadJob ??= this.runLoad().finally(() => {
            this.loadJob = null;
        });
        return this.loadJob;
    }

    private async runLoad(): Promise<EngineStatus> {
        if (this.pendingUnload != null)
            await this.pendingUnload;
        // A load asked for supersedes what an exit decided.
        this.decided = null;
        const before = this.engine.status().state;
        if (before !== "ready") {
            if (before !== "loading")
                for (const listener of this.loadStartListeners) listener();
            await this.engine.load();
        }
        // An exit during the load has decided already (onExit comes before the load settles).
        const after = this.status();
        if (before !== "ready") {
            if (after.state === "ready") this.retry.ready();
            for (const listener of this.loadedListeners) listener(after);
            this.touch();
            this.scheduleIdleUnload();
            // Not twice for one failure: an exit during the load planned the next one already.
            if (after.state === "failed" && RETRIED_FAILURES.has(after.code ?? "") && !this.retry.isPlanned)
                this.planLoad(RETRY_BACKOFF, after);
        }
        return after;
    }

    /** What the lifecycle waits for while the model is loading: a load under way, or the one planned next. */
    private settled(): Promise<unknown> {
        return this.loadJob ?? this.retry.done ?? this.engine.whenSettled();
    }

    /** An exit the engine did not ask for: restart it, or fail with its reason and load again later (see the class comment). */
    private engineExited(exit: EngineExit): void {
        if (this.shuttingDown) return;
        const restart = exit.code === "runner_crashed";
        this.decided = {state: "failed", reason: exit.reason, loadProgress: null, code: exit.code};
        const seconds = this.planLoad(restart ? RESTART_BACKOFF : RETRY_BACKOFF, this.decided);
        if (restart)
            this.decided = {state: "loading", reason: `${exit.reason}; starting a new runner in ${seconds} s`, loadProgress: null, code: "runner_restarting"};
    }

    /** Plans the next load after a failure; returns the wait in seconds. */
    private planLoad(schedule: BackoffSchedule, failure: EngineStatus): number {
        if (this.shuttingDown) return 0;
        const seconds = this.retry.plan(schedule);
        this.logger.warn({code: failure.code, reason: failure.reason, retryInSeconds: seconds}, "model load failed; trying again later");
        return seconds;
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
        this.retry.cancel();
        const job = (async (): Promise<UnloadResult> => {
            // A download is not waited for: the engine stops it (and keeps the partial file).
            if (this.status().download == null)
                await this.engine.whenSettled();
            const aborted = options.force
                ? this.abortAll(new WorkerError("unavailable", "model_unloaded",
                    "The model was unloaded (force) while this request used it", {retryAfterSeconds: 1}))
                : 0;
            if (!await this.waitForNoHolds(options.timeoutSeconds))
                throw new GenerationsRunningError(this.holds.size, options.timeoutSeconds);
            const wasLoaded = this.status().state === "ready";
            this.clearIdleTimer();
            await this.engine.unload();
            // Unloaded on purpose: a restart planned meanwhile (a crash while waiting) is off.
            this.retry.cancel();
            this.decided = null;
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
        this.retry.cancel();
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
        if (idleMs <= 0 || this.shuttingDown || this.holds.size > 0 || this.status().state !== "ready")
            return;
        const due = this.lastActivity + idleMs;
        this.idleTimer = setTimeout(() => {
            this.idleTimer = null;
            if (this.holds.size > 0 || this.pendingUnload != null || this.status().state !== "ready")
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
