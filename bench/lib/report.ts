import fs from "node:fs";
import type {Summary} from "./summary.js";

/** One row of the comparison: the same measurement on both servers, every rep. */
export interface BenchRow {
    id: string;
    label: string;
    unit: "tok/s" | "ms";
    /** Which direction is better; `speedRatio` is oriented so that above 1 means chat-worker is faster. */
    better: "higher" | "lower";
    ours: Summary;
    peer: Summary;
    /** Medians: ours / peer for "higher", peer / ours for "lower". Above 1: chat-worker faster. */
    speedRatio: number;
    /** Prompt tokens each server evaluated for the measured request (TTFT rows), median over reps. */
    promptEvaluated?: {ours: number | null; peer: number | null};
}

export interface ModelResult {
    preset: string;
    file: string;
    bytes: number;
    parameters: number;
    tokensPerStream: number;
    /** The ggml CPU backend each side mapped (/proc/PID/maps): our runner(s) and llama-server. Equal, or no rows are reported. */
    cpuVariant: {ours: string; peer: string};
    rows: BenchRow[];
    /** At 8 streams: milliseconds per token of each stream (one decode step per token), client-side on both, and the peer's own timing. */
    stepAtEight: {oursClientMs: Summary; peerClientMs: Summary; peerServerMs: Summary};
    /** The median evaluation batch (tokens) of our worker during the 8-stream runs, from /metrics. */
    medianBatchTokensAtEight: number | null;
    /** Peak resident memory per rep while 8 streams run: ours is the HTTP process plus its runner, the peer one process. */
    memoryAtEight: {oursHttp: Summary; oursRunner: Summary; oursTotal: Summary; peer: Summary; ratio: number} | null;
}

export interface BenchRun {
    schema: 2;
    date: string;
    machine: {cpu: string; cores: number; memoryGiB: number; kernel: string; node: string};
    versions: {chatWorker: string; nodeLlamaCpp: string; llamaCpp: {release: string; commit: string | null}};
    peer: {cmake: string; target: string; cpuLibraries: string; args: string[]};
    settings: {
        parallel: number; threads: number; contextSize: number; reps: number;
        sampling: {temperature: number; topK: number; topP: number; minP: number; repeatPenalty: number; repeatLastN: number; seed: number};
        streamed: true; ignoreEos: true; ttft: {turn: number; maxTokens: number; fillers: number; fillerChars: number};
        /** Each measurement starts once every server of the bench is idle (runs from 2026-12-06 07:40 on). */
        quietBetween?: boolean;
    };
    models: ModelResult[];
}

const formatValue = (value: number, unit: BenchRow["unit"]) => unit === "ms" ? `${Math.round(value).toLocaleString("en-US")}` : value.toFixed(value < 100 ? 1 : 0);
const spread = (summary: Summary, unit: BenchRow["unit"]) =>
    `${formatValue(summary.min, unit)} / **${formatValue(summary.median, unit)}** / ${formatValue(summary.max, unit)}`;
const fixedSpread = (summary: Summary, digits: number) =>
    `${summary.min.toFixed(digits)} / **${summary.median.toFixed(digits)}** / ${summary.max.toFixed(digits)}`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const mibSpread = (summary: Summary) => `${mib(summary.min)} / **${mib(summary.median)}** / ${mib(summary.max)}`;

/** "1.23x faster" / "0.81x (1.23x slower)": a ratio above 1 always means chat-worker is faster. */
export function describeRatio(speedRatio: number): string {
    return speedRatio >= 1 ? `${speedRatio.toFixed(2)}x faster` : `${(1 / speedRatio).toFixed(2)}x slower`;
}

/**
 * Issue 23's goals, each as the least speed ratio (above 1: chat-worker faster) a row must reach, or
 * for memory the most our total may be of the peer's. The real shape (0.5b) must lead at every
 * stream count; the bench model, whose ~2 ms tokens magnify host overhead, must reach 0.9x.
 */
