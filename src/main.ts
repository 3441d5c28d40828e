import pino from "pino";
import {loadConfig} from "./config/config.js";
import {ConfigError} from "./errors.js";
import {SchedulerClosedError} from "./errors.js";
import {createWorker, stopWorker} from "./worker.js";

/** After the shutdown grace, how long freeing the model and closing the server may take before the process kills the runner and exits. */
const SHUTDOWN_MARGIN_SECONDS = 15;

/** The URL a browser on this machine opens: a wildcard address is reached as localhost. */
function browsableUrl(host: string, port: number): string {
    const name = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
    return `http://${name}:${port}/`;
}

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
        worker = await createWorker(config, logger, {progressStream: process.stderr.isTTY ? process.stderr : null});
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
        await worker.models.close();
        process.exit(1);
    }
    const address = worker.app.server.address();
    const port = typeof address === "object" && address != null ? address.port : config.port;
    // A machine-readable line with the bound port (PORT=0 picks a free one).
    logger.info({host: config.host, port}, "listening");
    // And one for people, on stderr so that stdout stays one JSON record per line.
    process.stderr.write(`chat-worker: listening; open ${browsableUrl(config.host, port)} for the playground (Ctrl-C or SIGTERM stops it)\n`);

    let stopping = false;
    const stop = (signal: string) => {
        if (stopping) {
            // A second signal: stop waiting for running generations.
            logger.warn({signal}, "second signal: aborting running generations now");
            worker.models.abortAll(new SchedulerClosedError());
            return;
        }
        stopping = true;
        logger.info({signal, graceSeconds: config.shutdownGraceSeconds, running: worker.models.running}, "shutting down");
        // A hard deadline: generations get the grace, then stopping may take a bounded while more;
        // past it the model runner (llama.cpp may be stuck in a native call) is killed.
        const deadline = setTimeout(() => {
            logger.error({deadlineSeconds: config.shutdownGraceSeconds + SHUTDOWN_MARGIN_SECONDS},
                "shutdown deadline passed; killing the model runner and exiting");
            worker.killEngine();
            process.exit(1);
        }, (config.shutdownGraceSeconds + SHUTDOWN_MARGIN_SECONDS) * 1000);
        deadline.unref();
        stopWorker(worker).then(({aborted}) => {
            logger.info({aborted}, "shutdown complete");
            process.exit(0);
        }, (err: unknown) => {
            logger.error({err}, "shutdown failed");
            process.exit(1);
        });
    };
    // SIGHUP (a closed terminal, some supervisors) and SIGUSR2 (nodemon and others restart with it)
    // would end the process at once by default: they drain like SIGTERM.
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR2"] as const)
        process.on(signal, () => stop(signal));
}

void main();
