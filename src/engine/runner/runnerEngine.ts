import {ModelNotReadyError, WorkerError} from "../../errors.js";
import {
    unloadedStatus, type CacheEvent, type ChatInput, type ChatMessage, type EmbeddingInput, type EmbeddingOutcome, type Engine, type EngineExit, type EngineLogger,
    type EngineStatus, type GenerateRequest, type GenerationEvent, type MemoryReport, type ModelInfo, type PreparedPrompt,
    type RawInput, type RenderedPrompt, type SequenceHint, type ToolSet
} from "../types.js";
import {pickSequence, prefixDigest, type SequenceView} from "../llama/sequenceAffinity.js";
import type {StateDiscardReason} from "../llama/stateStore.js";
import {infoBeforeReport} from "./infoBeforeReport.js";
import type {RunnerCall, RunnerCalls, RunnerMessage, RunnerSettings, RunnerState} from "./protocol.js";
import {RunnerProcess, type RunnerExit} from "./runnerProcess.js";
import {LIVENESS_KILLS} from "./runnerLiveness.js";
import {fromWire} from "./wireErrors.js";
import {GenerationChannel} from "./generationChannel.js";
import {crashReport, startFailure} from "./crashReport.js";
import {idleMemory} from "./idleMemory.js";

export interface RunnerEngineOptions {
    settings: RunnerSettings;
    /** Environment of the runner process (UV_THREADPOOL_SIZE set for it). */
    env: NodeJS.ProcessEnv;
    /** A load that has not settled after this long is killed and reported (a download before it does not count). */
    loadTimeoutSeconds: number;
    /** A model download that receives no data for this long is stopped with its runner (DOWNLOAD_STALL_SECONDS). */
    downloadStallSeconds: number;
    /** A runner that answers no heartbeat for this long is killed and restarted (RUNNER_HEARTBEAT_TIMEOUT_SECONDS, runnerLiveness.ts). */
    heartbeatTimeoutSeconds: number;
    /** A generation that makes no progress for this long gets its runner killed and restarted (GENERATION_STEP_TIMEOUT_SECONDS). */
    stepTimeoutSeconds: number;
    /** LOG_PROMPTS: log what the runner writes on stdout/stderr as it is (it may quote client text). */
    logPrompts: boolean;
    /** The runner's module; default runnerMain beside this file (see WorkerOptions.runnerEntry). */
    entry?: string;
    hooks?: {
        onCache?(event: CacheEvent): void;
        onStateDiscarded?(reason: StateDiscardReason): void;
        onRunnerCrash?(cause: string): void;
        onBatch?(tokens: number, sequences: number, count?: number): void;
    };
}

const GIB = 1024 ** 3;
/** A runner that asked for no estimate yet (reading the file's header) gets this much memory. */
const HEADER_MEMORY_LIMIT = 2 * GIB;
const STOP_GRACE_MS = 10_000;
const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * The embedded engine, run in a supervised child process (runnerMain.ts): the HTTP process keeps
 * answering whatever llama.cpp does. Calls and generations are proxied over IPC; what the
 * scheduler needs at once (the runner's last report of its status and model facts, what each
 * sequence holds for sequence affinity) is kept here as the runner sent it.
 *
 * It reports facts and decides nothing: its status is the runner's report (loading while one is
 * being started, unloaded with none); a runner that exits unasked fails the requests it was
 * running with a 503 and is reported to `onExit` listeners, worded by crashReport.ts. Whether and
 * when to start another is ModelLifecycle's decision. Unloading ends the process, the sure way to
 * give back GPU memory.
 */
export class RunnerEngine implements Engine {
    readonly sequences: number;
    readonly contextSize: number;
    private runner: RunnerProcess | null = null;
    /** The runner's last report; its status is set to unloaded when the runner ends, its model facts are kept. */
    private reported: RunnerState | null = null;
    private sequenceViews: SequenceView[] = [];
    /** The runner's last memory measurement and when it arrived: /health never waits on the runner. */
    private memorySnapshot: {report: MemoryReport; at: number} | null = null;
    private readonly calls = new Map<number, {resolve(value: unknown): void; reject(err: unknown): void}>();
    private readonly generations = new Map<number, GenerationChannel>();
    private readonly exitListeners: Array<(exit: EngineExit) => void> = [];
    private nextId = 1;
    private loading: Promise<void> | null = null;
    /** The runner is being stopped (unload): it holds no model to hand out. */
    private stopping = false;
    private closed = false;
    private lastBackend: string | null = null;

