import pino from "pino";
import {ConfigError, loadConfig} from "./config/config.js";
import {createWorker, stopWorker} from "./worker.js";

/** Entry point: validate settings once, wire the worker, listen, and shut down cleanly on signals. */
async function main(): Promise<void> {
    let config;
    try {
        config = loadConfig(process.env);
    } catch (err) {
        if (err instanceof ConfigError) {
            process.stderr.write(`chat-worker: ${err.message}\n`);
            process.exit(2);
        }
        throw err;
    }
    const logger = pino({level: config.logLevel});
    if (process.env.UV_THREADPOOL_SIZE !== String(config.uvThreadpoolSize))
        logger.warn({expected: config.uvThreadpoolSize, actual: process.env.UV_THREADPOOL_SIZE ?? null},
            "UV_THREADPOOL_SIZE was not applied before the pool started; start the worker with `npm start` or bin/chat-worker.cjs");
    let worker;
    try {
        worker = await createWorker(config, logger);
    } catch (err) {
        if (err instanceof ConfigError) {
            process.stderr.write(`chat-worker: ${err.message}\n`);
            process.exit(2);
        }
        throw err;
    }
    try {
        await worker.app.listen({port: config.port, host: config.host});
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        process.stderr.write(code === "EADDRINUSE"
            ? `chat-worker: port ${config.port} on ${config.host} is already in use; set PORT to a free port\n`
            : `chat-worker: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`);
        await worker.engine.close();
        process.exit(1);
    }
    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({signal}, "shutting down");
        stopWorker(worker).then(() => process.exit(0), (err: unknown) => {
            logger.error({err}, "shutdown failed");
            process.exit(1);
        });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
}

void main();
