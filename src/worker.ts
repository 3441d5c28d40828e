import type {FastifyInstance} from "fastify";
import type {Logger} from "pino";
import type {Config, ServedModelConfig} from "./config/config.js";
import {ensureModelsDir} from "./config/modelSource.js";
import type {Engine} from "./engine/types.js";
import {RunnerEngine, type RunnerEngineOptions} from "./engine/runner/runnerEngine.js";
import {runnerSettings, type RunnerSettings} from "./engine/runner/protocol.js";
import {UpstreamEngine} from "./engine/upstream/upstreamEngine.js";
import {Scheduler} from "./scheduler/scheduler.js";
import {SchedulerClosedError} from "./errors.js";
import {ChatService} from "./service/chatService.js";
import {EnhanceService} from "./service/enhanceService.js";
import {EmbeddingService} from "./service/embeddingService.js";
import {loadEnhanceTemplates} from "./service/enhanceTemplates.js";
import {loadSfwTerms} from "./service/sfwTerms.js";
import {ModelLifecycle} from "./service/modelLifecycle.js";
import {ModelPool, type ModelEntry} from "./service/modelPool.js";
import {WorkerMetrics} from "./service/metrics.js";
import {WorkerStatus} from "./service/workerStatus.js";
import {GpuUtilization} from "./service/gpuUtilization.js";
import {registerWorker, type RegistrationOutcome} from "./service/registration.js";
import {buildApp} from "./http/app.js";
import {showLoadProgress} from "./terminal/loadProgressBar.js";
import {ensureBuiltinModel} from "./testmodel/builtinModel.js";

export interface Worker<E extends Engine = Engine> {
    config: Config;
    /** Every served model (one unless MODELS names several). */
    models: ModelPool;
    /** The default model's engine, sequences and lifecycle (the only ones with a single model). */
    engine: E;
    scheduler: Scheduler;
    lifecycle: ModelLifecycle;
    metrics: WorkerMetrics;
    status: WorkerStatus;
    chat: ChatService;
    enhance: EnhanceService;
    embeddings: EmbeddingService;
    app: FastifyInstance;
    /** The registration run, once it started (after listening and the model being ready); null before or when off. */
    registration(): Promise<RegistrationOutcome> | null;
    /** Stops a registration still retrying (shutdown). */
    stopRegistration(): void;
    /** Kills the model runners at once (a shutdown past its deadline). */
    killEngine(): void;
}

export interface WorkerOptions {
    /** Where to draw the load progress bar (main.ts passes stderr when it is a terminal); none by default. */
    progressStream?: NodeJS.WriteStream | null;
    /**
     * Runs llama.cpp in this process, without a runner: only for the bench, which measures what
     * the process boundary costs per token. Nothing protects the HTTP process from llama.cpp then.
     */
    inProcessEngine?: boolean;
    /**
     * The runner's module, when not the one beside RunnerEngine: the test suite, running from
     * source, starts the compiled runner in dist/ (tsx's loader costs over a second per runner start).
     */
    runnerEntry?: string;
}

/**
 * ENGINE=openai forwards to an upstream; ENGINE=embedded runs each GGUF in a supervised runner
 * process of its own (llama.cpp may abort, spin or grow; the HTTP process must keep answering).
 */
async function createEngine(
    config: Config, model: ServedModelConfig, logger: Logger, hooks: RunnerEngineOptions["hooks"], options: WorkerOptions
): Promise<Engine> {
    const engineLogger = logger.child({component: "engine", ...(model.name != null ? {model: model.name} : {})});
    if (config.engine === "openai")
        return new UpstreamEngine(config, engineLogger);
    const source = model.source;
    if (source.kind === "file" && source.builtin && await ensureBuiltinModel(source.path) === "created")
        logger.info({modelPath: source.path}, "created the built-in synthetic test model");
    if (source.kind === "reference")
        ensureModelsDir(config.modelsDir);
    const settings: RunnerSettings = {
        ...runnerSettings(config),
        model: source,
        kind: model.kind,
        modelName: model.name ?? config.modelName,
        // Models share the conversation cache folder (each writes under its own identity) and split its budget.
        conversationCacheMaxBytes: Math.floor(config.conversationCacheMaxBytes / config.models.length)
    };
    if (options.inProcessEngine === true && model.kind === "chat") {
        // Imported only here: the HTTP process never loads node-llama-cpp otherwise.
        const {LlamaEngine} = await import("./engine/llama/llamaEngine.js");
        return new LlamaEngine(settings, engineLogger, hooks);
    }
    return new RunnerEngine({
        settings, loadTimeoutSeconds: config.loadTimeoutSeconds, downloadStallSeconds: config.downloadStallSeconds,
        heartbeatTimeoutSeconds: config.runnerHeartbeatTimeoutSeconds, stepTimeoutSeconds: config.generationStepTimeoutSeconds,
        logPrompts: config.logPrompts, hooks, entry: options.runnerEntry,
        // llama.cpp evaluates on the runner's libuv pool: sized as bin/chat-worker.cjs sizes ours.
        env: {...process.env, UV_THREADPOOL_SIZE: String(config.uvThreadpoolSize)}
    }, engineLogger);
}

/**
 * Wires config -> engine -> scheduler -> service -> http, once per served model up to the
 * service layer. The models load in the background (or the upstream is probed), so the HTTP
 * server can answer (/health "loading", /ready 503) meanwhile; await `engine.whenSettled()` to wait.
 * Throws ConfigError when a setting that needs the file system (ENHANCE_TEMPLATES_DIR, MODELS_DIR) or the
 * routes (AUTH_OPEN_ROUTES) is bad.
 */
