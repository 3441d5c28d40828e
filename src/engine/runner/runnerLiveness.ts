/**
 * Liveness of a model runner, beyond its exit: the parent pings it every second and the runner
 * answers at once from its main thread, with how long its running generations have made no
 * progress. Two ways a runner can be alive and useless, each killed (SIGKILL) so that its exit
 * goes the usual way (RunnerEngine reports it, ModelLifecycle restarts it):
 *
 * - unresponsive: no pong for `timeoutMs`. A SIGSTOPped runner, or one whose main thread is
 *   blocked in a synchronous call (a special file read, a huge tokenize). node-llama-cpp loads,
 *   decodes and samples on the libuv pool, so a healthy runner's main thread answers within
 *   milliseconds even while it generates or loads.
 * - step_timeout: a generation ran but nothing progressed (no evaluation batch, no event) for
 *   `stepTimeoutMs`. A grammar that explodes in llama.cpp's sampler wedges a pool thread while
 *   the main thread still answers pings, so only this catches it.
 *
 * While a load runs the deadlines are off (`paused`): LOAD_TIMEOUT_SECONDS bounds it, and a big
 * model's load must not be mistaken for a stuck runner.
 *
 * Measured (the 0.5B bench model, 2 shared cores): tokenizing 1 MB of text, the largest body
 * BODY_LIMIT_BYTES accepts by default, blocks the main thread 0.2 s; loading the model and its
 * context (1.5 s) left no gap over 0.1 s. The heartbeat's 10 s default is 50 times the longest.
 */

export interface LivenessOptions {
    intervalMs: number;
    /** No pong for this long: the runner is unresponsive. */
    timeoutMs: number;
    /** A generation that makes no progress for this long is stuck. */
    stepTimeoutMs: number;
    /** True while the deadlines do not apply (a load in progress). */
    paused(): boolean;
}

export type LivenessVerdict = "unresponsive" | "step_timeout" | null;

export interface LivenessFacts {
    now: number;
    /** When the oldest ping still unanswered was sent; null when every ping was answered. */
    oldestUnansweredAt: number | null;
    /** The last pong's stall, as the runner measured it. */
    stalledMs: number | null;
    /** When this check's previous tick ran: a parent whose own event loop stalled decides nothing on this tick. */
    previousTickAt: number;
    paused: boolean;
}

/** What the log says when a verdict kills a runner. */
export const LIVENESS_KILLS = {
    unresponsive: "the model runner stopped answering its heartbeat; killing it",
    step_timeout: "a generation made no progress within GENERATION_STEP_TIMEOUT_SECONDS; killing the model runner"
} as const;

/** The decision, as a pure function of what the parent saw (tested by a table). */
export function livenessVerdict(facts: LivenessFacts, options: Pick<LivenessOptions, "intervalMs" | "timeoutMs" | "stepTimeoutMs">): LivenessVerdict {
    if (facts.paused) return null;
    // Our own loop was blocked: the pongs may sit unread in the IPC pipe. Judge on the next tick.
    if (facts.now - facts.previousTickAt > options.intervalMs * 2) return null;
    if (facts.oldestUnansweredAt != null && facts.now - facts.oldestUnansweredAt > options.timeoutMs) return "unresponsive";
    if (facts.stalledMs != null && facts.stalledMs > options.stepTimeoutMs) return "step_timeout";
    return null;
}

/** The parent's side of the heartbeat for one runner process: pings, reads pongs, calls `onVerdict` once. */
export class Liveness {
    private readonly sent = new Map<number, number>();
    private nextSeq = 1;
    private stalledMs: number | null = null;
    private previousTickAt = performance.now();
    private readonly timer: NodeJS.Timeout;
    private decided = false;

    constructor(
        private readonly options: LivenessOptions,
        send: (seq: number) => boolean,
        onVerdict: (verdict: Exclude<LivenessVerdict, null>, facts: LivenessFacts) => void
    ) {
        this.timer = setInterval(() => {
            const now = performance.now();
            const paused = options.paused();
            // While paused, old pings do not count against the runner once the pause ends.
            if (paused) this.sent.clear();
            const facts: LivenessFacts = {
                now, oldestUnansweredAt: this.sent.size > 0 ? Math.min(...this.sent.values()) : null,
                stalledMs: this.stalledMs, previousTickAt: this.previousTickAt, paused
            };
            this.previousTickAt = now;
            const verdict = this.decided ? null : livenessVerdict(facts, options);
            if (verdict != null) {
                this.decided = true;
                onVerdict(verdict, facts);
                return;
            }
            const seq = this.nextSeq++;
            if (send(seq)) this.sent.set(seq, now);
        }, options.intervalMs);
        this.timer.unref();
    }

    pong(seq: number, stalledMs: number | null): void {
        // A pong answers its ping and every earlier one: the runner reads them in order.
        for (const sent of this.sent.keys()) if (sent <= seq) this.sent.delete(sent);
        this.stalledMs = stalledMs;
    }

    stop(): void {
        clearInterval(this.timer);
    }
}
