import {spawn, type ChildProcess} from "node:child_process";
import net from "node:net";

export interface RunningServer {
    name: string;
    baseUrl: string;
    process: ChildProcess;
    stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

/** Polls `url` (GET) until it answers 200; fails at once, naming the exit code or signal, if the process ends first. */
export async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode != null || child.signalCode != null)
            throw new Error(`the process exited (${child.signalCode != null ? `signal ${child.signalCode}` : `code ${child.exitCode}`})`);
        try {
            if ((await fetch(url)).status === 200) return;
        } catch {
            // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

export function stopper(child: ChildProcess): () => Promise<void> {
    return () => new Promise((resolve) => {
        if (child.exitCode != null || child.signalCode != null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    });
}

/** Our worker as its own process, started the way `npm start` starts it (after `npm run build`). */
export async function startWorker(options: {modelPath: string; parallel: number; threads: number; contextSize: number; stateDir: string;
    extraEnv?: Record<string, string>}): Promise<RunningServer> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
        ...process.env, PORT: String(port), HOST: "127.0.0.1", MODEL_PATH: options.modelPath, GPU: "false",
        PARALLEL: String(options.parallel), THREADS: String(options.threads), CONTEXT_SIZE: String(options.contextSize),
        CONVERSATION_CACHE_DIR: options.stateDir, LOG_LEVEL: "warn", MAX_QUEUE: "256",
        ...options.extraEnv
    };
    // Let bin/chat-worker.cjs derive the pool size from THREADS, as `npm start` does.
    delete env.UV_THREADPOOL_SIZE;
    const child = spawn(process.execPath, ["bin/chat-worker.cjs"], {stdio: ["ignore", "ignore", "inherit"], env});
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
        await waitFor(`${baseUrl}/ready`, child, 300_000);
    } catch (err) {
        child.kill("SIGKILL");
        throw new Error(`chat-worker did not start: ${(err as Error).message}`);
    }
    return {name: "chat-worker", baseUrl, process: child, stop: stopper(child)};
}
