/**
 * The bench's reference point for the runner's cost: the same worker with llama.cpp in its own
 * process (WorkerOptions.inProcessEngine). Started like bin/chat-worker.cjs (UV_THREADPOOL_SIZE set
 * by the parent), stopped by SIGTERM. Not a way to run the worker: nothing shields it from llama.cpp.
 */
import pino from "pino";
import {loadConfig} from "../../src/config/config.js";
import {createWorker, stopWorker} from "../../src/worker.js";

const config = loadConfig(process.env);
const worker = await createWorker(config, pino({level: config.logLevel}), {inProcessEngine: true});
await worker.app.listen({port: config.port, host: config.host});
process.once("SIGTERM", () => {
    void stopWorker(worker, 0).then(() => process.exit(0));
});
