import path from "node:path";
import {spawn, type ChildProcess} from "node:child_process";
import {testModelPath, testRunnerEntry} from "./testWorker.js";
import {ONE_THREAD} from "./opsHelpers.js";
import {SETTINGS} from "../../src/config/config.js";

const root = path.resolve(import.meta.dirname, "..", "..");

export interface RunningWorker {
    child: ChildProcess;
    url: string;
    logs: Array<Record<string, any>>;
    /** Resolves with the first log record matching `predicate` (earlier ones included), or rejects after `ms`. */
    waitForLog(predicate: (record: Record<string, any>) => boolean, ms: number, what: string): Promise<Record<string, any>>;
    exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>;
}

export interface SpawnOptions {
    /** The project folder to run in (a copy made by cpuVariant.ts, say); default: this project. */
    cwd?: string;
    /** Node options before the entry point (e.g. --preserve-symlinks). */
    nodeArgs?: string[];
    /** Wait for the model to load (default), or only for the server to listen. */
    waitForModel?: boolean;
}

/**
 * Runs the real entry point as its own process on a free port, as production would, and resolves
 * once it listens and its model has loaded: src/main.ts under tsx, or under `npm test` (which
 * builds first, see testRunnerEntry) the production start bin/chat-worker.cjs.
 */
export async function spawnWorker(env: Record<string, string>, options: SpawnOptions = {}): Promise<RunningWorker> {
    const cleanEnv: NodeJS.ProcessEnv = {...process.env};
    for (const name of Object.keys(SETTINGS)) delete cleanEnv[name];
    const built = testRunnerEntry() != null && options.cwd == null;
    return spawnWorkerProcess({
        args: [...options.nodeArgs ?? [], ...built ? ["bin/chat-worker.cjs"] : ["--import", "tsx", "src/main.ts"]],
        cwd: options.cwd ?? root,
        env: {
            ...cleanEnv, UV_THREADPOOL_SIZE: "1", PORT: "0", HOST: "127.0.0.1", GPU: "false", ...ONE_THREAD,
            ...(env.MODEL == null && env.MODELS == null ? {MODEL_PATH: await testModelPath()} : {}), LOG_LEVEL: "info", ...env
        },
        waitForModel: options.waitForModel
    });
}

export interface WorkerProcessOptions {
    /** The node binary; default: the one running the tests. */
    node?: string;
    /** Arguments to node: loader flags and the entry point. */
    args: string[];
    cwd: string;
    /** The whole environment; it must set LOG_LEVEL=info (or lower), PORT=0 and HOST=127.0.0.1. */
    env: NodeJS.ProcessEnv;
    /** Run as this user and group (only root can). */
    uid?: number;
    gid?: number;
    /** Wait for the model to load (default), or only for the server to listen. */
    waitForModel?: boolean;
}

/**
 * Starts any worker entry point (src/main.ts under tsx, or a built bin/chat-worker.cjs) as its own
 * process on a free port; resolves once it logged "listening" and "model loaded".
 */
export async function spawnWorkerProcess(options: WorkerProcessOptions): Promise<RunningWorker> {
    const child = spawn(options.node ?? process.execPath, options.args, {
        cwd: options.cwd, env: options.env, uid: options.uid, gid: options.gid, stdio: ["ignore", "pipe", "pipe"]
    });
    const logs: Array<Record<string, any>> = [];
    const listeners = new Set<() => void>();
    let buffered = "";
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines)
            if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, any>);
        for (const listener of [...listeners]) listener();
    });
    const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
        child.once("exit", (code, signal) => resolve({code, signal})));
    const waitForLog = (predicate: (record: Record<string, any>) => boolean, ms: number, what: string) =>
        new Promise<Record<string, any>>((resolve, reject) => {
            const check = () => {
                const found = logs.find(predicate);
                if (found == null) return;
                cleanup();
                resolve(found);
            };
            const timer = setTimeout(() => {
                cleanup();
                reject(new Error(`timed out after ${ms} ms waiting for ${what}; stderr: ${stderr.slice(-500)}`));
            }, ms);
            const cleanup = () => {
                clearTimeout(timer);
                listeners.delete(check);
                child.off("exit", check);
            };
            listeners.add(check);
            child.once("exit", check);
            check();
        });
    try {
        const listening = await waitForLog((record) => record.msg === "listening", 30_000, "the listening log line");
        if (options.waitForModel !== false)
            await waitForLog((record) => record.msg === "model loaded", 30_000, "the model to load");
        return {child, url: `http://127.0.0.1:${listening.port}`, logs, waitForLog, exited};
    } catch (err) {
        child.kill("SIGKILL");
        throw err;
    }
}
