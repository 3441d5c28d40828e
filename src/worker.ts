import type {FastifyInstance} from "fastify";
import type {Logger} from "pino";
import type {Config} from "./config/config.js";
import type {Engine} from "./engine/types.js";
import {RunnerEngine, type RunnerEngineOptions} from "./engine/runner/runnerEngine.js";
import {runnerSettings} from "./engine/runner/protocol.js";
import {UpstreamEngine} from "./engine/upstream/upstreamEngine.js";
import {Scheduler} from "./scheduler/scheduler.js";
import {SchedulerClosedError} from "./errors.js";
import {ChatService} from "./service/chatService.js";
import {EnhanceService} from "./service/enhanceService.js";
import {loadEnhanceTemplates} from "./service/enhanceTemplates.js";
import {ModelLifecycle} from "./service/modelLifecycle.js";
import {WorkerMetrics} from "./service/metrics.js";
import {WorkerStatus} from "./service/workerStatus.js";
import {GpuUtilization} from "./service/gpuUtilization.js";
import {registerWorker, type RegistrationOutcome} from "./service/registration.js";
import {buildApp} from "./http/app.js";
import {showLoadProgress} from "./terminal/loadProgressBar.js";
import {ensureBuiltinModel} from "./testmodel/builtinModel.js";

export interface Worker<E extends Engine = Engine> {
    config: Config;
    engine: E;
    scheduler: Scheduler;
    lifecycle: ModelLifecycle;
    metrics: WorkerMetrics;
    status: WorkerStatus;
    chat: ChatService;
    enhance: EnhanceService;
    app: FastifyInstance;
    /** The registration run, once it started (after listening and the model being ready); null before or when off. */
    registration(): Promise<RegistrationOutcome> | null;
    /** Stops a registration still retrying (shutdown). */
    stopRegistration(): void;
    /** Kills the model runner at once, if the engine has one (a shutdown past its deadline). */
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
}

/**
 * ENGINE=openai forwards to an upstream; ENGINE=embedded runs the GGUF in a supervised runner
 * process (llama.cpp may abort, spin or grow; the HTTP process must keep answering).
 */
async function createEngine(config: Config, logger: Logger, hooks: RunnerEngineOptions["hooks"], inProcess: boolean): Promise<Engine> {
    const engineLogger = logger.child({component: "engine"});
    if (config.engine === "openai")
        return new UpstreamEngine(config, engineLogger);
    if (config.modelIsBuiltin && await ensureBuiltinModel(config.modelPath) === "created")
        logger.info({modelPath: config.modelPath}, "created the built-in synthetic test model");
    if (inProcess) {
        // Imported only here: the HTTP process never loads node-llama-cpp otherwise.
        const {LlamaEngine} = await import("./engine/llama/llamaEngine.js");
        return new LlamaEngine(runnerSettings(config), engineLogger, hooks);
    }
    return new RunnerEngine({
        settings: runnerSettings(config), loadTimeoutSeconds: config.loadTimeoutSeconds, logPrompts: config.logPrompts, hooks,
        // llama.cpp evaluates on the runner's libuv pool: sized as bin/chat-worker.cjs sizes ours.
        env: {...process.env, UV_THREADPOOL_SIZE: String(config.uvThreadpoolSize)}
    }, engineLogger);
}

/**
 * Wires config -> engine -> scheduler -> service -> http. The model loads in the background (or the
 * upstream is probed), so the HTTP server can answer (/health "loading", /ready 503) meanwhile;
 * await `engine.whenSettled()` to wait.
 * Throws ConfigError when a setting that needs the file system (ENHANCE_TEMPLATES_DIR) is bad.
 */
export async function createWorker(config: Config, logger: Logger, options: WorkerOptions = {}): Promise<Worker> {
    // First, before any model work: a bad operator template refuses to boot (ConfigError).
    const templates = loadEnhanceTemplates(config.enhanceTemplatesDir);
    // `metrics` is created below; the engine only reports once it generates.
    const engine = await createEngine(config, logger, {
        onCache: (event) => metrics.recordCache(event),
        onStateDiscarded: (reason) => metrics.cacheDiscards.inc({reason}),
        onRunnerCrash: (cause) => metrics.runnerCrashes.inc({cause})
    }, options.inProcessEngine === true);
    // Conversation affinity, where the engine offers it: a request goes to the sequence holding its prefix.
    const scheduler = new Scheduler(engine.slots, config.maxQueue, engine.pickSlot?.bind(engine));
    const lifecycle = new ModelLifecycle(engine, {idleUnloadSeconds: config.idleUnloadSeconds}, logger.child({component: "lifecycle"}));
    const metrics = new WorkerMetrics({
        queueDepth: () => scheduler.queued + lifecycle.waiting,
        runningSequences: () => scheduler.running,
        modelLoaded: () => engine.status().state === "ready"
    });
    const chat = new ChatService(engine, scheduler, {requestTimeoutSeconds: config.requestTimeoutSeconds, gate: lifecycle, metrics});
    const enhance = new EnhanceService(chat, templates);
    const status = new WorkerStatus(engine, scheduler, lifecycle, new GpuUtilization(), metrics);
    const app = await buildApp({config, chat, enhance, ops: {status, lifecycle, metrics}, loggerInstance: logger});

    lifecycle.onLoaded((settled) => {
        metrics.modelLoads.inc({result: settled.state === "ready" ? "ready" : "failed"});
        const seconds = engine.info().loadTimeSeconds;
        if (settled.state === "ready" && seconds != null) metrics.modelLoadSeconds.set(seconds);
    });
    lifecycle.onUnload((cause) => metrics.modelUnloads.inc({cause}));
    const progressStream = options.progressStream;
    if (progressStream != null)
        lifecycle.onLoadStart(() => showLoadProgress(() => engine.status(), progressStream, `loading ${config.modelPath}`));

    // Register once the server listens and the model is ready (whichever comes last), in the background.
    const registrationStop = new AbortController();
    let registration: Promise<RegistrationOutcome> | null = null;
    const registrationConfig = config.registration;
    if (registrationConfig != null) {
        let listening = false;
        const maybeRegister = () => {
            if (registration != null || !listening || engine.status().state !== "ready" || registrationStop.signal.aborted) return;
            registration = registerWorker(registrationConfig, logger.child({component: "registration"}), registrationStop.signal);
        };
        app.addHook("onListen", async () => {
            listening = true;
            maybeRegister();
        });
        lifecycle.onLoaded(maybeRegister);
    }

    void lifecycle.load();
    return {
        config, engine, scheduler, lifecycle, metrics, status, chat, enhance, app,
        registration: () => registration,
        stopRegistration: () => registrationStop.abort(),
        killEngine: () => engine.kill?.()
    };
}

export interface StopResult {
    /** Generations aborted because they outlasted the grace period. */
    aborted: number;
}

/**
 * Graceful stop: new requests get 503 at once (the server keeps listening so they get an answer,
 * not a refused connection), queued ones too; running generations may finish within
 * `graceSeconds`, then are aborted; then the server closes and the model is freed.
 */
export async function stopWorker(worker: Worker, graceSeconds = worker.config.shutdownGraceSeconds): Promise<StopResult> {
    worker.lifecycle.beginShutdown();
    worker.stopRegistration();
    worker.scheduler.close();
    let aborted = 0;
    if (!await worker.lifecycle.waitForNoHolds(graceSeconds)) {
        aborted = worker.lifecycle.abortAll(new SchedulerClosedError());
        await worker.lifecycle.waitForNoHolds(30);
    }
    await worker.app.close();
    await worker.scheduler.whenIdle();
    await worker.engine.close();
    return {aborted};
}
