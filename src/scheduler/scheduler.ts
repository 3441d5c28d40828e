import {QueueFullError, SchedulerClosedError} from "../errors.js";
import type {SequenceHint} from "../engine/types.js";

/** A sequence lent to one generation. Release it exactly once, when the generation has stopped. */
export interface Lease {
    readonly sequence: number;
    /** How long the request waited in the queue, in seconds. */
    readonly waitedSeconds: number;
    release(): void;
}

export type LeaseHint = SequenceHint;

/**
 * Picks one of the free sequences for a request. The default takes the sequence idle the longest, which
 * spreads work evenly; the conversation cache replaces it with one that prefers the sequence already
 * holding the request's prefix.
 */
export type SequencePicker = (freeSequences: readonly number[], hint: LeaseHint) => number;

interface Waiter {
    hint: LeaseHint;
    enqueuedAt: number;
    resolve(lease: Lease): void;
    reject(error: unknown): void;
    cleanup(): void;
}

/**
 * Bounded FIFO admission in front of the engine's sequences. It never batches tokens itself:
 * node-llama-cpp batches every sequence of the context; this only decides which request may use
 * which sequence, and fails fast when the queue is full.
 */
export class Scheduler {
    private readonly free: number[];
    /** Last release time per sequence, so the default picker can take the sequence idle the longest. */
    private readonly releasedAt: number[];
    private readonly queue: Waiter[] = [];
    private readonly idleWaiters: Array<() => void> = [];
    private closed = false;
    private averageLeaseSeconds = 1;
    private readonly picker: SequencePicker;

    constructor(readonly sequences: number, readonly maxQueue: number, picker?: SequencePicker) {
        this.free = Array.from({length: sequences}, (_, sequence) => sequence);
        this.releasedAt = new Array<number>(sequences).fill(0);
        this.picker = picker ?? ((freeSequences) => freeSequences.reduce((best, sequence) =>
            this.releasedAt[sequence] < this.releasedAt[best] ? sequence : best));
    }

    get running(): number {
        return this.sequences - this.free.length;
    }

    get queued(): number {
        return this.queue.length;
    }

    /** Waits for a sequence in FIFO order. Rejects at once when the queue is full, or when `signal` fires. */
    acquire(hint: LeaseHint, signal?: AbortSignal): Promise<Lease> {
        return this.acquireAll(1, hint, signal)[0];
    }

    /**
     * `count` leases for one request's choices, each waiting like a request of its own (FIFO),
     * admitted together: when the queue cannot take all those that must wait, all are refused at once.
     */
    acquireAll(count: number, hint: LeaseHint, signal?: AbortSignal): Array<Promise<Lease>> {
        const refuse = (error: Error) => Array.from({length: count}, () => Promise.reject(error));
        if (this.closed)
            return refuse(new SchedulerClosedError());
        if (signal?.aborted)
            return refuse(abortError());
        const waiting = this.queue.length > 0 ? count : Math.max(0, count - this.free.length);
        if (waiting > 0 && this.queue.length + waiting > this.maxQueue)
            return refuse(new QueueFullError(this.queue.length, this.retryAfterSeconds()));
        return Array.from({length: count}, () => this.enqueue(hint, signal));
    }

    private enqueue(hint: LeaseHint, signal?: AbortSignal): Promise<Lease> {
        if (this.free.length > 0 && this.queue.length === 0)
            return Promise.resolve(this.lend(this.take(hint), 0));
        return new Promise<Lease>((resolve, reject) => {
            const onAbort = () => {
                const index = this.queue.indexOf(waiter);
                if (index !== -1) this.queue.splice(index, 1);
                this.notifyIdle();
                reject(abortError());
            };
            const waiter: Waiter = {
                hint, enqueuedAt: performance.now(), resolve, reject,
                cleanup: () => signal?.removeEventListener("abort", onAbort)
            };
            signal?.addEventListener("abort", onAbort, {once: true});
            this.queue.push(waiter);
        });
    }

    /** Seconds a client should wait before retrying, from the recent lease durations. */
    retryAfterSeconds(): number {
        const ahead = this.queue.length + this.running;
        return Math.max(1, Math.min(60, Math.ceil(this.averageLeaseSeconds * ahead / this.sequences)));
    }

    /** Resolves when no sequence is leased and nobody waits. */
    whenIdle(): Promise<void> {
        if (this.running === 0 && this.queue.length === 0)
            return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }

    /** Stops admitting: new and queued requests get SchedulerClosedError; running ones go on. */
    close(): void {
        this.closed = true;
        for (const waiter of this.queue.splice(0)) {
            waiter.cleanup();
            waiter.reject(new SchedulerClosedError());
        }
        this.notifyIdle();
    }

    private take(hint: LeaseHint): number {
        const sequence = this.picker(this.free, hint);
        const index = this.free.indexOf(sequence);
        if (index === -1)
            throw new Error(`sequence picker returned sequence ${sequence}, which is not free`);
        this.free.splice(index, 1);
        return sequence;
    }

    private lend(sequence: number, waitedSeconds: number): Lease {
        const started = performance.now();
        let released = false;
        return {
            sequence,
            waitedSeconds,
            release: () => {
                if (released) return;
                released = true;
                const seconds = (performance.now() - started) / 1000;
                this.averageLeaseSeconds = this.averageLeaseSeconds * 0.8 + seconds * 0.2;
                this.releasedAt[sequence] = performance.now();
                this.free.push(sequence);
                this.dispatch();
            }
        };
    }

    private dispatch(): void {
        while (this.free.length > 0 && this.queue.length > 0) {
            const waiter = this.queue.shift()!;
            waiter.cleanup();
            waiter.resolve(this.lend(this.take(waiter.hint), (performance.now() - waiter.enqueuedAt) / 1000));
        }
        this.notifyIdle();
    }

    private notifyIdle(): void {
        if (this.running === 0 && this.queue.length === 0)
            for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
}

function abortError(): Error {
    const error = new Error("request aborted while waiting for a sequence");
    error.name = "AbortError";
    return error;
}
