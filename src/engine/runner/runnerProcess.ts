import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {fork, type ChildProcess} from "node:child_process";
import type {EngineLogger} from "../types.js";
import type {ParentMessage, RunnerMessage} from "./protocol.js";
import {Liveness, type LivenessFacts, type LivenessOptions, type LivenessVerdict} from "./runnerLiveness.js";

/** How the runner process ended, as the supervisor reports it. */
export interface RunnerExit {
    code: number | null;
    signal: NodeJS.Signals | null;
    /** Why it was killed, when the supervisor killed it ("memory", "load_timeout", "shutdown"...); null when it died by itself. */
    killedFor: string | null;
    /** Whether the supervisor asked it to stop ("close"). */
    requested: boolean;
}

const here = fileURLToPath(import.meta.url);
/** runnerMain beside this file: .ts when running from source (tsx), .js from dist/. */
export const RUNNER_ENTRY = path.join(path.dirname(here), `runnerMain${path.extname(here)}`);

/** Node options the runner needs from ours (a loader such as tsx, symlink handling), and none of the rest (--test...). */
const INHERITED_OPTIONS = new Set(["--import", "--require", "-r", "--loader", "--experimental-loader"]);
const INHERITED_FLAGS = new Set(["--preserve-symlinks", "--preserve-symlinks-main", "--enable-source-maps", "--expose-gc"]);

/** A compiled entry gets no loader: tsx's hooks would slow every import (node-llama-cpp's ~300 modules) for nothing. */
function runnerExecArgv(entry: string): string[] {
    const args: string[] = [];
    const ours = process.execArgv;
    const loaders = entry.endsWith(".ts");
    for (let i = 0; i < ours.length; i++) {
        const [name] = ours[i].split("=");
        if (INHERITED_FLAGS.has(name)) args.push(ours[i]);
        else if (INHERITED_OPTIONS.has(name)) {
            const option = !ours[i].includes("=") && i + 1 < ours.length ? [ours[i], ours[++i]] : [ours[i]];
            if (loaders) args.push(...option);
        }
    }
    return args;
}

/**
 * One model runner process: started, watched and stopped. Its IPC messages go to `onMessage`, its
 * exit to `onExit`, what it writes on stderr (llama.cpp's asserts) to the log. While a memory limit
 * is set, its anonymous memory is sampled and the process is killed past the limit: a corrupt
 * model file can make a load allocate without bound.
 */
export class RunnerProcess {
    readonly exited: Promise<RunnerExit>;
    private readonly child: ChildProcess;
    private killedFor: string | null = null;
    private requested = false;
    private memoryTimer: NodeJS.Timeout | null = null;
    private liveness: Liveness | null = null;
    /** Set once the ready handshake arrived: an exit before it rejects `start` instead of reaching `onExit`. */
    private started = false;

    private constructor(child: ChildProcess, logger: EngineLogger, onExit: (runner: RunnerProcess, exit: RunnerExit) => void, verbatim: boolean) {
        this.child = child;
        this.exited = new Promise((resolve) => {
            child.once("exit", (code, signal) => {
                this.stopWatchingMemory();
                this.liveness?.stop();
                const exit = {code, signal, killedFor: this.killedFor, requested: this.requested};
                if (this.started) onExit(this, exit);
                resolve(exit);
            });
        });
        for (const stream of [child.stdout, child.stderr]) {
            stream?.setEncoding("utf8");
            let buffered = "";
            stream?.on("data", (chunk: string) => {
                buffered += chunk;
                const lines = buffered.split("\n");
                buffered = lines.pop() ?? "";
                for (const line of lines)
                    if (line.trim() !== "")
                        logOutput(logger, line, verbatim);
            });
        }
    }

