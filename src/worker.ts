import fs from "node:fs";
import type {FastifyInstance} from "fastify";
import type {Logger} from "pino";
import type {Config} from "./config/config.js";
import {LlamaEngine} from "./engine/llama/llamaEngine.js";
import {Scheduler} from "./scheduler/scheduler.js";
import {ChatService} from "./service/chatService.js";
import {EnhanceService} from "./service/enhanceService.js";
import {loadEnhanceTemplates} from "./service/enhanceTemplates.js";
import {buildApp} from "./http/app.js";
import {writeSyntheticModel} from "./testmodel/syntheticModel.js";

export interface Worker {
    config: Config;
    engine: LlamaEngine;
    scheduler: Scheduler;
    chat: ChatService;
    enhance: EnhanceService;
    app: FastifyInstance;
}

/**
 * Wires config -> engine -> scheduler -> service -> http. The model loads in the background, so
 * the HTTP server can answer (503 "loading") while it does; await `engine.whenSettled()` to wait.
 * Throws ConfigError when a setting that needs the file system (ENHANCE_TEMPLATES_DIR) is bad.
 */
export async function createWorker(config: Config, logger: Logger): Promise<Worker> {
    // First, before any model work: a bad operator template refuses to boot (ConfigError).
    const templates = loadEnhanceTemplates(config.enhanceTemplatesDir);
    if (config.modelIsBuiltin && !fs.existsSync(config.modelPath)) {
        logger.info({modelPath: config.modelPath}, "creating the built-in synthetic test model");
        await writeSyntheticModel({preset: "tiny", out: config.modelPath});
    }
    const engine = new LlamaEngine(config, logger.child({component: "engine"}));
    const scheduler = new Scheduler(engine.slots, config.maxQueue,
        (free, hint) => engine.pickSlot(free, hint.prompt, hint.conversationId));
    const chat = new ChatService(engine, scheduler, {requestTimeoutSeconds: config.requestTimeoutSeconds});
    const enhance = new EnhanceService(chat, templates);
    const app = await buildApp({config, chat, enhance, loggerInstance: logger});
    void engine.load();
    return {config, engine, scheduler, chat, enhance, app};
}

/** Stops taking requests, lets running generations finish, then frees the model. */
export async function stopWorker(worker: Worker): Promise<void> {
    worker.scheduler.close();
    await worker.app.close();
    await worker.scheduler.whenIdle();
    await worker.engine.close();
}