    constructor(private readonly options: RunnerEngineOptions, private readonly logger: EngineLogger) {
        this.sequences = options.settings.kind === "embedding" ? 1 : options.settings.parallel;
        this.contextSize = options.settings.contextSize;
    }

    /** The runner process's id, or null while none runs (unloaded, crashed, failed to start). */
    get runnerPid(): number | null {
        return this.runner?.pid ?? null;
    }

    status(): EngineStatus {
        const reported = this.runner != null && !this.stopping ? this.reported?.status : undefined;
        // A runner being started, or one whose last report predates the load it was asked for
        // (a runner kept after a failed download says failed until it reports again).
        if (this.loading != null && reported?.state !== "loading")
            return {state: "loading", reason: null, loadProgress: 0, code: null};
        return reported != null ? {...reported} : unloadedStatus();
    }

    onExit(listener: (exit: EngineExit) => void): void {
        this.exitListeners.push(listener);
    }

    info(): ModelInfo {
        return this.reported?.info ?? infoBeforeReport(this.options.settings);
    }

    /** Tokens a text needs at least (its characters over the longest token's), with no tokenizing; 0 before a load. */
    lowerBoundTokens(text: string): number {
        const longest = this.reported?.maxTokenChars;
        return longest != null && longest > 0 ? Math.ceil(text.length / longest) : 0;
    }

    load(): Promise<void> {
        if (this.closed || this.status().state === "ready") return Promise.resolve();
        this.loading ??= this.startAndLoad().finally(() => {
            this.loading = null;
        });
        return this.loading;
    }

    async whenSettled(): Promise<void> {
        while (this.loading != null) await this.loading;
    }

    private async startAndLoad(): Promise<void> {
        let runner: RunnerProcess;
        try {
            runner = this.runner ?? await this.startRunner();
        } catch (err) {
            if (!this.closed) this.reportExit(startFailure((err as Error).message));
            return;
        }
        if (this.closed) {
            runner.kill("shutdown");
            return;
        }
        runner.watchMemory(() => this.loadMemoryLimit(), (used, limit) =>
            this.logger.error({usedBytes: used, limitBytes: limit}, "the model runner outgrew its memory while loading; killed"));
        try {
            if (!await this.fetchModel(runner)) return;
            const timer = setTimeout(() => runner.kill("load_timeout"), this.options.loadTimeoutSeconds * 1000);
            timer.unref();
            // The runner reports its own state (ready, or failed with a reason) before it answers; a
            // runner that died was reported by runnerExited.
            await this.call("load", []).catch(() => undefined).finally(() => clearTimeout(timer));
        } finally {
            runner.stopWatchingMemory();
        }
    }

    /**
     * Lets the runner find (or download) the model's files; true when they are there. A download
     * that receives no data for DOWNLOAD_STALL_SECONDS ends the runner: a connection that hangs
     * cannot be stopped from inside, and a new runner resumes the partial file.
     */
    private async fetchModel(runner: RunnerProcess): Promise<boolean> {
        const stallMs = this.options.downloadStallSeconds * 1000;
        let lastBytes = -1;
        let lastChange = Date.now();
        const watchdog = setInterval(() => {
            const download = this.status().download;
            if (download == null) return;
            if (download.doneBytes !== lastBytes) {
                lastBytes = download.doneBytes;
                lastChange = Date.now();
            } else if (Date.now() - lastChange > stallMs) {
                this.logger.error({downloadedBytes: download.doneBytes, totalBytes: download.totalBytes, stallSeconds: this.options.downloadStallSeconds},
                    "the model download received no data; stopping it (the partial file is kept)");
                runner.kill("download_stalled");
            }
        }, Math.min(250, stallMs / 4));
        watchdog.unref();
        try {
            await this.call("fetchModel", []);
        } catch {
            // A runner that died was reported (runnerExited); one that failed says why in its status.
            return false;
        } finally {
            clearInterval(watchdog);
        }
        // The runner reported its status before it answered: still loading means the files are there.
        return this.runner === runner && this.reported?.status.state === "loading";
    }

