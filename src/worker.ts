import fs from "node:fs";
import type {FastifyInstance} from "fastify";
import type {Logger} from "pino";
import type {Config} from "./config/config.js";
import {LlamaEngine} from "./engine/llama/llamaEngine.js";
import {Scheduler} from "./scheduler/scheduler.js";
import {ChatService} from "./service/chatService.js";
import {buildApp} from "./http/app.js";
import {writeSyntheticModel} from "./testmodel/syntheticModel.js";

export interface Worker {
    config: Config;
    engine: LlamaEngine;
    scheduler: Scheduler;
    chat: ChatService;
    app: FastifyInstance;
}

/**
 * Wires config -> engine -> scheduler -> service -> http. The model loads in the background, so
 * the HTTP server can answer (503 "loading") while it does; await `engine.whenSettled()` to wait.
 */
export async function createWorker(config: Config, logger: Logger): Promise<Worker> {
    if (config.modelIsBuiltin && !fs.existsSync(config.modelPath)) {
        logger.info({modelPath: config.modelPath}, "creating the built-in synthetic test model");
        await writeSyntheticModel({preset: "tiny", out: config.modelPath});
    }
    const engine = new LlamaEngine(config, logger.child({component: "engine"}));
    const scheduler = new Scheduler(engine.slots, config.maxQueue,
        (free, hint) => engine.pickSlot(free, hint.prompt, hint.conversationId));
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
