import {spawn, execFileSync, type ChildProcess} from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

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

async function waitFor(url: string, ok: (status: number) => boolean, child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        if (child.exitCode != null) throw new Error(`${url}: server exited with ${child.exitCode}`);
        try {
            const response = await fetch(url, {method: url.endsWith("system-prompt") ? "POST" : "GET",
                headers: {"content-type": "application/json"}, body: url.endsWith("system-prompt") ? '{"message":"x"}' : undefined});
            if (ok(response.status)) return;
        } catch {
            // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

function stopper(child: ChildProcess): () => Promise<void> {
    return () => new Promise((resolve) => {
        if (child.exitCode != null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    });
}

/**
 * Our worker as its own process, started the way `npm start` starts it (after `npm run build`).
 * `inProcessEngine`: llama.cpp in the HTTP process instead of a runner (bench/lib/inProcessWorker.ts),
 * to measure what the process boundary costs.
 */
export async function startWorker(options: {modelPath: string; parallel: number; threads: number; contextSize: number; stateDir: string;
    extraEnv?: Record<string, string>; inProcessEngine?: boolean}): Promise<RunningServer> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
        ...process.env, PORT: String(port), HOST: "127.0.0.1", MODEL_PATH: options.modelPath, GPU: "false",
        PARALLEL: String(options.parallel), THREADS: String(options.threads), CONTEXT_SIZE: String(options.contextSize),
        STATE_CACHE_DIR: options.stateDir, LOG_LEVEL: "warn", MAX_QUEUE: "256",
        ...options.extraEnv
    };
    // Let bin/chat-worker.cjs derive the pool size from THREADS, as `npm start` does.
    delete env.UV_THREADPOOL_SIZE;
    if (options.inProcessEngine === true)
        env.UV_THREADPOOL_SIZE = String(Math.max(1, os.availableParallelism() - options.threads));
    const child = spawn(process.execPath, options.inProcessEngine === true ? ["--import", "tsx", "bench/lib/inProcessWorker.ts"] : ["bin/chat-worker.cjs"],
        {stdio: ["ignore", "ignore", "inherit"], env});
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(`${baseUrl}/chat/debug/system-prompt`, (status) => status === 200, child, 120_000);
    return {name: "chat-worker", baseUrl, process: child, stop: stopper(child)};
}

/** Where the peer's binary is cached between runs: outside the repo, keyed by the llama.cpp source commit. */
export function peerCacheDir(): string {
    return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "chat-worker");
}

/**
 * Builds llama.cpp's own llama-server from the exact source node-llama-cpp ships
 * (node_modules/node-llama-cpp/llama/gitRelease.bundle), once; later runs reuse the binary.
 */
export function ensureLlamaServer(log: (line: string) => void): string {
    const cache = peerCacheDir();
    const source = path.join(cache, "llama-src");
    const binary = path.join(source, "build", "bin", "llama-server");
    if (fs.existsSync(binary)) return binary;
    fs.mkdirSync(cache, {recursive: true});
    if (!fs.existsSync(source)) {
        log("cloning llama.cpp from node-llama-cpp's gitRelease.bundle");
        execFileSync("git", ["clone", "-q", path.resolve("node_modules/node-llama-cpp/llama/gitRelease.bundle"), source], {stdio: "inherit"});
    }
    log("building llama-server (several minutes; cached afterwards)");
    execFileSync("cmake", ["-B", "build", "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=ON"], {cwd: source, stdio: "inherit"});
    execFileSync("cmake", ["--build", "build", "--target", "llama-server", `-j${os.availableParallelism()}`], {cwd: source, stdio: "inherit"});
    return binary;
}

export async function startLlamaServer(binary: string, options: {modelPath: string; parallel: number; threads: number; contextSize: number}): Promise<RunningServer> {
    const port = await freePort();
    const child = spawn(binary, [
        "-m", options.modelPath, "--host", "127.0.0.1", "--port", String(port),
        "-np", String(options.parallel), "-c", String(options.contextSize * options.parallel),
        "-t", String(options.threads), "-tb", String(options.threads), "-b", "512", "--no-webui", "-ngl", "0"
    ], {stdio: ["ignore", "ignore", "ignore"]});
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitFor(`${baseUrl}/health`, (status) => status === 200, child, 120_000);
    return {name: "llama-server", baseUrl, process: child, stop: stopper(child)};
}