export async function createWorker(config: Config, logger: Logger, options: WorkerOptions = {}): Promise<Worker> {
    // First, before any model work: a bad operator template refuses to boot (ConfigError).
    const templates = loadEnhanceTemplates(config.enhanceTemplatesDir);
    const sfwTerms = loadSfwTerms(config.enhanceTemplatesDir);
    const entries: ModelEntry[] = [];
    for (const model of config.models) {
        // `metrics` is created below; the engines only report once they generate.
        const engine = await createEngine(config, model, logger, {
            onCache: (event) => metrics.recordCache(event),
            onStateDiscarded: (reason) => metrics.cacheDiscards.inc({reason}),
            onRunnerCrash: (cause) => metrics.runnerCrashes.inc({cause}),
            onBatch: (tokens, sequences, count = 1) => metrics.recordBatches(tokens, sequences, count)
        }, options);
        // Conversation affinity, where the engine offers it: a request goes to the sequence holding its prefix.
        const scheduler = new Scheduler(engine.sequences, config.maxQueue, engine.pickSequence?.bind(engine));
        const lifecycle = new ModelLifecycle(engine, {idleUnloadSeconds: config.idleUnloadSeconds},
            logger.child({component: "lifecycle", ...(model.name != null ? {model: model.name} : {})}));
        entries.push({key: model.name, engine, scheduler, lifecycle, kind: model.kind, matryoshka: model.matryoshka});
    }
    const models = new ModelPool(entries);
    const {engine, scheduler, lifecycle} = models.default;
    const metrics = new WorkerMetrics({
        queueDepth: () => models.queued,
        runningSequences: () => models.running,
        modelsLoaded: () => models.all.map((served) => ({model: served.name, loaded: served.lifecycle.status().state === "ready"}))
    });
    const chat = new ChatService(models, {requestTimeoutSeconds: config.requestTimeoutSeconds, metrics, sfwTerms: sfwTerms.mask});
    const enhance = new EnhanceService(chat, templates);
    const embeddings = new EmbeddingService(models, {maxQueue: config.maxQueue, maxInputs: config.embeddingMaxInputs});
    const status = new WorkerStatus(models, new GpuUtilization(), metrics);
    const app = await buildApp({config, chat, enhance, embeddings, ops: {status, models, metrics}, loggerInstance: logger});

    for (const served of models.all) {
        served.lifecycle.onLoaded((settled) => {
            metrics.modelLoads.inc({result: settled.state === "ready" ? "ready" : "failed"});
            const seconds = served.engine.info().loadTimeSeconds;
            if (settled.state === "ready" && seconds != null) metrics.modelLoadSeconds.set({model: served.name}, seconds);
        });
        served.lifecycle.onUnload((cause) => metrics.modelUnloads.inc({cause}));
        const progressStream = options.progressStream;
        if (progressStream != null)
            served.lifecycle.onLoadStart(() => showLoadProgress(() => served.lifecycle.status(), progressStream, served.name));
    }

    // Register once the server listens and the model is ready (whichever comes last), in the background.
    const registrationStop = new AbortController();
    let registration: Promise<RegistrationOutcome> | null = null;
    const registrationConfig = config.registration;
    if (registrationConfig != null) {
        let listening = false;
        const maybeRegister = () => {
            if (registration != null || !listening || lifecycle.status().state !== "ready" || registrationStop.signal.aborted) return;
            registration = registerWorker(registrationConfig, logger.child({component: "registration"}), registrationStop.signal);
        };
        app.addHook("onListen", async () => {
            listening = true;
            maybeRegister();
        });
        lifecycle.onLoaded(maybeRegister);
    }

    if (config.modelLoading === "eager")
        for (const served of models.all) void served.lifecycle.load();
    return {
        config, models, engine, scheduler, lifecycle, metrics, status, chat, enhance, embeddings, app,
        registration: () => registration,
        stopRegistration: () => registrationStop.abort(),
        killEngine: () => models.kill()
    };
}

export interface StopResult {
    /** Generations aborted because they outlasted the grace period. */
    aborted: number;
}

/** How long aborted generations get to end at shutdown before their runner is killed (and then to write their error events). */
const ABORT_ANSWER_SECONDS = 5;

/**
 * Graceful stop: new requests get 503 at once (the server keeps listening so they get an answer,
 * not a refused connection), queued ones too; running generations may finish within
 * `graceSeconds`, then are aborted; then the server closes and the model is freed.
 */
export async function stopWorker(worker: Worker, graceSeconds = worker.config.shutdownGraceSeconds): Promise<StopResult> {
    worker.models.beginShutdown();
    worker.stopRegistration();
    let aborted = 0;
    if (!await worker.models.waitForNoHolds(graceSeconds)) {
        aborted = worker.models.abortAll(new SchedulerClosedError());
        // A runner answers an abort at its next step; one that does not is stuck (stopped, a wedged
        // step): killing it ends its generations with an error event, and the streams with it.
        if (!await worker.models.waitForNoHolds(ABORT_ANSWER_SECONDS)) {
            worker.killEngine();
            await worker.models.waitForNoHolds(ABORT_ANSWER_SECONDS);
        }
    }
    await worker.app.close();
    await worker.models.close();
    return {aborted};
}
