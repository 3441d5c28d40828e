/**
 * `npx tsx bench/rowsProbe.ts [bench|0.5b] [tokens] [NAME=value ...]`: our worker alone, the bench's
 * throughput rows (1, 2, 4, 8 streams) twice in a row on one warm worker, each once the worker is
 * idle, with the decode batches counted so far. A warm worker is what the bench measures: its
 * sequences hold earlier streams, so which free sequence a request gets matters (sequenceAffinity.ts,
 * SPLIT_COST_TOKENS). Not part of `npm run bench` (no peer, no reps): an A/B probe.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {startWorker} from "./lib/servers.js";
import {streamChat, type Sampling} from "./lib/streamClient.js";
import {childPid, waitQuiet} from "./lib/processStats.js";
const SAMPLING: Sampling = {temperature: 0.7, topK: 40, topP: 0.9, minP: 0, repeatPenalty: 1.1, seed: 42};
const [preset = "bench", tokensArg = "256", ...envArgs] = process.argv.slice(2);
const extraEnv = Object.fromEntries(envArgs.map((arg) => [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]));
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "rows-"));
const ours = await startWorker({modelPath: path.resolve(`models/chat-worker-${preset}.gguf`), parallel: 8, threads: 1, contextSize: 4096, stateDir, extraEnv});
const pids = [ours.process.pid, childPid(ours.process.pid)];
const tokens = Number(tokensArg);
for (let rep = 0; rep < 2; rep++) for (const streams of [1, 2, 4, 8]) {
    await waitQuiet(pids);
    const t = await Promise.all(Array.from({length: streams}, (_, i) => streamChat("chat-worker", ours.baseUrl,
        [{role: "system", content: "You are a benchmark."}, {role: "user", content: `Stream ${i} of ${streams}, rep ${rep}:`}], tokens, {...SAMPLING, seed: 42 + i})));
    const wall = (Math.max(...t.map((x) => x.ended)) - Math.min(...t.map((x) => x.started))) / 1000;
    const metrics = await (await fetch(`${ours.baseUrl}/metrics`)).text();
    const batches = /^chat_worker_decode_batch_tokens_count (\d+)/m.exec(metrics)?.[1];
    process.stdout.write(`rep ${rep} ${streams} streams: ${(streams * tokens / wall).toFixed(1)} tok/s (batches so far ${batches})\n`);
}
await ours.stop();
