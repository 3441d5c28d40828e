/**
 * `npm run bench`: chat-worker against llama-server on the same CPU kernels, row by row, both
 * servers alternating within every rep. `npm run bench -- --help` lists the options.
 * Writes bench/results/<out>.json and <out>.md; touches the docs only with --write-docs.
 */
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {loadConfig} from "../src/config/config.js";
import {describeSyntheticModel, writeSyntheticModel} from "../src/testmodel/syntheticModel.js";
import {BENCH_USAGE, DEFAULT_TOKENS, parseBenchOptions, type BenchModel, type BenchOptions} from "./lib/options.js";
import {PEER_CMAKE_OPTIONS, ensureLlamaServer, llamaCppVersion, nodeLlamaCppVersion, prebuiltBinsDir, startLlamaServer} from "./lib/peer.js";
import {startWorker, type RunningServer} from "./lib/servers.js";
import {msPerToken, streamChat, type Message, type Protocol, type Sampling, type StreamTiming} from "./lib/streamClient.js";
import {conversationWithReplies, fillerConversation} from "./lib/conversations.js";
import {renderMarkdown, type BenchRow, type BenchRun, type ModelResult} from "./lib/report.js";
import {childPid, histogramBuckets, histogramMedian, loadedCpuVariant, peakSampler, rssBytes, waitQuiet} from "./lib/processStats.js";
import {median, summarize} from "./lib/summary.js";

const PARALLEL = 8;
// The worker's own default (cores - 1), used for both servers.
const THREADS = loadConfig({}).threads;
const CONTEXT = 4096;
const SAMPLING: Sampling = {temperature: 0.7, topK: 40, topP: 0.9, minP: 0, repeatPenalty: 1.1, seed: 42};
/** Both clients send repeat_last_n 64 (ours: the same window, fixed in the engine). */
const REPEAT_LAST_N = 64;
const TTFT = {turn: 10, maxTokens: 24, fillers: PARALLEL, fillerChars: 400};
const STREAM_COUNTS = [1, 2, 4, 8] as const;
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

interface Side {
    protocol: Protocol;
    server: RunningServer;
    /** Where this side's cold TTFT is measured, and the body that makes it cold there. */
    cold: RunningServer;
    coldExtra: Record<string, unknown>;
    /** Waits until every server of the bench is idle (processStats.waitQuiet). */
    quiet(): Promise<number>;
}

/** The TTFT rows: turn 10 sent at once, after a reading pause, after fillers took every sequence, on no cache. */
const TTFT_STATES = ["warm", "read", "restored", "cold"] as const;
type TtftState = (typeof TTFT_STATES)[number];
const TTFT_LABELS: Record<TtftState, string> = {warm: "warm", read: "warm, after a reading pause", restored: "restored", cold: "cold"};
type TtftSamples = Record<TtftState, {ms: number[]; evaluated: Array<number | null>}>;

async function main(): Promise<void> {
    let options: BenchOptions | "help";
    try {
        options = parseBenchOptions(process.argv.slice(2));
    } catch (err) {
        process.stderr.write(`error: ${(err as Error).message}\n\n${BENCH_USAGE}`);
        process.exit(2);
    }
    if (options === "help") {
        process.stdout.write(BENCH_USAGE);
        return;
    }
    log("building llama-server if needed (cached in .llama-src/)");
    const peerBinary = ensureLlamaServer(log);
    const run: BenchRun = {
        schema: 2,
        date: new Date().toISOString(),
        machine: {cpu: cpuModel(), cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version},
        versions: {
            chatWorker: (JSON.parse(fs.readFileSync("package.json", "utf8")) as {version: string}).version,
            nodeLlamaCpp: nodeLlamaCppVersion(), llamaCpp: llamaCppVersion()
        },
        peer: {
            cmake: PEER_CMAKE_OPTIONS.join(" "), target: "llama-server",
            cpuLibraries: `node-llama-cpp's prebuilt libggml-cpu-<variant>.so (${path.relative(process.cwd(), prebuiltBinsDir())}), linked next to the binary`,
            args: []
        },
        settings: {
            parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT, reps: options.reps,
            sampling: {...SAMPLING, repeatLastN: REPEAT_LAST_N}, streamed: true, ignoreEos: true, ttft: TTFT, quietBetween: true
        },
        models: []
    };
    for (const preset of options.models)
        run.models.push(await benchModel(preset, options.tokens ?? DEFAULT_TOKENS[preset], options.reps, peerBinary, run));
    fs.mkdirSync("bench/results", {recursive: true});
    const base = path.join("bench/results", options.out);
    fs.writeFileSync(`${base}.json`, `${JSON.stringify(run, null, 2)}\n`);
    const markdown = renderMarkdown(run);
    fs.writeFileSync(`${base}.md`, markdown);
    process.stdout.write(markdown);
    log(`wrote ${base}.json and ${base}.md`);
    if (options.writeDocs) {
        log("regenerating the docs from the results (npm run docs)");
        execFileSync("npm", ["run", "-s", "docs"], {stdio: "inherit"});
    }
}

