/**
 * `npm run bench:gpu`: the short CUDA check for a machine with an NVIDIA GPU. It writes a
 * synthetic model with Qwen2.5-7B's shapes (Q8_0, ~8 GB) on that machine, serves it with GPU=cuda,
 * and records decode tok/s for 1 and 8 streams, turn-10 TTFT warm and cold, and the load time,
 * into bench/results/gpu-<card>.json. Nothing else depends on it; CI never runs it.
 * Usage: npm run bench:gpu [-- --model /path/to/7b.gguf]
 */
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {writeSyntheticModel} from "../src/testmodel/syntheticModel.js";
import {startWorker} from "./lib/servers.js";
import {decodeRate, median, streamChat, type Message, type Sampling} from "./lib/streamClient.js";
import {conversation} from "./lib/conversations.js";

const SAMPLING: Sampling = {temperature: 0.7, topK: 40, topP: 0.9, minP: 0, repeatPenalty: 1.1, seed: 42};
const TOKENS = 256;
const log = (line: string) => process.stderr.write(`[bench:gpu] ${line}\n`);

async function main(): Promise<void> {
    const card = execFileSync("nvidia-smi", ["--query-gpu=name,memory.total", "--format=csv,noheader"]).toString().trim().split("\n")[0];
    const modelArg = process.argv.indexOf("--model");
    const modelPath = modelArg !== -1 ? process.argv[modelArg + 1] : path.join(os.tmpdir(), "chat-worker-7b.gguf");
    if (!fs.existsSync(modelPath)) {
        log("writing the 7b synthetic model");
        await writeSyntheticModel({preset: "7b", out: modelPath});
    }
    const loadStarted = performance.now();
    const worker = await startWorker({modelPath, parallel: 8, threads: Math.min(8, os.availableParallelism()), contextSize: 4096,
        stateDir: fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-gpu-state-")), extraEnv: {GPU: "cuda"}});
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    try {
        const prompt: Message[] = [{role: "system", content: "You are a benchmark."}, {role: "user", content: "Begin:"}];
        const single = [];
        for (let rep = 0; rep < 3; rep++)
            single.push(decodeRate(await streamChat("chat-worker", worker.baseUrl, prompt, TOKENS, SAMPLING), TOKENS));
        const eight = [];
        for (let rep = 0; rep < 3; rep++) {
            const runs = await Promise.all(Array.from({length: 8}, (_, i) =>
                streamChat("chat-worker", worker.baseUrl, prompt, TOKENS, {...SAMPLING, seed: i})));
            eight.push(8 * TOKENS / ((Math.max(...runs.map((r) => r.ended)) - Math.min(...runs.map((r) => r.started))) / 1000));
        }
        const warm = [];
        const cold = [];
        for (let rep = 0; rep < 3; rep++) {
            const id = `gpu-${rep}`;
            const reply = await streamChat("chat-worker", worker.baseUrl, conversation(id, 9, null), 48, SAMPLING, {conversation_id: id});
            warm.push((await streamChat("chat-worker", worker.baseUrl, conversation(id, 10, reply.text), 16, SAMPLING, {conversation_id: id})).ttft);
            cold.push((await streamChat("chat-worker", worker.baseUrl, conversation(`${id}-cold`, 10, null), 16, SAMPLING)).ttft);
        }
        const fiveTwelve = await streamChat("chat-worker", worker.baseUrl, prompt, 512, SAMPLING);
        const result = {
            date: new Date().toISOString(), card, model: path.basename(modelPath), modelBytes: fs.statSync(modelPath).size,
            loadSeconds, singleStreamTokensPerSecond: median(single), eightStreamsTokensPerSecond: median(eight),
            turn10TtftSeconds: {warm: median(warm), cold: median(cold)},
            seconds512Tokens: (fiveTwelve.ended - fiveTwelve.started) / 1000,
            samples: {single, eight, warm, cold}
        };
        const name = card.split(",")[0].replace(/[^A-Za-z0-9]+/g, "-").toLowerCase();
        fs.mkdirSync("bench/results", {recursive: true});
        fs.writeFileSync(`bench/results/gpu-${name}.json`, `${JSON.stringify(result, null, 2)}\n`);
        if (process.env.OUT) fs.copyFileSync(`bench/results/gpu-${name}.json`, path.join(process.env.OUT, `gpu-${name}.json`));
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } finally {
        await worker.stop();
    }
}

main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
});
