/**
 * `npx tsx bench/threadProbe.ts [bench|0.5b] [streams] [tokens]`: where the CPU goes while our
 * worker and llama-server serve the same streams, thread by thread (from /proc/PID/task), as CPU
 * milliseconds per generated token. Issue 23's "find where the step goes" for the whole worker;
 * not part of `npm run bench` (one run, no reps: a profile, not a ratio).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {loadConfig} from "../src/config/config.js";
import {ensureLlamaServer, startLlamaServer} from "./lib/peer.js";
import {startWorker, type RunningServer} from "./lib/servers.js";
import {streamChat, type Protocol, type Sampling} from "./lib/streamClient.js";
import {childPid, waitQuiet} from "./lib/processStats.js";

const [preset = "bench", streamsArg = "8", tokensArg = "128", ...envArgs] = process.argv.slice(2);
/** Extra settings for our worker, as NAME=value arguments (e.g. DETERMINISTIC=false). */
const extraEnv = Object.fromEntries(envArgs.map((arg) => [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]));
const streams = Number(streamsArg), tokens = Number(tokensArg);
const SAMPLING: Sampling = {temperature: 0.7, topK: 40, topP: 0.9, minP: 0, repeatPenalty: 1.1, seed: 42};
const modelPath = path.resolve(`models/chat-worker-${preset}.gguf`);
const threads = loadConfig({}).threads;

/** CPU seconds per thread name of a process (threads with the same name summed). */
function threadTimes(pid: number | null | undefined): Map<string, number> {
    const times = new Map<string, number>();
    if (pid == null) return times;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
            const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            const label = tid === String(pid) ? `${name} (main)` : name;
            times.set(label, (times.get(label) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
        } catch {
            // the thread ended
        }
    }
    return times;
}

async function profile(protocol: Protocol, server: RunningServer, pids: Record<string, number | null | undefined>): Promise<void> {
    const body = (i: number) => [{role: "system" as const, content: "You are a benchmark."}, {role: "user" as const, content: `Stream ${i}:`}];
    await Promise.all(Array.from({length: streams}, (_, i) => streamChat(protocol, server.baseUrl, body(i), 8, SAMPLING)));
    await waitQuiet(Object.values(pids));
    const before = Object.fromEntries(Object.entries(pids).map(([who, pid]) => [who, threadTimes(pid)]));
    const started = performance.now();
    await Promise.all(Array.from({length: streams}, (_, i) => streamChat(protocol, server.baseUrl, body(i + 100), tokens, {...SAMPLING, seed: 42 + i})));
    const wall = performance.now() - started;
    const generated = streams * tokens;
    process.stdout.write(`\n${protocol}: ${streams} streams x ${tokens} tokens, ${(generated / wall * 1000).toFixed(1)} tok/s, wall ${wall.toFixed(0)} ms\n`);
    for (const [who, pid] of Object.entries(pids)) {
        const after = threadTimes(pid);
        for (const [thread, seconds] of after) {
            const used = seconds - (before[who].get(thread) ?? 0);
            if (used > 0.005) process.stdout.write(`  ${who} ${thread}: ${(used * 1000 / generated).toFixed(2)} CPU ms per token\n`);
        }
    }
}

async function main(): Promise<void> {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "thread-probe-"));
    const ours = await startWorker({modelPath, parallel: 8, threads, contextSize: 4096, stateDir, extraEnv});
    try {
        await profile("chat-worker", ours, {http: ours.process.pid, runner: childPid(ours.process.pid)});
    } finally {
        await ours.stop();
    }
    if (process.env.PEER === "0") return;
    const peer = await startLlamaServer(ensureLlamaServer(() => undefined), {modelPath, parallel: 8, threads, contextSize: 4096, logFile: path.join(stateDir, "peer.log")});
    try {
        await profile("llama-server", peer, {peer: peer.process.pid});
    } finally {
        await peer.stop();
        fs.rmSync(stateDir, {recursive: true, force: true});
    }
}

void main();