    /**
     * Starts a runner and resolves once it is ready for messages; rejects if it exits first (the
     * OOM killer, a failed native start), and then `onExit` is never called: the rejection says it.
     */
    static async start(env: NodeJS.ProcessEnv, logger: EngineLogger, verbatim: boolean, handlers: {
        onMessage(message: RunnerMessage): void;
        /** The process that exited is passed in: it is known here before `start` resolves with it. */
        onExit(runner: RunnerProcess, exit: RunnerExit): void;
    }, entry: string = RUNNER_ENTRY): Promise<RunnerProcess> {
        const child = fork(entry, [], {
            env, execArgv: runnerExecArgv(entry), stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced"
        });
        let ready!: () => void;
        const isReady = new Promise<void>((resolve) => ready = resolve);
        // Assigned before any message can arrive (the next turn of the event loop at the earliest).
        const runner = new RunnerProcess(child, logger, handlers.onExit, verbatim);
        child.on("message", (message: RunnerMessage) => {
            if (message.type === "ready") ready();
            else if (message.type === "pong") runner.liveness?.pong(message.seq, message.stalledMs);
            else handlers.onMessage(message);
        });
        child.on("error", (err) => logger.error({error: err.message}, "model runner process error"));
        const exitedEarly = runner.exited.then((exit) => {
            throw new Error(`the model runner exited before it was ready (${exit.signal ?? `code ${exit.code}`})`);
        });
        await Promise.race([isReady, exitedEarly]);
        exitedEarly.catch(() => undefined);
        runner.started = true;
        return runner;
    }

    get pid(): number | undefined {
        return this.child.pid;
    }

    get alive(): boolean {
        return this.child.exitCode == null && this.child.signalCode == null;
    }

    send(message: ParentMessage): boolean {
        if (!this.alive || !this.child.connected) return false;
        this.child.send(message);
        return true;
    }

    /** Kills the process at once (SIGKILL: llama.cpp may be spinning and deaf to anything else). */
    kill(reason: string): void {
        this.killedFor ??= reason;
        if (this.alive) this.child.kill("SIGKILL");
    }

    /** Asks the runner to free the model and exit; kills it if it has not exited after `graceMs`. */
    async stop(graceMs: number): Promise<RunnerExit> {
        this.requested = true;
        if (this.alive) {
            this.send({type: "close"});
            const timer = setTimeout(() => this.kill("stop_timeout"), graceMs);
            timer.unref();
            const exit = await this.exited;
            clearTimeout(timer);
            return exit;
        }
        return this.exited;
    }

    /**
     * Pings the runner every `intervalMs` and kills it (SIGKILL, killed for "unresponsive" or
     * "step_timeout") when runnerLiveness.ts says it is stuck; `onKill` hears why first.
     */
    watchLiveness(options: LivenessOptions, onKill: (verdict: Exclude<LivenessVerdict, null>, facts: LivenessFacts) => void): void {
        this.liveness?.stop();
        this.liveness = new Liveness(options, (seq) => this.send({type: "ping", seq}), (verdict, facts) => {
            onKill(verdict, facts);
            this.kill(verdict);
        });
    }

    /** Samples the process's anonymous memory every 250 ms and kills it past `limitBytes()` (null: no limit now). */
    watchMemory(limitBytes: () => number | null, onKill: (usedBytes: number, limit: number) => void): void {
        this.stopWatchingMemory();
        this.memoryTimer = setInterval(() => {
            const limit = limitBytes();
            const used = limit != null ? anonymousMemory(this.pid) : null;
            if (limit != null && used != null && used > limit) {
                onKill(used, limit);
                this.kill("memory");
            }
        }, 250);
        this.memoryTimer.unref();
    }

    stopWatchingMemory(): void {
        if (this.memoryTimer != null) clearInterval(this.memoryTimer);
        this.memoryTimer = null;
    }
}

/** What llama.cpp prints about itself (asserts, loading), which never quotes a client. */
const DIAGNOSTIC = /GGML_ASSERT|^(ggml|llama|gguf)_\w+:/;

/**
 * One line the runner wrote. llama.cpp writes some things straight to stderr, a grammar it cannot
 * parse among them (client text, over several lines): so only its own diagnostics are logged as
 * they are, other lines as their length (all of them with LOG_PROMPTS=true). Control characters
 * are replaced and the length bounded: a line of its own in our JSON log, never a forged one.
 */
function logOutput(logger: EngineLogger, line: string, verbatim: boolean): void {
    if (verbatim || DIAGNOSTIC.test(line))
        logger.warn({source: "runner", line: line.replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 500)}, "model runner output");
    else
        logger.warn({source: "runner", withheldChars: line.length}, "model runner output (withheld: it may quote client text)");
}

/** RssAnon of a process (Linux): its own allocations, not the model file pages it maps. */
function anonymousMemory(pid: number | undefined): number | null {
    if (pid == null) return null;
    try {
        const match = /^RssAnon:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return match != null ? Number(match[1]) * 1024 : null;
    } catch {
        return null;
    }
}
