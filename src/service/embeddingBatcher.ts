import {ClientClosedError, QueueFullError} from "../errors.js";
import type {EmbeddingInput, EmbeddingOutcome} from "../engine/types.js";

export interface EmbeddingBatcherLimits {
    /** Requests that may wait while a batch runs (MAX_QUEUE); past that, QueueFullError (429 with Retry-After). */
    maxQueued: number;
    /** Inputs one batch gathers at most (a request's inputs are never split; one request always fits). */
    maxBatchInputs: number;
}

interface Waiting {
    inputs: EmbeddingInput[];
    resolve(outcome: EmbeddingOutcome): void;
    reject(err: unknown): void;
    /** Removes the abort listener once the request leaves the queue. */
    detach(): void;
}

/**
 * Gathers the inputs of concurrent embeddings requests into one engine call. A request that finds
 * nothing running starts a batch at once (no waiting for company); requests arriving while a batch
 * runs wait and go together in the next. The engine checks each request's inputs on their own, so
 * one request's bad input never fails another's. node-llama-cpp's embedding context evaluates
 * inputs one at a time whatever we do (one sequence, a lock); the gain is one runner round trip
 * per batch instead of per request, and an order the queue decides.
 */
export class EmbeddingBatcher {
    private readonly waiting: Waiting[] = [];
    private running = false;
    /** Seconds the last batch took per request, for Retry-After. */
    private lastSecondsPerRequest = 0;

    constructor(
        private readonly run: (groups: EmbeddingInput[][]) => Promise<EmbeddingOutcome[]>,
        private readonly limits: EmbeddingBatcherLimits
    ) {}

    /** Requests waiting for a batch (not counting the one running). */
    get queued(): number {
        return this.waiting.length;
    }

    submit(inputs: EmbeddingInput[], signal?: AbortSignal): Promise<EmbeddingOutcome> {
        if (signal?.aborted === true) return Promise.reject(new ClientClosedError("queue"));
        if (this.running && this.waiting.length >= this.limits.maxQueued)
            return Promise.reject(new QueueFullError(this.waiting.length,
                Math.max(1, Math.min(60, Math.ceil(this.lastSecondsPerRequest * (this.waiting.length + 1))))));
        return new Promise((resolve, reject) => {
            const onAbort = () => {
                const index = this.waiting.indexOf(entry);
                if (index === -1) return;
                this.waiting.splice(index, 1);
                reject(new ClientClosedError("queue"));
            };
            const entry: Waiting = {inputs, resolve, reject, detach: () => signal?.removeEventListener("abort", onAbort)};
            signal?.addEventListener("abort", onAbort, {once: true});
            this.waiting.push(entry);
            this.next();
        });
    }

    private next(): void {
        if (this.running || this.waiting.length === 0) return;
        const batch: Waiting[] = [this.waiting.shift()!];
        let inputs = batch[0].inputs.length;
        while (this.waiting.length > 0 && inputs + this.waiting[0].inputs.length <= this.limits.maxBatchInputs) {
            inputs += this.waiting[0].inputs.length;
            batch.push(this.waiting.shift()!);
        }
        for (const entry of batch) entry.detach();
        this.running = true;
        const started = performance.now();
        // The next batch starts before this one's requests are answered: the runner never waits on their replies.
        const settle = (answer: () => void) => {
            this.lastSecondsPerRequest = (performance.now() - started) / 1000 / batch.length;
            this.running = false;
            this.next();
            answer();
        };
        this.run(batch.map((entry) => entry.inputs)).then(
            (outcomes) => settle(() => batch.forEach((entry, index) => entry.resolve(outcomes[index]))),
            (err: unknown) => settle(() => batch.forEach((entry) => entry.reject(err))));
    }
}