async function benchModel(preset: BenchModel, tokens: number, reps: number, peerBinary: string, run: BenchRun): Promise<ModelResult> {
    const modelPath = path.resolve(`models/chat-worker-${preset}.gguf`);
    const description = describeSyntheticModel(preset);
    if (!fs.existsSync(modelPath) || fs.statSync(modelPath).size !== description.bytes) {
        log(`writing the ${preset} model to ${modelPath}`);
        await writeSyntheticModel({preset, out: modelPath});
    }
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-bench-state-"));
    const started: RunningServer[] = [];
    const start = async <T extends RunningServer>(what: string, starting: () => Promise<T>): Promise<T> => {
        log(`${preset}: starting ${what}`);
        const server = await starting();
        started.push(server);
        return server;
    };
    try {
        const ours = await start("chat-worker", () => startWorker({modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT, stateDir}));
        const oursCold = await start("chat-worker without caches", () => startWorker({modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT,
            stateDir: path.join(stateDir, "cold"), extraEnv: {CONVERSATION_CACHE: "false", CONVERSATION_CACHE_MAX_BYTES: "0"}}));
        const peer = await start("llama-server", () => startLlamaServer(peerBinary,
            {modelPath, parallel: PARALLEL, threads: THREADS, contextSize: CONTEXT, logFile: path.join(stateDir, "llama-server.log")}));
        run.peer.args = peer.args.map((arg) => arg === modelPath ? path.relative(process.cwd(), modelPath) : arg);
        const pids = [ours.process.pid, childPid(ours.process.pid), oursCold.process.pid, childPid(oursCold.process.pid), peer.process.pid];
        const quiet = () => waitQuiet(pids);
        const sides: Side[] = [
            {protocol: "chat-worker", server: ours, cold: oursCold, coldExtra: {}, quiet},
            {protocol: "llama-server", server: peer, cold: peer, coldExtra: {cache_prompt: false}, quiet}
        ];
        const prompt: Message[] = [{role: "system", content: "You are a benchmark."}, {role: "user", content: "Warm up."}];
        for (const side of sides) {
            await streamChat(side.protocol, side.server.baseUrl, prompt, 8, SAMPLING);
            await streamChat(side.protocol, side.cold.baseUrl, prompt, 8, SAMPLING, side.coldExtra);
        }
        const cpuVariant = sameCpuVariant(preset, ours, oursCold, peer);
        log(`${preset}: both sides run libggml-cpu-${cpuVariant}.so`);

        const throughput: Record<Protocol, Record<number, number[]>> = {"chat-worker": {}, "llama-server": {}};
        const emptyTtft = (): TtftSamples => Object.fromEntries(TTFT_STATES.map((state) => [state, {ms: [], evaluated: []}])) as unknown as TtftSamples;
        const ttft: Record<Protocol, TtftSamples> = {"chat-worker": emptyTtft(), "llama-server": emptyTtft()};
        const step = {ours: [] as number[], peer: [] as number[], peerServer: [] as number[]};
        const memory = {http: [] as number[], runner: [] as number[], peer: [] as number[]};
        const batchesAtEight = new Map<number, number>();
        for (let rep = 0; rep < reps; rep++) {
            // Alternate who goes first, so neither side always runs on a machine the other just warmed.
            const order = rep % 2 === 0 ? sides : [...sides].reverse();
            for (const streams of STREAM_COUNTS) {
                log(`${preset}: rep ${rep + 1}/${reps}, ${streams} stream(s)`);
                for (const side of order) {
                    const batchesBefore = streams === 8 && side.protocol === "chat-worker"
                        ? histogramBuckets(await metricsText(ours.baseUrl), "chat_worker_decode_batch_tokens") : null;
                    await side.quiet();
                    const samplers = streams === 8 ? memorySamplers(side) : [];
                    const runs = await aggregate(side.protocol, side.server.baseUrl, streams, tokens, rep);
                    const peaks = samplers.map((sampler) => sampler.stop());
                    throughput[side.protocol][streams] ??= [];
                    throughput[side.protocol][streams].push(runs.tokensPerSecond);
                    if (streams !== 8) continue;
                    if (side.protocol === "chat-worker") {
                        step.ours.push(...runs.timings.map(msPerToken));
                        if (peaks[0] != null && peaks[1] != null) {
                            memory.http.push(peaks[0]);
                            memory.runner.push(peaks[1]);
                        }
                        // Only the batches of the 8-stream runs: the other rows form batches in between.
                        const after = histogramBuckets(await metricsText(ours.baseUrl), "chat_worker_decode_batch_tokens");
                        for (const [bound, count] of after)
                            batchesAtEight.set(bound, (batchesAtEight.get(bound) ?? 0) + count - (batchesBefore?.get(bound) ?? 0));
                    } else {
                        step.peer.push(...runs.timings.map(msPerToken));
                        step.peerServer.push(...runs.timings.map((timing) => timing.serverMsPerToken).filter((ms): ms is number => ms != null));
                        if (peaks[0] != null) memory.peer.push(peaks[0]);
                    }
                }
            }
            log(`${preset}: rep ${rep + 1}/${reps}, turn-${TTFT.turn} TTFT`);
            for (const side of order) {
                await side.quiet();
                await measureTtft(side, `${preset}-${side.protocol}-${rep}`, ttft[side.protocol]);
            }
        }
        // Re-checked at the end: a runner restarted mid-run could have loaded another variant.
        sameCpuVariant(preset, ours, oursCold, peer);

        const rows: BenchRow[] = [];
        for (const streams of STREAM_COUNTS)
            rows.push(row(`streams-${streams}`, `${streams} stream${streams === 1 ? "" : "s"}, aggregate`, "tok/s", "higher",
                throughput["chat-worker"][streams], throughput["llama-server"][streams]));
        for (const state of TTFT_STATES) {
            const evaluated = (values: Array<number | null>) => values.every((value) => value != null) ? median(values as number[]) : null;
            rows.push({...row(`ttft-${state}`, `Turn-${TTFT.turn} TTFT, ${TTFT_LABELS[state]}`, "ms", "lower", ttft["chat-worker"][state].ms, ttft["llama-server"][state].ms),
                promptEvaluated: {ours: evaluated(ttft["chat-worker"][state].evaluated), peer: evaluated(ttft["llama-server"][state].evaluated)}});
        }
        const oursTotal = memory.http.map((http, i) => http + memory.runner[i]);
        return {
            preset, file: path.relative(process.cwd(), modelPath), bytes: description.bytes, parameters: description.parameters, tokensPerStream: tokens,
            cpuVariant: {ours: cpuVariant, peer: cpuVariant}, rows,
            stepAtEight: {oursClientMs: summarize(step.ours), peerClientMs: summarize(step.peer), peerServerMs: summarize(step.peerServer)},
            medianBatchTokensAtEight: histogramMedian(new Map(), batchesAtEight),
            memoryAtEight: oursTotal.length > 0 && memory.peer.length > 0 ? {
                oursHttp: summarize(memory.http), oursRunner: summarize(memory.runner), oursTotal: summarize(oursTotal), peer: summarize(memory.peer),
                ratio: median(oursTotal) / median(memory.peer)
            } : null
        };
    } finally {
        for (const server of started.reverse()) await server.stop();
        fs.rmSync(stateDir, {recursive: true, force: true});
    }
}

