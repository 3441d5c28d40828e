import os from "node:os";
import {ModelNotReadyError, WorkerError} from "../../errors.js";
import type {
    CacheEvent, ChatInput, ChatMessage, Engine, EngineLogger, EngineStatus, GenerateRequest, GenerationEvent, MemoryReport, ModelInfo,
    PreparedPrompt, RawInput, RenderedPrompt, SlotHint, ToolSet
} from "../types.js";
import {pickSlot, prefixDigest, type SlotView} from "../llama/slotAffinity.js";
import type {StateDiscardReason} from "../llama/stateStore.js";
import {modelDisplayName} from "../../config/modelSource.js";
import type {RunnerCall, RunnerCalls, RunnerMessage, RunnerSettings, RunnerState} from "./protocol.js";
import {RunnerProcess, type RunnerExit} from "./runnerProcess.js";
import {fromWire} from "./wireErrors.js";
import {GenerationChannel} from "./generationChannel.js";
import {crashStatus, RestartBackoff} from "./crashPolicy.js";

export interface RunnerEngineOptions {
    settings: RunnerSettings;
    /** Environment of the runner process (UV_THREADPOOL_SIZE set for it). */
    env: NodeJS.ProcessEnv;
    /** A load that has not settled after this long is killed and reported (a download before it does not count). */
    loadTimeoutSeconds: number;
    /** A model download that receives no data for this long is stopped with its runner (DOWNLOAD_STALL_SECONDS). */
    downloadStallSeconds: number;
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

/**
 * The embedded engine, run in a supervised child process (runnerMain.ts): the HTTP process keeps
 * answering whatever llama.cpp does. Calls and generations are proxied over IPC; the state the
 * scheduler needs at once (status, model facts, what each sequence holds for slot affinity) is
 * mirrored here. A runner that dies fails the requests it was running with a 503 and is started
 * again with backoff; one that dies while loading reports why; unloading ends the process, the sure
 * way to give back GPU memory.
 */
export class RunnerEngine implements Engine {
    readonly slots: number;
    readonly contextSize: number;
    private runner: RunnerProcess | null = null;
    private mirror: RunnerState | null = null;
    private own: EngineStatus | null = {state: "unloaded", reason: null, loadProgress: null, code: null};
    private slotViews: SlotView[] = [];
    private readonly calls = new Map<number, {resolve(value: unknown): void; reject(err: unknown): void}>();
    private readonly generations = new Map<number, GenerationChannel>();
    private nextId = 1;
    private loading: Promise<void> | null = null;
    private closed = false;
    private lastBackend: string | null = null;
    private readonly backoff = new RestartBackoff();

    constructor(private readonly options: RunnerEngineOptions, private readonly logger: EngineLogger) {
        this.slots = options.settings.parallel;
        this.contextSize = options.settings.contextSize;
    }

    /** The runner process's id, or null while none runs (unloaded, crashed, failed to start). */
    get runnerPid(): number | null {
        return this.runner?.pid ?? null;
    }

    status(): EngineStatus {
        return {...(this.own ?? this.mirror?.status ?? {state: "unloaded", reason: null, loadProgress: null, code: null})};
    }

    info(): ModelInfo {
        const settings = this.options.settings;
        return this.mirror?.info ?? {
            engine: "embedded", modelName: settings.modelName ?? modelDisplayName(settings.model),
            modelPath: settings.model.kind === "file" ? settings.model.path : null,
            architecture: null, parameterCount: null, fileSizeBytes: null, weightsBytes: null, quantization: null,
            trainedContextSize: null, contextSize: this.contextSize, parallel: this.slots, threads: null, gpu: null, gpuLayers: null,
            chatTemplate: null, modelType: null, nodeLlamaCppVersion: null, llamaCppRelease: null, loadTimeSeconds: null, deterministic: null
        };
    }

    /** Tokens a text needs at least (its characters over the longest token's), with no tokenizing; 0 before a load. */
    lowerBoundTokens(text: string): number {
        const longest = this.mirror?.maxTokenChars;
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
        this.own = {state: "loading", reason: null, loadProgress: 0, code: null};
        let runner: RunnerProcess;
        try {
            runner = this.runner ?? await this.startRunner();
        } catch (err) {
            this.own = {state: "failed", reason: `the model runner could not start: ${(err as Error).message}`, loadProgress: null, code: "backend_unavailable"};
            return;
        }
        if (this.closed) {
            runner.kill("shutdown");
            return;
        }
        runner.watchMemory(() => this.loadMemoryLimit(), (used, limit) =>
            this.logger.error({usedBytes: used, limitBytes: limit}, "the model runner outgrew its memory while loading; killed"));
        if (!await this.fetchModel(runner)) {
            runner.stopWatchingMemory();
            return;
        }
        const timer = setTimeout(() => runner.kill("load_timeout"), this.options.loadTimeoutSeconds * 1000);
        timer.unref();
        try {
            // The runner reports its own state (ready, or failed with a reason) before it answers.
            await this.call("load", []);
            this.own = null;
        } catch (err) {
            // A crash during the load set `own` already (onExit); anything else is the runner's answer.
            if (this.own?.state === "loading")
                this.own = {state: "failed", reason: (err as Error).message, loadProgress: null, code: "load_failed"};
        } finally {
            clearTimeout(timer);
            runner.stopWatchingMemory();
        }
        if (this.status().state === "ready")
            this.backoff.loaded();
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
            const download = this.own?.download;
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
        } catch (err) {
            // A runner that died has set `own` already (runnerExited); anything else is the runner's answer.
            if (this.own?.state === "loading")
                this.own = {state: "failed", reason: (err as Error).message, loadProgress: null, code: "load_failed"};
            return false;
        } finally {
            clearInterval(watchdog);
        }
        if (this.mirror?.status.state === "failed" && this.own?.state === "loading") {
            // The runner's status (reported before it answered) says why.
            this.own = null;
            return false;
        }
        return this.own?.state === "loading";
    }