    /** While loading: the memory check's estimate with headroom, or a header-sized limit before it ran. */
    private loadMemoryLimit(): number | null {
        const expected = this.reported?.expectedRamBytes;
        return expected != null ? Math.max(HEADER_MEMORY_LIMIT, expected * 1.5 + GIB) : HEADER_MEMORY_LIMIT;
    }

    private async startRunner(): Promise<RunnerProcess> {
        const runner = await RunnerProcess.start(this.options.env, this.logger, this.options.logPrompts, {
            onMessage: (message) => this.receive(message),
            onExit: (exited, exit) => this.runnerExited(exited, exit)
        }, this.options.entry);
        this.runner = runner;
        runner.send({type: "init", settings: this.options.settings});
        const {heartbeatTimeoutSeconds, stepTimeoutSeconds} = this.options;
        runner.watchLiveness({
            intervalMs: HEARTBEAT_INTERVAL_MS, timeoutMs: heartbeatTimeoutSeconds * 1000, stepTimeoutMs: stepTimeoutSeconds * 1000,
            paused: () => this.loading != null
        }, (verdict, facts) => this.logger.error({verdict, stalledSeconds: facts.stalledMs != null ? Math.round(facts.stalledMs) / 1000 : null,
            heartbeatTimeoutSeconds, stepTimeoutSeconds}, LIVENESS_KILLS[verdict]));
        return runner;
    }

    private receive(message: RunnerMessage): void {
        switch (message.type) {
            case "memory":
                this.memorySnapshot = {report: message.report, at: performance.now()};
                break;
            case "state":
                this.reported = message.state;
                if (message.state.info.gpu != null) this.lastBackend = message.state.info.gpu;
                break;
            case "result":
                this.settleCall(message.id, (call) => call.resolve(message.value));
                break;
            case "error":
                this.settleCall(message.id, (call) => call.reject(fromWire(message.error)));
                break;
            case "events":
                for (const {id, event} of message.events) this.generations.get(id)?.push(event);
                break;
            case "generateError":
                this.generations.get(message.id)?.fail(fromWire(message.error));
                break;
            case "sequence":
                this.sequenceViews[message.view.sequence] = message.view;
                break;
            case "cache":
                this.options.hooks?.onCache?.(message.event);
                break;
            case "discard":
                this.options.hooks?.onStateDiscarded?.(message.reason);
                break;
            case "batches":
                for (const [tokens, sequences, count] of message.batches) this.options.hooks?.onBatch?.(tokens, sequences, count);
                break;
            case "log":
                this.logger[message.level](message.details, message.message);
                break;
            default:
                break;
        }
    }

    private settleCall(id: number, settle: (call: {resolve(value: unknown): void; reject(err: unknown): void}) => void): void {
        const call = this.calls.get(id);
        if (call == null) return;
        this.calls.delete(id);
        settle(call);
    }

    private runnerExited(runner: RunnerProcess, exit: RunnerExit): void {
        if (this.runner !== runner) return;
        this.runner = null;
        this.sequenceViews = [];
        this.memorySnapshot = null;
        if (this.reported != null) this.reported = {...this.reported, status: unloadedStatus()};
        const crash = this.closed ? null : crashReport(exit, this.loading != null, this.options.loadTimeoutSeconds);
        if (crash != null) {
            this.options.hooks?.onRunnerCrash?.(crash.cause);
            this.logger.error({cause: crash.cause, code: exit.code, signal: exit.signal}, crash.reason);
            // Before the rejections below: the lifecycle knows why before an interrupted load settles.
            this.reportExit(crash);
        }
        const failure = new WorkerError("unavailable", "runner_crashed", crash?.reason ?? "the model runner stopped", {retryAfterSeconds: 5});
        for (const call of this.calls.values()) call.reject(failure);
        this.calls.clear();
        for (const channel of this.generations.values()) channel.fail(failure);
    }

    private reportExit(exit: EngineExit): void {
        for (const listener of this.exitListeners) listener(exit);
    }