function row(id: string, label: string, unit: BenchRow["unit"], better: BenchRow["better"], ours: number[], peer: number[]): BenchRow {
    const o = summarize(ours), p = summarize(peer);
    return {id, label, unit, better, ours: o, peer: p, speedRatio: better === "higher" ? o.median / p.median : p.median / o.median};
}

/**
 * The CPU variant every process of both sides mapped. Different variants (or none found) mean
 * the comparison would measure the kernels, not the servers: no row is reported.
 */
function sameCpuVariant(preset: string, ours: RunningServer, oursCold: RunningServer, peer: RunningServer): string {
    const found = {
        "chat-worker runner": loadedCpuVariant(childPid(ours.process.pid)),
        "chat-worker (no cache) runner": loadedCpuVariant(childPid(oursCold.process.pid)),
        "llama-server": loadedCpuVariant(peer.process.pid)
    };
    const variants = new Set(Object.values(found));
    if (variants.size !== 1 || variants.has(null))
        throw new Error(`${preset}: the two sides do not run the same CPU kernels (${Object.entries(found).map(([who, variant]) =>
            `${who}: ${variant == null ? "none found in /proc/PID/maps" : `libggml-cpu-${variant}.so`}`).join("; ")}); refusing to report`);
    return [...variants][0]!;
}

