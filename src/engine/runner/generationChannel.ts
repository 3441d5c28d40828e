import type {GenerateRequest, GenerationEvent} from "../types.js";
import type {ParentMessage} from "./protocol.js";

/**
 * The events of one generation as they arrive from the runner, read one at a time by the proxy's
 * generator. It is finished by the end event or by a failure (an error from the runner, or the
 * runner's death), whichever comes first.
 */
export class GenerationChannel {
    private readonly queue: GenerationEvent[] = [];
    private waiting: {resolve(event: GenerationEvent): void; reject(err: unknown): void} | null = null;
    private failure: unknown = null;
    private done = false;
    private readonly settled: Promise<void>;
    private settle!: () => void;

    constructor() {
        this.settled = new Promise((resolve) => this.settle = resolve);
    }

    get finished(): boolean {
        return this.done;
    }

    push(event: GenerationEvent): void {
        if (this.done) return;
        if (event.type === "end") this.finish();
        if (this.waiting != null) {
            const waiter = this.waiting;
            this.waiting = null;
            waiter.resolve(event);
        } else
            this.queue.push(event);
    }

    fail(err: unknown): void {
        if (this.done) return;
        this.failure = err;
        this.finish();
        const waiter = this.waiting;
        this.waiting = null;
        waiter?.reject(err);
    }

    /** The next event; rejects with the failure once the queued events are read. */
    next(): Promise<GenerationEvent> {
        const event = this.queue.shift();
        if (event != null) return Promise.resolve(event);
        if (this.failure != null) return Promise.reject(this.failure);
        if (this.done) return Promise.reject(new Error("the generation already ended"));
        return new Promise((resolve, reject) => this.waiting = {resolve, reject});
    }

    /**
     * Sends `request` to the runner as generation `id` and yields its events until the end. The
     * signal becomes an "abort" message; a consumer that stops early aborts too, and waits for the
     * runner to stop, since the sequence is busy until then.
     */
    async *run(runner: {send(message: ParentMessage): boolean}, id: number, request: GenerateRequest): AsyncGenerator<GenerationEvent> {
        const {signal, abortReason, ...job} = request;
        const abort = () => runner.send({type: "abort", id, reason: abortReason?.() ?? "abort"});
        signal.addEventListener("abort", abort, {once: true});
        try {
            runner.send({type: "generate", id, request: job});
            if (signal.aborted) abort();
            for (;;) {
                const event = await this.next();
                yield event;
                if (event.type === "end") return;
            }
        } finally {
            signal.removeEventListener("abort", abort);
            if (!this.done) {
                abort();
                await this.drained();
            }
        }
    }

    /** Resolves once the runner is done with this generation (its end, an error or its death). */
    drained(): Promise<void> {
        return this.settled;
    }

    private finish(): void {
        this.done = true;
        this.settle();
    }
}