export const GOALS: ReadonlyArray<{preset: string; rows: ReadonlyArray<{id: string; least: number}>; memoryAtMost: number}> = [
    {preset: "0.5b", memoryAtMost: 1.15, rows: [
        {id: "streams-1", least: 1}, {id: "streams-2", least: 1}, {id: "streams-4", least: 1}, {id: "streams-8", least: 1},
        {id: "ttft-warm", least: 1.25}, {id: "ttft-read", least: 1.25}, {id: "ttft-restored", least: 1.25}, {id: "ttft-cold", least: 1}]},
    {preset: "bench", memoryAtMost: 1.15, rows: [
        {id: "streams-1", least: 0.9}, {id: "streams-8", least: 0.9},
        {id: "ttft-warm", least: 1.25}, {id: "ttft-read", least: 1.25}, {id: "ttft-restored", least: 1.25}, {id: "ttft-cold", least: 1}]}
];

/** One line per goal of a measured model: the target, the median ratio and whether it was met. */
export function renderGoals(run: BenchRun): string {
    const lines = ["| Model | Row | Goal | Measured (median) | Met |", "| --- | --- | --- | --- | --- |"];
    for (const goal of GOALS) {
        const model = run.models.find((candidate) => candidate.preset === goal.preset);
        if (model == null) continue;
        for (const {id, least} of goal.rows) {
            const row = model.rows.find((candidate) => candidate.id === id);
            if (row == null) continue;
            lines.push(`| ${model.preset} | ${row.label} | at least ${least.toFixed(2)} (${describeRatio(least)}) | ` +
                `${row.speedRatio.toFixed(2)} (${describeRatio(row.speedRatio)}) | ${row.speedRatio >= least ? "yes" : "no"} |`);
        }
        if (model.memoryAtEight != null)
            lines.push(`| ${model.preset} | RSS at 8 busy streams | at most ${goal.memoryAtMost.toFixed(2)}x the peer's | ` +
                `${model.memoryAtEight.ratio.toFixed(2)}x | ${model.memoryAtEight.ratio <= goal.memoryAtMost ? "yes" : "no"} |`);
    }
    return `${lines.join("\n")}\n`;
}

