/**
 * Where one multi-sequence generation step goes, in node-llama-cpp alone (one context,
 * `sequence.evaluate` per sequence, no HTTP, no runner), configured as our engine configures it.
 *
 * Each step is timed phase by phase on the main thread: the decode (`_ctx.decodeBatch`, call to
 * resolve), each sequence's sampling (`_ctx.sampleToken`, call to resolve), and the JavaScript
 * between the last sample of one step and the next decode. Every thread's CPU time comes from
 * /proc/self/task/TID/schedstat (nanoseconds), read around the generation.
 *
 *   UV_THREADPOOL_SIZE=1 npx tsx bench/stepProbe.ts --model models/chat-worker-0.5b.gguf --sequences 8 --tokens 48 --sampling explicit
 *
 * `--peer BINARY` runs llama-server instead (same model, `-np sequences`, 1 thread) and reports its
 * own `timings` for the same requests (non-streamed, ignore_eos, the same sampling).
 * To measure patches/node-llama-cpp+<version>.patch before it is installed, run it under
 * `node --import ./bench/lib/patchedNodeLlamaCpp.mjs --import tsx` with PROBE_PATCHED=1 (recorded).
 * `--order` starts the sequences in another order than their IDs, as requests arriving in service do.
 * Prints one JSON line. docs/decisions/023-eight-stream-step.md has the findings.
 */
import fs from "node:fs";
import path from "node:path";
import {parseArgs} from "node:util";
import {getLlama, LlamaLogLevel, TokenBias, type Token} from "node-llama-cpp";
import {peerArgs} from "./lib/peer.js";
import {freePort, stopper, waitFor} from "./lib/servers.js";
import {spawn} from "node:child_process";
import {StepGate} from "../src/engine/llama/stepGate.js";
import {maximumParallelism, recordingStrategy} from "../src/engine/llama/batchStrategy.js";
import {deterministicBatching} from "../src/engine/llama/determinism.js";

const {values: args} = parseArgs({options: {
    model: {type: "string", default: "models/chat-worker-0.5b.gguf"},
    sequences: {type: "string", default: "8"},
    tokens: {type: "string", default: "48"},
    sampling: {type: "string", default: "explicit"},
    flash: {type: "string", default: "off"},
    "batch-size": {type: "string", default: "512"},
    peer: {type: "string"},
    warmup: {type: "string", default: "4"},
    /** The engine's batching: `deterministic` (DETERMINISTIC on, the CPU default) or `fill` (off), both with BATCH_FILL's gate; `library`: node-llama-cpp's own. */
    batching: {type: "string", default: "deterministic"},
    /** The order the sequences (IDs 0..n-1) start in, as requests arriving one after another would: `ascending`, `rotated` (from n/2) or `reversed`. */
    order: {type: "string", default: "ascending"}
}});
const sequences = Number(args.sequences);
const tokens = Number(args.tokens);
/** The bench's explicit sampling (both sides), or OpenAI's defaults as our worker receives them (top_k 0 = the whole vocabulary, top_p 1). */
const sampling = args.sampling === "openai"
    ? {temperature: 0.7, topK: 0, topP: 1, minP: 0}
    : {temperature: 0.7, topK: 40, topP: 0.9, minP: 0};
const prompts = Array.from({length: sequences}, (_, i) =>
    `Story ${i + 1}. Once upon a time, in a town by the sea, there lived a clockmaker who kept ${i + 3} cats and a lighthouse.`);

function threadTimes(): Map<string, {name: string; runNs: number; waitNs: number}> {
    const result = new Map<string, {name: string; runNs: number; waitNs: number}>();
    for (const tid of fs.readdirSync("/proc/self/task")) {
        try {
            const [run, wait] = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").trim().split(" ").map(Number);
            const name = fs.readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
            result.set(tid, {name: tid === String(process.pid) ? "main" : name, runNs: run, waitNs: wait});
        } catch {
            // the thread ended
        }
    }
    return result;
}

/** The CPU kernel library a process mapped (libggml-cpu-<variant>.so): both sides must run the same. */
function cpuVariant(pid: number | "self"): string | null {
    return /libggml-cpu-([\w-]+)\.so/.exec(fs.readFileSync(`/proc/${pid}/maps`, "utf8"))?.[1] ?? null;
}

function stats(values: number[]): {min: number; median: number; max: number; mean: number; n: number} {
    const sorted = [...values].sort((a, b) => a - b);
    const round = (value: number) => Number(value.toFixed(3));
    return {
        min: round(sorted[0] ?? NaN), median: round(sorted[Math.floor(sorted.length / 2)] ?? NaN), max: round(sorted.at(-1) ?? NaN),
        mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)), n: sorted.length
    };
}