/** Peak RSS samplers for one side's 8-stream run: ours [HTTP process, runner], the peer [its process]. */
function memorySamplers(side: Side): Array<{stop(): number | null}> {
    const pid = side.server.process.pid;
    return side.protocol === "chat-worker"
        ? [peakSampler(() => rssBytes(pid)), peakSampler(() => rssBytes(childPid(pid)))]
        : [peakSampler(() => rssBytes(pid))];
}

/** `streams` concurrent streams of `tokens` each: their tokens over the wall time from the first request to the last token. */
async function aggregate(protocol: Protocol, baseUrl: string, streams: number, tokens: number, rep: number): Promise<{tokensPerSecond: number; timings: StreamTiming[]}> {
    const timings = await Promise.all(Array.from({length: streams}, (_, i) => streamChat(protocol, baseUrl,
        [{role: "system", content: "You are a benchmark."}, {role: "user", content: `Stream ${i} of ${streams}, rep ${rep}:`}], tokens,
        {...SAMPLING, seed: SAMPLING.seed + i})));
    for (const timing of timings)
        if (timing.tokens !== tokens) throw new Error(`${protocol}: a stream generated ${timing.tokens} tokens, not ${tokens}`);
    const wall = (Math.max(...timings.map((timing) => timing.ended)) - Math.min(...timings.map((timing) => timing.started))) / 1000;
    return {tokensPerSecond: streams * tokens / wall, timings};
}

/** Conversation ids route our worker; llama-server routes by prompt similarity and needs none. */
function extraFor(protocol: Protocol, id: string): Record<string, unknown> {
    return protocol === "chat-worker" ? {conversation_id: id} : {};
}

/** Plays turns 1 .. turn - 1 of a new conversation, sending each real reply back; returns the replies. */
async function playUntil(side: Side, id: string, turn: number): Promise<string[]> {
    const replies: string[] = [];
    for (let t = 1; t < turn; t++)
        replies.push((await streamChat(side.protocol, side.server.baseUrl, conversationWithReplies(id, t, replies), TTFT.maxTokens, SAMPLING,
            extraFor(side.protocol, id))).text);
    return replies;
}

/**
 * One rep of the TTFT rows for one side: warm (sent right after turn 9), read (sent once both servers
 * are idle, as after a user read the reply), restored (after fillers took every sequence), cold.
 */
async function measureTtft(side: Side, tag: string, into: TtftSamples): Promise<void> {
    const record = (state: TtftState, timing: StreamTiming) => {
        into[state].ms.push(timing.ttft * 1000);
        into[state].evaluated.push(timing.promptEvaluated);
    };
    const warmId = `warm-${tag}`;
    const warmTurn = conversationWithReplies(warmId, TTFT.turn, await playUntil(side, warmId, TTFT.turn));
    record("warm", await streamChat(side.protocol, side.server.baseUrl, warmTurn, TTFT.maxTokens, SAMPLING, extraFor(side.protocol, warmId)));

    const readId = `read-${tag}`;
    const readTurn = conversationWithReplies(readId, TTFT.turn, await playUntil(side, readId, TTFT.turn));
    await side.quiet();
    record("read", await streamChat(side.protocol, side.server.baseUrl, readTurn, TTFT.maxTokens, SAMPLING, extraFor(side.protocol, readId)));

    const restoredId = `restored-${tag}`;
    const restoredTurn = conversationWithReplies(restoredId, TTFT.turn, await playUntil(side, restoredId, TTFT.turn));
    for (let filler = 0; filler < TTFT.fillers; filler++)
        await streamChat(side.protocol, side.server.baseUrl, fillerConversation(`${tag}-${filler}`, TTFT.fillerChars), 1, SAMPLING,
            extraFor(side.protocol, `filler-${tag}-${filler}`));
    record("restored", await streamChat(side.protocol, side.server.baseUrl, restoredTurn, TTFT.maxTokens, SAMPLING, extraFor(side.protocol, restoredId)));

    // The warm conversation's turn again, on no cache: the whole prompt is evaluated.
    record("cold", await streamChat(side.protocol, side.cold.baseUrl, warmTurn, TTFT.maxTokens, SAMPLING, side.coldExtra));
}

async function metricsText(baseUrl: string): Promise<string> {
    return (await fetch(`${baseUrl}/metrics`)).text();
}

/** lscpu's model name (os.cpus() may say less under a hypervisor). */
function cpuModel(): string {
    try {
        const name = /^Model name:\s+(.+)$/m.exec(execFileSync("lscpu", {encoding: "utf8", env: {...process.env, LC_ALL: "C"}}))?.[1];
        if (name != null) return name.trim();
    } catch {
        // no lscpu
    }
    return os.cpus()[0]?.model ?? "unknown";
}

main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
});