/** The results as Markdown: every figure comes from the run object, nothing else. */
export function renderMarkdown(run: BenchRun): string {
    const s = run.settings;
    const lines: string[] = [];
    lines.push(`Run ${run.date.slice(0, 16).replace("T", " ")} UTC on ${run.machine.cpu}, ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB, ` +
        `Linux ${run.machine.kernel}, Node ${run.machine.node}.`);
    lines.push(`chat-worker ${run.versions.chatWorker} on node-llama-cpp ${run.versions.nodeLlamaCpp}; the peer is llama-server from the same llama.cpp ` +
        `(release ${run.versions.llamaCpp.release}${run.versions.llamaCpp.commit != null ? `, commit ${run.versions.llamaCpp.commit.slice(0, 12)}` : ""}), ` +
        `built with \`cmake ${run.peer.cmake}\` (target ${run.peer.target}) and running ${run.peer.cpuLibraries}.`);
    lines.push(`Both: ${s.parallel} sequences / slots, ${s.threads} thread(s), context ${s.contextSize} per sequence, streamed, ignore_eos; the same sampling on both sides: ` +
        `temperature ${s.sampling.temperature}, top_k ${s.sampling.topK}, top_p ${s.sampling.topP}, min_p ${s.sampling.minP}, ` +
        `repeat penalty ${s.sampling.repeatPenalty} over the last ${s.sampling.repeatLastN} tokens. ` +
        `${s.reps} reps; each rep runs every row on both servers, alternating which goes first${s.quietBetween === true ? ", each measurement starting once every server of the bench is idle" : ""}. Cells: min / **median** / max.`);
    lines.push(`Throughput: the tokens of all streams over the wall time from the first request to the last token. ` +
        `TTFT: turn ${s.ttft.turn} of a new conversation per rep whose earlier turns sent the real replies back (max_tokens ${s.ttft.maxTokens}); ` +
        `warm: right after turn ${s.ttft.turn - 1}; ${s.quietBetween === true ? "warm, after a reading pause: once both servers are idle (what a user reading the reply leaves; our reply settle runs then); " : ""}restored: after ${s.ttft.fillers} other conversations took every sequence; ` +
        `cold: the same turn on no cache (ours: a worker without the conversation cache; the peer: cache_prompt false).`);
    for (const model of run.models) {
        lines.push("");
        lines.push(`### ${model.preset}: ${(model.parameters / 1e6).toFixed(0)}M parameters, Q8_0, ${(model.bytes / 1e6).toFixed(0)} MB ` +
            `(${model.tokensPerStream} tokens per stream)`);
        lines.push("");
        lines.push(`CPU kernels: chat-worker libggml-cpu-${model.cpuVariant.ours}.so, llama-server libggml-cpu-${model.cpuVariant.peer}.so (from /proc/PID/maps).`);
        lines.push("");
        lines.push("| Row | chat-worker | llama-server | chat-worker vs llama-server |");
        lines.push("| --- | ---: | ---: | --- |");
        for (const row of model.rows) {
            const evaluated = row.promptEvaluated != null
                ? ` (prompt tokens evaluated: ${row.promptEvaluated.ours ?? "?"} vs ${row.promptEvaluated.peer ?? "?"})` : "";
            lines.push(`| ${row.label} (${row.unit}) | ${spread(row.ours, row.unit)} | ${spread(row.peer, row.unit)} | ` +
                `${row.speedRatio.toFixed(2)}: ${describeRatio(row.speedRatio)}${evaluated} |`);
        }
        const step = model.stepAtEight;
        lines.push(`| Time per token at 8 streams (ms per stream, client-side; the peer's own timing in brackets) | ${fixedSpread(step.oursClientMs, 1)} | ` +
            `${fixedSpread(step.peerClientMs, 1)} (${fixedSpread(step.peerServerMs, 1)}) | ${(step.peerClientMs.median / step.oursClientMs.median).toFixed(2)} |`);
        if (model.memoryAtEight != null) {
            const m = model.memoryAtEight;
            lines.push(`| RSS at 8 busy streams (HTTP process + runner; peak per rep) | ${mibSpread(m.oursTotal)} ` +
                `(${mib(m.oursHttp.median)} + ${mib(m.oursRunner.median)}) | ${mibSpread(m.peer)} | ${m.ratio.toFixed(2)}x the peer's memory |`);
        }
        if (model.medianBatchTokensAtEight != null)
            lines.push(`\nOur median decode batch during the 8-stream runs: ${model.medianBatchTokensAtEight} tokens (from /metrics).`);
    }
    lines.push("");
    lines.push("The ratio column compares medians; above 1 (\"faster\") chat-worker is ahead, for TTFT too (the peer's time over ours).");
    lines.push("");
    lines.push("#### Against the goals (issue 23)");
    lines.push("");
    lines.push(renderGoals(run).trimEnd());
    return `${lines.join("\n")}\n`;
}

/** Replaces a section of a docs page (between `<!-- name:start -->` and `<!-- name:end -->`) with the latest table. */
export function updateReadme(file: string, markdown: string, name = "bench"): void {
    if (!fs.existsSync(file)) return;
    const readme = fs.readFileSync(file, "utf8");
    const startMarker = `<!-- ${name}:start -->`;
    const start = readme.indexOf(startMarker);
    const end = readme.indexOf(`<!-- ${name}:end -->`);
    if (start === -1 || end === -1) return;
    fs.writeFileSync(file, `${readme.slice(0, start + startMarker.length)}\n${markdown}${readme.slice(end)}`);
}