    private call<M extends RunnerCall>(method: M, args: RunnerCalls[M]["args"]): Promise<RunnerCalls[M]["result"]> {
        const runner = this.runner;
        if (runner == null)
            return Promise.reject(new ModelNotReadyError(this.status().state, this.status().reason));
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            this.calls.set(id, {resolve: resolve as (value: unknown) => void, reject});
            if (!runner.send({type: "call", id, method, args})) {
                this.calls.delete(id);
                reject(new ModelNotReadyError(this.status().state, this.status().reason));
            }
        });
    }

    private requireReady(): void {
        const status = this.status();
        if (status.state !== "ready" || this.runner == null)
            throw new ModelNotReadyError(status.state, status.reason);
    }

    /** A call on the prompt's path, which needs the model loaded. */
    private async ready<M extends RunnerCall>(method: M, ...args: RunnerCalls[M]["args"]): Promise<RunnerCalls[M]["result"]> {
        this.requireReady();
        return await this.call(method, args);
    }

    render(messages: ChatMessage[], tools: ToolSet | null = null): Promise<RenderedPrompt> {
        return this.ready("render", messages, tools);
    }

    renderRaw(text: string): Promise<RenderedPrompt> {
        return this.ready("renderRaw", text);
    }

    /** Fits the prompt in the runner, where the tokens are: one call, and no token array crosses (LlamaEngine.prepare). */
    prepare(input: ChatInput | RawInput, maxTokens: number, tools: ToolSet | null): Promise<PreparedPrompt> {
        return this.ready("prepare", input, maxTokens, tools);
    }

    countTokens(text: string): Promise<number> {
        return this.ready("countTokens", text);
    }

    /** The id of a special token such as "<|im_start|>", or null if the model has none (tests check tokenizing with it). */
    specialTokenId(text: string): Promise<number | null> {
        return this.ready("specialTokenId", text);
    }

    /** The tokens the runner keeps for a prompt it rendered (tests check what the model evaluates); null when they are gone. */
    async promptTokens(prompt: RenderedPrompt): Promise<number[] | null> {
        return prompt.key != null ? await this.ready("promptTokens", prompt.key) : null;
    }

    /** An embedding model's runner only: every group in one call (EmbeddingBatcher gathers them). */
    embed(groups: EmbeddingInput[][]): Promise<EmbeddingOutcome[]> {
        return this.ready("embed", groups);
    }

    pickSequence(free: readonly number[], {prompt, conversationId}: SequenceHint): number {
        const views = free.map((sequence): SequenceView => this.sequenceViews[sequence] ?? {sequence, held: prefixDigest([]), conversationId: null, lastUsed: 0});
        return pickSequence(views, prompt?.prefix ?? null, conversationId, this.sequences);
    }

    async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent> {
        this.requireReady();
        const id = this.nextId++;
        const channel = new GenerationChannel();
        this.generations.set(id, channel);
        try {
            yield* channel.run(this.runner!, id, request);
        } finally {
            this.generations.delete(id);
        }
    }

    /** The runner's last measurement (taken after each heartbeat), with its age: never a call that a stuck runner could hold. */
    async memory(): Promise<MemoryReport> {
        const snapshot = this.memorySnapshot;
        if (this.runner != null && snapshot != null && this.status().state !== "failed")
            return {...snapshot.report, ageSeconds: Math.round(performance.now() - snapshot.at) / 1000};
        return idleMemory(this.lastBackend);
    }

    /**
     * Ends the runner process (the model and every GPU allocation with it); the next load starts a
     * new one. A download in progress is not waited for: the runner stops it and keeps the partial
     * file, which the next load resumes.
     */
    async unload(): Promise<void> {
        if (this.status().download == null)
            await this.whenSettled();
        const runner = this.runner;
        this.sequenceViews = [];
        if (runner != null) {
            this.stopping = true;
            try {
                await runner.stop(STOP_GRACE_MS);
            } finally {
                this.stopping = false;
            }
            this.logger.info({}, "model runner stopped");
        }
        await this.whenSettled();
    }

    async close(): Promise<void> {
        this.closed = true;
        // A load cannot be interrupted inside llama.cpp, but its process can: waiting for it would
        // hold a shutdown up to LOAD_TIMEOUT_SECONDS (a corrupt model may spin that long).
        if (this.loading != null) this.runner?.kill("shutdown");
        await this.unload();
    }

    /** Kills the runner at once (shutdown past its deadline). */
    kill(): void {
        this.closed = true;
        this.runner?.kill("shutdown");
    }
}
