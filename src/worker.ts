import fs from "node:fs";
import type {FastifyInstance} from "fastify";
import type {Logger} from "pino";
import type {Config} from "./config/config.js";
import type {Engine} from "./engine/types.js";
import {LlamaEngine} from "./engine/llama/llamaEngine.js";
import {UpstreamEngine} from "./engine/upstream/upstreamEngine.js";
import {Scheduler} from "./scheduler/scheduler.js";
import {ChatService} from "./service/chatService.js";
import {buildApp} from "./http/app.js";
import {writeSyntheticModel} from "./testmodel/syntheticModel.js";

export interface Worker<E extends Engine = Engine> {
    config: Config;
    engine: E;
    scheduler: Scheduler;
    chat: ChatService;
    app: FastifyInstance;
}

/** ENGINE=embedded runs the GGUF in-process; ENGINE=openai forwards to an OpenAI-compatible upstream. */
async function createEngine(config: Config, logger: Logger): Promise<Engine> {
    const engineLogger = logger.child({component: "engine"});
    if (config.engine === "openai")
        return new UpstreamEngine(config, engineLogger);
    if (config.modelIsBuiltin && !fs.existsSync(config.modelPath)) {
        logger.info({modelPath: config.modelPath}, "creating the built-in synthetic test model");
        await writeSyntheticModel({preset: "tiny", out: config.modelPath});
    }
    return new LlamaEngine(config, engineLogger);
}

/**
 * Wires config -> engine -> scheduler -> service -> http. The model loads in the background (or the
 * upstream is probed), so the HTTP server can answer (503 "loading") meanwhile; await
 * `engine.whenSettled()` to wait.
 */
export async function createWorker(config: Config, logger: Logger): Promise<Worker> {
    const engine = await createEngine(config, logger);
    const scheduler = new Scheduler(engine.slots, config.maxQueue);
    const chat = new ChatService(engine, scheduler, {requestTimeoutSeconds: config.requestTimeoutSeconds});
    const app = await buildApp({config, chat, loggerInstance: logger});
    void engine.load();
    return {config, engine, scheduler, chat, app};
}

/** Stops taking requests, lets running generations finish, then frees the model. */
export async function stopWorker(worker: Worker): Promise<void> {
    worker.scheduler.close();
    await worker.app.close();
    await worker.scheduler.whenIdle();
    await worker.engine.close();
}
