/**
 * `npm run bench`: every figure measured side by side in one run and reported as ratios.
 * Usage: npm run bench [-- --skip-peer] [--reps N] [--tokens N]
 * Writes bench/results/latest.json and latest.md, and the benchmark section of docs/performance.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {loadConfig} from "../src/config/config.js";
import {writeSyntheticModel} from "../src/testmodel/syntheticModel.js";
import {measureRawDecode} from "./lib/rawDecode.js";
import {measureReadBandwidth} from "./lib/bandwidth.js";
import {ensureLlamaServer, startLlamaServer, startWorker, type RunningServer} from "./lib/servers.js";
import {decodeRate, median, streamChat, type Message, type Protocol, type Sampling} from "./lib/streamClient.js";
import {conversation, fillerConversation} from "./lib/conversations.js";
import {renderMarkdown, updateReadme, type BenchResult} from "./lib/report.js";
import {childPid, histogramBuckets, histogramMedian, mainThreadCpuSeconds, peakSampler, processCpuSeconds, rssBytes} from "./lib/processStats.js";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
    const index = args.indexOf(`--${name}`);
    return index === -1 ? fallback : Number(args[index + 1]);
};

const REPS = option("reps", 3);
const TOKENS = option("tokens", 256);
const PARALLEL = 8;
/** Tokens of each /enhance in row i: the sdxl_image_fast budget. */
const ENHANCE_TOKENS = 75;
// The worker's own default (cores - 1), used for every engine and the peer alike.
const THREADS = loadConfig({}).threads;
const CONTEXT = 4096;
const SAMPLING: Sampling = {temperature: 0.7, topK: 40, topP: 0.9, minP: 0, repeatPenalty: 1.1, seed: 42};
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function main(): Promise<void> {
    const modelPath = path.resolve("models/chat-worker-bench.gguf");
    if (!fs.existsSync(modelPath)) {
        log("writing the bench model");
        await writeSyntheticModel({preset: "bench", out: modelPath});
    }
    const peerBinary = flag("skip-peer") ? null : ensureLlamaServer(log);
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-bench-state-"));

    log("f: memory read bandwidth");
    const bandwidth = measureReadBandwidth(THREADS);

    log("a: engine limit (in-process node-llama-cpp)");
    const raw = [];
    for (let rep = 0; rep < REPS; rep++)
        raw.push(await measureRawDecode({modelPath, threads: THREADS, tokens: TOKENS, prompt: "The benchmark begins:", sampling: SAMPLING}));
    const engineLimit = median(raw.map((run) => run.tokensPerSecond));

    const servers: Array<{protocol: Protocol; server: RunningServer}> = [
        {protocol: "chat-worker", server: await startWorker({modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT, stateDir})}
    ];
    const cold = await startWorker({modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT, stateDir: path.join(stateDir, "cold"),
        extraEnv: {PREFIX_CACHE: "false", STATE_CACHE_MAX_BYTES: "0"}});
    // The cost of DETERMINISTIC (on by default for the CPU): the same worker with it off.
    const nondeterministic = await startWorker({modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT,
        stateDir: path.join(stateDir, "nondeterministic"), extraEnv: {DETERMINISTIC: "false"}});
    const inProcess = await startWorker({modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT,
        stateDir: path.join(stateDir, "in-process"), inProcessEngine: true});
    if (peerBinary != null)
        servers.push({protocol: "llama-server", server: await startLlamaServer(peerBinary, {modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT})});
    try {
        const single: Record<string, number[]> = {};
        const scaling: Record<string, Record<number, number[]>> = {};
        const ttft: Record<string, {warm: number[]; restored: number[]; cold: number[]}> = {};
        for (const {protocol} of servers) {
            single[protocol] = [];
            scaling[protocol] = {1: [], 2: [], 4: [], 8: []};
            ttft[protocol] = {warm: [], restored: [], cold: []};
        }
        const prompt: Message[] = [{role: "system", content: "You are a benchmark."}, {role: "user", content: "The benchmark begins:"}];

        log("b: single-stream decode over HTTP (alternating servers)");
        for (let rep = 0; rep < REPS; rep++)
            for (const {protocol, server} of servers)
                single[protocol].push(decodeRate(await streamChat(protocol, server.baseUrl, prompt, TOKENS, SAMPLING), TOKENS));

        log("c: aggregate decode with 1, 2, 4, 8 streams (and the batches our worker formed at 8)");
        const ourServer = servers[0].server;
        const batchesAtEight = {before: new Map<number, number>(), after: new Map<number, number>()};
        let memoryAtEight: {http: number | null; runner: number | null; peer: number | null} = {http: null, runner: null, peer: null};
        for (const streams of [1, 2, 4, 8]) {
            if (streams === 8) batchesAtEight.before = histogramBuckets(await metricsText(ourServer.baseUrl), "chat_worker_decode_batch_tokens");
            for (let rep = 0; rep < REPS; rep++)
                for (const {protocol, server} of servers) {
                    // Memory at 8 busy streams: the peak resident size while they run.
                    const samplers = streams === 8 && rep === 0
                        ? protocol === "chat-worker"
                            ? [peakSampler(() => rssBytes(server.process.pid)), peakSampler(() => rssBytes(childPid(server.process.pid)))]
                            : [peakSampler(() => rssBytes(server.process.pid))]
                        : [];
                    scaling[protocol][streams].push(await aggregate(protocol, server.baseUrl, streams, rep));
                    const peaks = samplers.map((sampler) => sampler.stop());
                    if (samplers.length === 2) memoryAtEight = {...memoryAtEight, http: peaks[0], runner: peaks[1]};
                    else if (samplers.length === 1) memoryAtEight = {...memoryAtEight, peer: peaks[0]};
                }
            if (streams === 8) batchesAtEight.after = histogramBuckets(await metricsText(ourServer.baseUrl), "chat_worker_decode_batch_tokens");
        }

        log("e: DETERMINISTIC=false, single stream and 8 streams");
        const determinismOff = {single: [] as number[], eight: [] as number[]};
        for (let rep = 0; rep < REPS; rep++) {
            determinismOff.single.push(decodeRate(await streamChat("chat-worker", nondeterministic.baseUrl, prompt, TOKENS, SAMPLING), TOKENS));
            determinismOff.eight.push(await aggregate("chat-worker", nondeterministic.baseUrl, 8, rep));
        }

        log("g: the runner's process boundary (the same worker with llama.cpp in-process); h: CPU time per token, main thread and runner");
        const boundary = {single: [] as number[], eight: [] as number[], inProcessSingle: [] as number[], inProcessEight: [] as number[]};
        const runnerPid = childPid(ourServer.process.pid);
        const cpu = {mainSingle: 0, mainEight: 0, runnerSingle: 0, runnerEight: 0};
        const reading = () => ({main: mainThreadCpuSeconds(ourServer.process.pid), runner: processCpuSeconds(runnerPid)});
        const spent = (from: ReturnType<typeof reading>, to: ReturnType<typeof reading>) =>
            ({main: (to.main ?? NaN) - (from.main ?? NaN), runner: (to.runner ?? NaN) - (from.runner ?? NaN)});
        for (let rep = 0; rep < REPS; rep++) {
            const start = reading();
            boundary.single.push(decodeRate(await streamChat("chat-worker", ourServer.baseUrl, prompt, TOKENS, SAMPLING), TOKENS));
            const afterSingle = reading();
            boundary.eight.push(await aggregate("chat-worker", ourServer.baseUrl, 8, rep));
            const afterEight = reading();
            const single = spent(start, afterSingle), eight = spent(afterSingle, afterEight);
            cpu.mainSingle += single.main;
            cpu.runnerSingle += single.runner;
            cpu.mainEight += eight.main;
            cpu.runnerEight += eight.runner;
            boundary.inProcessSingle.push(decodeRate(await streamChat("chat-worker", inProcess.baseUrl, prompt, TOKENS, SAMPLING), TOKENS));
            boundary.inProcessEight.push(await aggregate("chat-worker", inProcess.baseUrl, 8, rep));
        }
        const perToken = (seconds: number, tokens: number) => Number.isFinite(seconds) ? seconds / tokens * 1e6 : null;

        log("i: /enhance latency, with the grammar (the job-type template) and without (the messages shape)");
        const enhanceLatency = {grammar: [] as Array<{seconds: number; tokens: number}>, plain: [] as Array<{seconds: number; tokens: number}>};
        const enhancePrompt = "a lighthouse on a cliff at night";
        for (let rep = 0; rep < REPS; rep++) {
            enhanceLatency.grammar.push(await timed(() => postJson(`${ourServer.baseUrl}/enhance`,
                {prompt: enhancePrompt, job_type: "sdxl_image_fast", seed: 42 + rep, max_tokens: ENHANCE_TOKENS})));
            enhanceLatency.plain.push(await timed(() => postJson(`${ourServer.baseUrl}/enhance`, {
                messages: [{role: "system", content: "Rewrite the image prompt as comma-separated visual phrases."}, {role: "user", content: enhancePrompt}],
                seed: 42 + rep, max_tokens: ENHANCE_TOKENS
            })));
        }

        log("j: memory of one more slot: a worker with PARALLEL=1 beside ours (PARALLEL=8)");
        const oneSlot = await startWorker({modelPath, parallel: 1, threads: THREADS, contextSize: CONTEXT, stateDir: path.join(stateDir, "one-slot")});
        await aggregate("chat-worker", oneSlot.baseUrl, 1, 0);
        const oneSlotRss = (rssBytes(oneSlot.process.pid) ?? NaN) + (rssBytes(childPid(oneSlot.process.pid)) ?? NaN);
        const eightSlotRss = (rssBytes(ourServer.process.pid) ?? NaN) + (rssBytes(runnerPid) ?? NaN);
        await oneSlot.stop();

        log("d: turn-10 time to first token of a ~2,000-token conversation: warm, restored, cold");
        for (let rep = 0; rep < REPS; rep++)
            for (const {protocol, server} of servers) {
                const tag = `${protocol}-${rep}`;
                // warm: turn 9 primes the conversation's sequence, turn 10 extends it
                const warmTurns = await primedTurn10(protocol, server.baseUrl, `warm-${tag}`);
                ttft[protocol].warm.push((await streamChat(protocol, server.baseUrl, warmTurns, 16, SAMPLING, extraFor(protocol, `warm-${tag}`))).ttft);
                // restored: after priming, PARALLEL longer conversations take every sequence first
                const restoredTurns = await primedTurn10(protocol, server.baseUrl, `restored-${tag}`);
                for (let filler = 0; filler < PARALLEL; filler++)
                    await streamChat(protocol, server.baseUrl, fillerConversation(`${tag}-${filler}`), 1, SAMPLING, extraFor(protocol, `filler-${tag}-${filler}`));
                ttft[protocol].restored.push((await streamChat(protocol, server.baseUrl, restoredTurns, 16, SAMPLING, extraFor(protocol, `restored-${tag}`))).ttft);
                // cold: the same turn on a server that keeps no cache
                const coldTurns = conversation(`cold-${tag}`, 10, null);
                ttft[protocol].cold.push(protocol === "chat-worker"
                    ? (await streamChat(protocol, cold.baseUrl, coldTurns, 16, SAMPLING)).ttft
                    : (await streamChat(protocol, server.baseUrl, coldTurns, 16, SAMPLING, {cache_prompt: false})).ttft);
            }

        const result: BenchResult = {
            date: new Date().toISOString(),
            machine: {
                cpu: os.cpus()[0]?.model ?? "unknown", cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30),
                node: process.version, platform: `${os.platform()} ${os.release()}`
            },
            settings: {model: path.basename(modelPath), parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT, tokens: TOKENS, reps: REPS, sampling: SAMPLING},
            engineLimit,
            determinismOff: {singleStream: median(determinismOff.single), eightStreams: median(determinismOff.eight)},
            runnerBoundary: {
                singleStream: median(boundary.single), eightStreams: median(boundary.eight),
                inProcessSingleStream: median(boundary.inProcessSingle), inProcessEightStreams: median(boundary.inProcessEight)
            },
            hostMicrosPerToken: {
                mainThreadSingle: perToken(cpu.mainSingle, REPS * TOKENS), mainThreadEight: perToken(cpu.mainEight, REPS * 8 * TOKENS),
                runnerSingle: perToken(cpu.runnerSingle, REPS * TOKENS), runnerEight: perToken(cpu.runnerEight, REPS * 8 * TOKENS)
            },
            medianBatchTokensAtEight: histogramMedian(batchesAtEight.before, batchesAtEight.after),
            enhance: {
                grammarSeconds: median(enhanceLatency.grammar.map((run) => run.seconds)), grammarTokens: median(enhanceLatency.grammar.map((run) => run.tokens)),
                plainSeconds: median(enhanceLatency.plain.map((run) => run.seconds)), plainTokens: median(enhanceLatency.plain.map((run) => run.tokens))
            },
            memory: {
                perSlotBytes: Number.isFinite(eightSlotRss - oneSlotRss) ? (eightSlotRss - oneSlotRss) / (PARALLEL - 1) : null,
                httpAtEightBytes: memoryAtEight.http, runnerAtEightBytes: memoryAtEight.runner, peerAtEightBytes: memoryAtEight.peer
            },
            bandwidthBytesPerSecond: bandwidth,
            weightBytes: raw[0].weightBytes,
            servers: Object.fromEntries(servers.map(({protocol}) => [protocol, {
                singleStream: median(single[protocol]),
                scaling: Object.fromEntries(Object.entries(scaling[protocol]).map(([streams, values]) => [streams, median(values)])),
                ttft: {warm: median(ttft[protocol].warm), restored: median(ttft[protocol].restored), cold: median(ttft[protocol].cold)},
                samples: {single: single[protocol], scaling: scaling[protocol], ttft: ttft[protocol]}
            }]))
        };
        fs.mkdirSync("bench/results", {recursive: true});
        fs.writeFileSync("bench/results/latest.json", `${JSON.stringify(result, null, 2)}\n`);
        const markdown = renderMarkdown(result);
        fs.writeFileSync("bench/results/latest.md", markdown);
        updateReadme("docs/performance.md", markdown);
        process.stdout.write(markdown);
    } finally {
        for (const {server} of servers) await server.stop();
        await cold.stop();
        await nondeterministic.stop();
        await inProcess.stop();
        fs.rmSync(stateDir, {recursive: true, force: true});
    }
}

