import type {FastifyInstance} from "fastify";
import {buildApp} from "../../src/http/app.js";
import {loadConfig} from "../../src/config/config.js";
import {ChatService} from "../../src/service/chatService.js";
import {EnhanceService} from "../../src/service/enhanceService.js";
import {loadEnhanceTemplates} from "../../src/service/enhanceTemplates.js";
import {GpuUtilization} from "../../src/service/gpuUtilization.js";
import {WorkerMetrics} from "../../src/service/metrics.js";
import {ModelLifecycle} from "../../src/service/modelLifecycle.js";
import {ModelPool} from "../../src/service/modelPool.js";
import {WorkerStatus} from "../../src/service/workerStatus.js";
import {Scheduler} from "../../src/scheduler/scheduler.js";
import type {GenerateRequest} from "../../src/engine/types.js";
import {FakeEngine, streams} from "./fakeEngine.js";

/**
 * The whole HTTP app (buildApp, with its schemas, hooks and each API's error handler) over a
 * scripted engine, for route tests driven by `app.inject`: no model, no process, no socket.
 * `requests` records what each generation was asked for.
 */
export async function fakeApp(pieces: string[] = ["Hel", "lo"], env: Record<string, string> = {}): Promise<{
    app: FastifyInstance; engine: FakeEngine; requests: GenerateRequest[];
}> {
    const requests: GenerateRequest[] = [];
    const script = streams(pieces);
    const engine = new FakeEngine((request) => {
        requests.push(request);
        return script(request);
    });
    const config = loadConfig(env);
    const quiet = {info: () => undefined, warn: () => undefined};
    const models = new ModelPool([{key: null, engine, scheduler: new Scheduler(engine.sequences, 4), lifecycle: new ModelLifecycle(engine, {idleUnloadSeconds: 0}, quiet)}]);
    const metrics = new WorkerMetrics({queueDepth: () => models.queued, runningSequences: () => models.running, modelsLoaded: () => []});
    const chat = new ChatService(models, {requestTimeoutSeconds: 0, metrics});
    const enhance = new EnhanceService(chat, loadEnhanceTemplates(null));
    // A GPU reading would spawn nvidia-smi; `false` answers at once with nothing.
    const status = new WorkerStatus(models, new GpuUtilization("false"), metrics);
    const app = await buildApp({config, chat, enhance, ops: {status, models, metrics}, logger: false});
    return {app, engine, requests};
}
