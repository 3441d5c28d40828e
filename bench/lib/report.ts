import fs from "node:fs";

export interface ServerResult {
    singleStream: number;
    scaling: Record<string, number>;
    ttft: {warm: number; restored: number; cold: number};
    samples: unknown;
}

export interface BenchResult {
    date: string;
    machine: {cpu: string; cores: number; memoryGiB: number; node: string; platform: string};
    settings: {model: string; parallel: number; threads: number; contextSize: number; tokens: number; reps: number; sampling: unknown};
    engineLimit: number;
    /** The worker with DETERMINISTIC=false (the others run with the default, on for the CPU). */
    determinismOff?: {singleStream: number; eightStreams: number};
    /** The worker (llama.cpp in a runner process) against the same worker with llama.cpp in-process. */
    runnerBoundary?: {singleStream: number; eightStreams: number; inProcessSingleStream: number; inProcessEightStreams: number};
    /** CPU time per generated token of the HTTP process's main thread (the event loop) and of the runner, at 1 and 8 streams; null without /proc. */
    hostMicrosPerToken?: {mainThreadSingle: number | null; mainThreadEight: number | null; runnerSingle: number | null; runnerEight: number | null};
    /** The median evaluation batch (tokens) of our worker during the 8-stream runs of row c, from /metrics. */
    medianBatchTokensAtEight?: number | null;
    /** /enhance latency and tokens: the job-type template with its grammar, and the messages shape without. */
    enhance?: {grammarSeconds: number; grammarTokens: number; plainSeconds: number; plainTokens: number};
    /** Resident memory: one more slot, and each process at 8 busy streams (peak); null without /proc. */
    memory?: {perSlotBytes: number | null; httpAtEightBytes: number | null; runnerAtEightBytes: number | null; peerAtEightBytes: number | null};
    bandwidthBytesPerSecond: number | null;
    weightBytes: number;
    servers: Record<string, ServerResult>;
}

const fixed = (value: number, digits = 0) => value.toFixed(digits);
const ratio = (value: number) => `${value.toFixed(2)}x`;
const ms = (seconds: number) => `${(seconds * 1000).toFixed(0)} ms`;