    /** While loading: the memory check's estimate with headroom, or a header-sized limit before it ran. */
    private loadMemoryLimit(): number | null {
        const expected = this.mirror?.expectedRamBytes;
        return expected != null ? Math.max(HEADER_MEMORY_LIMIT, expected * 1.5 + GIB) : HEADER_MEMORY_LIMIT;
    }

    private async startRunner(): Promise<RunnerProcess> {
        const runner = await RunnerProcess.start(this.options.env, this.logger, this.options.logPrompts, {
            onMessage: (message) => this.receive(message),
            onExit: (exit) => this.runnerExited(runner, exit)
        }, this.options.entry);
        this.runner = runner;
        runner.send({type: "init", settings: this.options.settings});
        return runner;
    }

    private receive(message: RunnerMessage): void {
        switch (message.type) {
            case "state":
                this.mirror = message.state;
                if (message.state.info.gpu != null) this.lastBackend = message.state.info.gpu;
                if (this.own?.state === "loading" && message.state.status.state === "loading")
                    this.own = {...this.own, loadProgress: message.state.status.loadProgress, download: message.state.status.download ?? null};
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
            case "slot":
                this.slotViews[message.view.slot] = message.view;
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
        this.slotViews = [];
        const wasReady = this.mirror?.status.state === "ready" && this.own == null;
        this.mirror = this.mirror != null ? {...this.mirror, status: {state: "unloaded", reason: null, loadProgress: null, code: null}} : null;
        const crash = crashStatus(exit, this.own?.state === "loading", this.options.loadTimeoutSeconds);
        const failure = new WorkerError("unavailable", "runner_crashed",
            crash?.reason ?? "the model runner stopped", {retryAfterSeconds: 5});
        for (const call of this.calls.values()) call.reject(failure);
        this.calls.clear();
        for (const channel of this.generations.values()) channel.fail(failure);
        if (crash == null || this.closed)
            return;
        this.options.hooks?.onRunnerCrash?.(crash.cause);
        this.logger.error({cause: crash.cause, code: exit.code, signal: exit.signal}, crash.reason);
        if (!wasReady) {
            // Crashed while loading: the reason stands until the next load is asked for.
            this.own = {state: "failed", reason: crash.reason, loadProgress: null, code: crash.code};
            return;
        }
        // Crashed while serving: requests arriving meanwhile wait for the new runner.
        const delay = this.backoff.next();
        this.own = {state: "loading", reason: `${crash.reason}; starting a new runner in ${delay} s`, loadProgress: null, code: "runner_restarting"};
        this.loading ??= new Promise<void>((resolve) => setTimeout(resolve, delay * 1000).unref())
            .then(() => this.closed ? undefined : this.startAndLoad())
            .finally(() => {
                this.loading = null;
            });
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

    pickSlot(free: readonly number[], {prompt, conversationId}: SlotHint): number {
        const views = free.map((slot): SlotView => this.slotViews[slot] ?? {slot, held: prefixDigest([]), conversationId: null, lastUsed: 0});
        return pickSlot(views, prompt?.prefix ?? null, conversationId);
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

    async memory(): Promise<MemoryReport> {
        if (this.runner != null && this.status().state !== "failed")
            return await this.call("memory", []).catch(() => this.idleMemory());
        return this.idleMemory();
    }

    /** With no runner the model holds nothing; on the CPU the RAM figures are still known. */
    private idleMemory(): MemoryReport {
        if (this.lastBackend !== "cpu")
            return {deviceType: "unknown", device: null, deviceName: null, memoryKind: null, totalBytes: null, usedBytes: null, freeBytes: null, modelBytes: null};
        const total = os.totalmem();
        const free = os.freemem();
        return {deviceType: "cpu", device: "cpu", deviceName: null, memoryKind: "ram", totalBytes: total, usedBytes: total - free, freeBytes: free, modelBytes: 0};
    }

    /**
     * Ends the runner process (the model and every GPU allocation with it); the next load starts a
     * new one. A download in progress is not waited for: the runner stops it and keeps the partial
     * file, which the next load resumes.
     */
    async unload(): Promise<void> {
        if (this.own?.download == null)
            await this.whenSettled().catch(() => undefined);
        const runner = this.runner;
        this.own = {state: "unloaded", reason: null, loadProgress: null, code: null};
        this.slotViews = [];
        if (runner != null) {
            await runner.stop(STOP_GRACE_MS);
            this.logger.info({}, "model runner stopped");
        }
        await this.whenSettled().catch(() => undefined);
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
