import fs from "node:fs";

/** Linux's USER_HZ, which /proc/PID/stat counts in (100 on every mainstream build). */
const CLOCK_TICKS = 100;

/** utime + stime of a /proc stat line, in seconds. The fields after the command name (which may hold spaces) start at index 0. */
function statSeconds(file: string): number | null {
    try {
        const fields = fs.readFileSync(file, "utf8").split(") ")[1].split(" ");
        return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
        return null;
    }
}

/** CPU seconds a process has used, every thread together; null where there is no /proc. */
export function processCpuSeconds(pid: number | undefined | null): number | null {
    return pid == null ? null : statSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of a process's main thread alone (the JavaScript event loop). */
export function mainThreadCpuSeconds(pid: number | undefined | null): number | null {
    return pid == null ? null : statSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/** Resident memory of a process, in bytes; null where there is no /proc. */
export function rssBytes(pid: number | undefined | null): number | null {
    if (pid == null) return null;
    try {
        const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return match == null ? null : Number(match[1]) * 1024;
    } catch {
        return null;
    }
}

/** The worker's runner: its one child process. */
export function childPid(pid: number | undefined | null): number | null {
    if (pid == null) return null;
    try {
        const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
        return children.length === 1 ? Number(children[0]) : null;
    } catch {
        return null;
    }
}

/** Samples a value every `ms` until stopped; resolves with the largest seen. */
export function peakSampler(read: () => number | null, ms = 100): {stop(): number | null} {
    let peak: number | null = null;
    const sample = () => {
        const value = read();
        if (value != null) peak = Math.max(peak ?? 0, value);
    };
    sample();
    const timer = setInterval(sample, ms);
    return {stop: () => {
        clearInterval(timer);
        sample();
        return peak;
    }};
}

/** A Prometheus histogram's cumulative buckets (`le` -> count) from a /metrics text. */
export function histogramBuckets(text: string, name: string): Map<number, number> {
    const buckets = new Map<number, number>();
    for (const match of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, "gm")))
        buckets.set(match[1] === "+Inf" ? Infinity : Number(match[1]), Number(match[2]));
    return buckets;
}

/** The median of the observations between two readings of a histogram: the upper bound of the bucket holding it. */
export function histogramMedian(before: Map<number, number>, after: Map<number, number>): number | null {
    const bounds = [...after.keys()].sort((a, b) => a - b);
    const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
    if (total === 0) return null;
    for (const bound of bounds)
        if ((after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= total / 2) return bound;
    return null;
}

/**
 * The ggml CPU backend variant a process loaded (`zen4` for libggml-cpu-zen4.so), from /proc/PID/maps;
 * null where there is no /proc or no such library is mapped. Several distinct ones are an error.
 */
export function loadedCpuVariant(pid: number | undefined | null): string | null {
    if (pid == null) return null;
    let maps: string;
    try {
        maps = fs.readFileSync(`/proc/${pid}/maps`, "utf8");
    } catch {
        return null;
    }
    const variants = new Set([...maps.matchAll(/\/libggml-cpu-([A-Za-z0-9_]+)\.so$/gm)].map((match) => match[1]));
    if (variants.size > 1) throw new Error(`process ${pid} mapped several CPU backends: ${[...variants].join(", ")}`);
    return variants.size === 0 ? null : [...variants][0];
}

/**
 * Waits until the processes have used less than `share` of one core over `windowMs`, at most
 * `timeoutMs`; resolves with the time waited. The bench calls it before every measurement, so that
 * neither side's idle-time work (our reply settle, anything the peer does after a request) runs
 * inside the other's figures.
 */
export async function waitQuiet(pids: ReadonlyArray<number | null | undefined>, {windowMs = 300, share = 0.05, timeoutMs = 60_000} = {}): Promise<number> {
    const started = Date.now();
    const total = () => pids.reduce<number>((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0);
    for (;;) {
        const before = total();
        await new Promise((resolve) => setTimeout(resolve, windowMs));
        if ((total() - before) * 1000 / windowMs < share || Date.now() - started > timeoutMs)
            return Date.now() - started;
    }
}