export function renderMarkdown(result: BenchResult): string {
    const ours = result.servers["chat-worker"];
    const peer = result.servers["llama-server"];
    const lines: string[] = [];
    lines.push(`Machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.memoryGiB} GiB, ${result.machine.platform}, Node ${result.machine.node}. ` +
        `Run ${result.date.slice(0, 16).replace("T", " ")} UTC.`);
    lines.push(`Model ${result.settings.model} (synthetic Qwen2, Q8_0), ${result.settings.parallel} sequences/slots, ${result.settings.threads} threads, ` +
        `context ${result.settings.contextSize} per sequence, ${result.settings.tokens} tokens per stream, median of ${result.settings.reps}.`);
    lines.push("");
    lines.push("| Measure | chat-worker | ratio | llama-server | ours / peer |");
    lines.push("| --- | ---: | ---: | ---: | ---: |");
    lines.push(`| a. Engine limit, in-process decode | ${fixed(result.engineLimit)} tok/s | 1.00x | | |`);
    lines.push(`| b. Single stream over HTTP | ${fixed(ours.singleStream)} tok/s | ${ratio(ours.singleStream / result.engineLimit)} of (a) | ` +
        `${peer ? `${fixed(peer.singleStream)} tok/s` : "—"} | ${peer ? ratio(ours.singleStream / peer.singleStream) : "—"} |`);
    for (const streams of ["1", "2", "4", "8"]) {
        const value = ours.scaling[streams];
        lines.push(`| c. ${streams} concurrent stream${streams === "1" ? "" : "s"}, aggregate | ${fixed(value)} tok/s | ${ratio(value / ours.scaling["1"])} of 1 | ` +
            `${peer ? `${fixed(peer.scaling[streams])} tok/s (${ratio(peer.scaling[streams] / peer.scaling["1"])})` : "—"} | ${peer ? ratio(value / peer.scaling[streams]) : "—"} |`);
    }
    for (const state of ["warm", "restored", "cold"] as const) {
        const value = ours.ttft[state];
        lines.push(`| d. Turn-10 TTFT, ${state} | ${ms(value)} | ${ratio(value / ours.ttft.cold)} of cold | ` +
            `${peer ? `${ms(peer.ttft[state])} (${ratio(peer.ttft[state] / peer.ttft.cold)})` : "—"} | ${peer ? ratio(peer.ttft[state] / value) + " faster" : "—"} |`);
    }
    if (result.determinismOff != null) {
        const off = result.determinismOff;
        lines.push(`| e. Cost of DETERMINISTIC: single stream, with / without | ${fixed(ours.singleStream)} / ${fixed(off.singleStream)} tok/s | ` +
            `${ratio(ours.singleStream / off.singleStream)} | | |`);
        lines.push(`| e. Cost of DETERMINISTIC: 8 streams, with / without | ${fixed(ours.scaling["8"])} / ${fixed(off.eightStreams)} tok/s | ` +
            `${ratio(ours.scaling["8"] / off.eightStreams)} | | |`);
    }
    if (result.runnerBoundary != null) {
        const boundary = result.runnerBoundary;
        // Extra wall time per token that crossing the process boundary costs (negative: within noise).
        const perToken = (runner: number, inProcess: number) => `${((1 / runner - 1 / inProcess) * 1e6).toFixed(0)} µs/token`;
        lines.push(`| g. Runner process vs llama.cpp in-process, single stream | ${fixed(boundary.singleStream)} / ${fixed(boundary.inProcessSingleStream)} tok/s | ` +
            `${ratio(boundary.singleStream / boundary.inProcessSingleStream)} (${perToken(boundary.singleStream, boundary.inProcessSingleStream)}) | | |`);
        lines.push(`| g. Runner process vs llama.cpp in-process, 8 streams | ${fixed(boundary.eightStreams)} / ${fixed(boundary.inProcessEightStreams)} tok/s | ` +
            `${ratio(boundary.eightStreams / boundary.inProcessEightStreams)} (${perToken(boundary.eightStreams, boundary.inProcessEightStreams)}) | | |`);
    }
    const host = result.hostMicrosPerToken;
    if (host != null) {
        const micros = (value: number | null) => value == null ? "n/a" : `${value.toFixed(0)} µs`;
        lines.push(`| h. Host time per token, main thread (1 / 8 streams) | ${micros(host.mainThreadSingle)} / ${micros(host.mainThreadEight)} | | | |`);
        lines.push(`| h. Runner CPU per token (1 / 8 streams) | ${micros(host.runnerSingle)} / ${micros(host.runnerEight)} | | | |`);
    }
    if (result.medianBatchTokensAtEight !== undefined)
        lines.push(`| c. Median decode batch at 8 streams | ${result.medianBatchTokensAtEight ?? "n/a"} tokens | | | |`);
    if (result.enhance != null) {
        const e = result.enhance;
        lines.push(`| i. /enhance latency, grammar (job-type template) | ${ms(e.grammarSeconds)} (${e.grammarTokens} tokens) | | | |`);
        lines.push(`| i. /enhance latency, no grammar (messages shape) | ${ms(e.plainSeconds)} (${e.plainTokens} tokens) | ${ratio(e.grammarSeconds / e.plainSeconds)} with grammar | | |`);
    }
    if (result.memory != null) {
        const m = result.memory;
        const mib = (bytes: number | null) => bytes == null ? "n/a" : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
        lines.push(`| j. Memory per slot (RSS, PARALLEL 8 vs 1) | ${mib(m.perSlotBytes)} | | | |`);
        const ours = m.httpAtEightBytes != null && m.runnerAtEightBytes != null ? m.httpAtEightBytes + m.runnerAtEightBytes : null;
        lines.push(`| j. RSS at 8 busy streams (HTTP + runner) | ${mib(ours)} (${mib(m.httpAtEightBytes)} + ${mib(m.runnerAtEightBytes)}) | | ` +
            `${mib(m.peerAtEightBytes)} | ${ours != null && m.peerAtEightBytes != null ? `${ratio(ours / m.peerAtEightBytes)} of peer` : "—"} |`);
    }
    if (result.bandwidthBytesPerSecond != null) {
        const ceiling = result.bandwidthBytesPerSecond / result.weightBytes;
        lines.push(`| f. Bandwidth ceiling (${(result.bandwidthBytesPerSecond / 1e9).toFixed(1)} GB/s ÷ ${(result.weightBytes / 1e6).toFixed(1)} MB of weights per token) | ` +
            `${fixed(ceiling)} tok/s | (a) is ${(result.engineLimit / ceiling * 100).toFixed(0)}% of it | | |`);
    }
    lines.push("");
    lines.push("\"ours / peer\" above 1 means chat-worker is faster. TTFT ratios in brackets are each server's own state vs its own cold.");
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