async function ours(): Promise<unknown> {
    const llama = await getLlama({gpu: false, maxThreads: 1, build: "never", logLevel: LlamaLogLevel.error});
    const model = await llama.loadModel({modelPath: args.model!});
    const gate = args.batching === "library" ? null : new StepGate(true);
    const context = await model.createContext({
        sequences, contextSize: 4096, batchSize: Number(args["batch-size"]), threads: 1,
        ...(args.flash === "auto" ? {} : {flashAttention: args.flash === "on"}),
        ...(gate == null ? {} : {batching: {itemPrioritizationStrategy: recordingStrategy(
            args.batching === "deterministic" ? deterministicBatching(false) : maximumParallelism, () => undefined, gate)}})
    });
    // Timestamps of the native calls, on the main thread.
    type Event = {kind: "decode" | "sample"; start: number; end: number; batch: number};
    const events: Event[] = [];
    let recording = false;
    const ctx = (context as unknown as {_ctx: Record<string, (...a: unknown[]) => unknown>})._ctx;
    const wrap = (name: "decodeBatch" | "sampleToken" | "sampleTokens") => {
        const original = ctx[name];
        if (typeof original !== "function") return;
        // The addon's methods are read-only on its prototype: an own property shadows them.
        Object.defineProperty(ctx, name, {configurable: true, writable: true, value: function (...callArgs: unknown[]) {
            const start = performance.now();
            const result = original.apply(ctx, callArgs) as Promise<unknown>;
            if (!recording) return result;
            return result.then((value) => {
                events.push({kind: name === "decodeBatch" ? "decode" : "sample", start, end: performance.now(),
                    batch: name === "sampleTokens" ? (callArgs[0] as ArrayLike<number>).length : 1});
                return value;
            });
        }});
    };
    // The order sequences enter each batch: llama.cpp's split_equal takes only consecutive sequence ids into one ubatch.
    const batchOrders: number[][] = [];
    const addToBatch = ctx.addToBatch;
    Object.defineProperty(ctx, "initBatch", {configurable: true, writable: true, value: (() => {
        const initBatch = ctx.initBatch;
        return (...callArgs: unknown[]) => {
            if (recording) batchOrders.push([]);
            return initBatch.apply(ctx, callArgs);
        };
    })()});
    Object.defineProperty(ctx, "addToBatch", {configurable: true, writable: true, value: (...callArgs: unknown[]) => {
        if (recording) batchOrders.at(-1)?.push(callArgs[0] as number);
        return addToBatch.apply(ctx, callArgs);
    }});
    wrap("decodeBatch");
    wrap("sampleToken");
    wrap("sampleTokens");

    const bias = new TokenBias(model.tokenizer);
    for (const token of [model.tokens.eos, model.tokens.eot].filter((token): token is Token => token != null))
        bias.set(token, "never");
    const seqs = Array.from({length: sequences}, () => context.getSequence());
    const warmup = Number(args.warmup);
    let before: ReturnType<typeof threadTimes> | null = null;
    let startedAt = 0;
    let generated = 0;
    let arrived = 0;
    const run = async (index: number) => {
        const seq = seqs[index];
        let count = 0;
        gate?.enter();
        try {
        for await (const _ of seq.evaluate(model.tokenize(prompts[index], false), {...sampling, seed: 1234 + index, tokenBias: bias})) {
            count++;
            if (count === warmup) {
                // Everything before the warmup's last token (prompts, first steps) is left out.
                arrived++;
                if (arrived === sequences) {
                    recording = true;
                    before = threadTimes();
                    startedAt = performance.now();
                }
            } else if (count > warmup) generated++;
            if (count >= tokens + warmup) break;
        }
        } finally {
            gate?.leave();
        }
    };
    const startOrder = seqs.map((_, index) => index);
    if (args.order === "reversed") startOrder.reverse();
    else if (args.order === "rotated") startOrder.push(...startOrder.splice(0, Math.floor(sequences / 2)));
    const runs: Promise<void>[] = [];
    for (const index of startOrder) {
        runs.push(run(index));
        // Each prompt is queued before the next request's.
        await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(runs);
    const wall = performance.now() - startedAt;
    const after = threadTimes();
    recording = false;

    // Steps: each decode starts one; sampling ends with the last sample resolved before the next decode.
    const decodes = events.filter((event) => event.kind === "decode").sort((a, b) => a.start - b.start);
    const samples = events.filter((event) => event.kind === "sample").sort((a, b) => a.start - b.start);
    const decodeMs: number[] = [], samplePhaseMs: number[] = [], jsGapMs: number[] = [], stepMs: number[] = [], perSampleMs: number[] = [];
    for (let i = 0; i < decodes.length - 1; i++) {
        const decode = decodes[i], next = decodes[i + 1];
        const own = samples.filter((sample) => sample.start >= decode.end && sample.end <= next.start);
        decodeMs.push(decode.end - decode.start);
        const lastSample = own.length > 0 ? Math.max(...own.map((sample) => sample.end)) : decode.end;
        samplePhaseMs.push(lastSample - decode.end);
        jsGapMs.push(next.start - lastSample);
        stepMs.push(next.start - decode.start);
        for (const sample of own) perSampleMs.push((sample.end - sample.start) / sample.batch);
    }
    const threads: Record<string, {cpuMs: number; waitMs: number}> = {};
    for (const [tid, end] of after) {
        const start = before!.get(tid);
        const cpuMs = (end.runNs - (start?.runNs ?? 0)) / 1e6;
        const waitMs = (end.waitNs - (start?.waitNs ?? 0)) / 1e6;
        if (cpuMs < 1) continue;
        const key = `${end.name}:${tid}`;
        threads[key] = {cpuMs: Number(cpuMs.toFixed(1)), waitMs: Number(waitMs.toFixed(1))};
    }
    const steps = decodes.length - 1;
    const result = {
        side: "node-llama-cpp", batching: args.batching, order: args.order, patched: process.env.PROBE_PATCHED === "1", sequences, tokens, sampling: args.sampling, flash: context.flashAttention,
        uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? "4", tokensPerSecond: Number((generated / (wall / 1000)).toFixed(2)), steps,
        perStepMs: {step: stats(stepMs), decode: stats(decodeMs), samplingPhase: stats(samplePhaseMs), jsGap: stats(jsGapMs), eachSample: stats(perSampleMs)},
        cpuMsPerStep: Object.fromEntries(Object.entries(threads).map(([key, value]) =>
            [key, {cpu: Number((value.cpuMs / steps).toFixed(2)), runQueueWait: Number((value.waitMs / steps).toFixed(2))}])),
        variant: cpuVariant("self"),
        batchOrders: batchOrders.slice(0, 6).map((order) => order.join(",")),
        // llama.cpp's ubatches per batch: runs of consecutive, increasing sequence IDs.
        ubatchesPerBatch: stats(batchOrders.map((order) => order.filter((id, i) => i === 0 || id !== order[i - 1] + 1).length)),
        sequencesPerBatch: stats(batchOrders.map((order) => new Set(order).size)),
        loadAvg: fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
    };
    await llama.dispose();
    return result;
}

async function peer(binary: string): Promise<unknown> {
    const port = await freePort();
    const argv = peerArgs({modelPath: path.resolve(args.model!), port, parallel: sequences, threads: 1, contextSize: 4096});
    const child = spawn(binary, argv, {cwd: path.dirname(binary), stdio: ["ignore", "ignore", "ignore"]});
    try {
        await waitFor(`http://127.0.0.1:${port}/health`, child, 300_000);
        const request = (prompt: string, n: number, seed: number) => fetch(`http://127.0.0.1:${port}/v1/completions`, {
            method: "POST", headers: {"content-type": "application/json"},
            body: JSON.stringify({prompt, max_tokens: n, temperature: sampling.temperature, top_k: sampling.topK, top_p: sampling.topP,
                min_p: sampling.minP, seed, ignore_eos: true, stream: false})
        }).then((response) => response.json() as Promise<{timings: {prompt_ms: number; predicted_ms: number; predicted_n: number; predicted_per_token_ms: number}}>);
        await Promise.all(prompts.map((prompt, i) => request(prompt, 4, i)));
        const cpuBefore = fs.readFileSync(`/proc/${child.pid}/schedstat`, "utf8").split(" ").map(Number);
        const started = performance.now();
        const answers = await Promise.all(prompts.map((prompt, i) => request(prompt, tokens + Number(args.warmup), 1234 + i)));
        const wall = performance.now() - started;
        const cpuAfter = fs.readFileSync(`/proc/${child.pid}/schedstat`, "utf8").split(" ").map(Number);
        const variant = cpuVariant(child.pid!);
        const generated = answers.reduce((sum, answer) => sum + answer.timings.predicted_n, 0);
        return {
            side: "llama-server", variant, sequences, tokens: tokens + Number(args.warmup), sampling: args.sampling,
            tokensPerSecondWall: Number((generated / (wall / 1000)).toFixed(2)),
            perTokenMsPerSlot: stats(answers.map((answer) => answer.timings.predicted_per_token_ms)),
            promptMs: stats(answers.map((answer) => answer.timings.prompt_ms)),
            // The main thread does decode and sampling (1 thread); per step = per generated token of one slot.
            cpuMsPerStep: Number(((cpuAfter[0] - cpuBefore[0]) / 1e6 / (tokens + Number(args.warmup))).toFixed(2)),
            runQueueWaitMsPerStep: Number(((cpuAfter[1] - cpuBefore[1]) / 1e6 / (tokens + Number(args.warmup))).toFixed(2)),
            loadAvg: fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
        };
    } finally {
        await stopper(child)();
    }
}

console.log(JSON.stringify(args.peer != null ? await peer(args.peer) : await ours()));