/** Aggregate decode rate of `streams` concurrent streams, each TOKENS long. */
async function aggregate(protocol: Protocol, baseUrl: string, streams: number, rep: number): Promise<number> {
    const runs = await Promise.all(Array.from({length: streams}, (_, i) => streamChat(protocol, baseUrl,
        [{role: "system", content: "You are a benchmark."}, {role: "user", content: `Stream ${i} of ${streams}, rep ${rep}:`}], TOKENS, {...SAMPLING, seed: SAMPLING.seed + i})));
    const wall = (Math.max(...runs.map((run) => run.ended)) - Math.min(...runs.map((run) => run.started))) / 1000;
    return streams * TOKENS / wall;
}

async function metricsText(baseUrl: string): Promise<string> {
    return (await fetch(`${baseUrl}/metrics`)).text();
}

/** Posts JSON; resolves with the completion tokens of the answer's `usage`. */
async function postJson(url: string, body: unknown): Promise<number> {
    const response = await fetch(url, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
    return ((await response.json()) as {usage: {completion_tokens: number}}).usage.completion_tokens;
}

/** Seconds a call takes, and the tokens it generated. */
async function timed(call: () => Promise<number>): Promise<{seconds: number; tokens: number}> {
    const started = performance.now();
    const tokens = await call();
    return {seconds: (performance.now() - started) / 1000, tokens};
}

/** Conversation ids route our worker; llama-server routes by prompt similarity and needs none. */
function extraFor(protocol: Protocol, id: string): Record<string, unknown> {
    return protocol === "chat-worker" ? {conversation_id: id} : {};
}

/** Sends turn 9 of a conversation and returns turn 10's messages, with turn 9's real reply in them. */
async function primedTurn10(protocol: Protocol, baseUrl: string, id: string): Promise<Message[]> {
    const turn9 = conversation(id, 9, null);
    const reply = await streamChat(protocol, baseUrl, turn9, 48, SAMPLING, extraFor(protocol, id));
    return conversation(id, 10, reply.text);
}

main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
});
