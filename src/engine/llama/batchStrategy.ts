import type {BatchItem, PrioritizedBatchItem} from "node-llama-cpp";
import type {StepGate} from "./stepGate.js";

/** node-llama-cpp's prioritization strategy signature (`batching.itemPrioritizationStrategy`). */
export type BatchStrategy = (options: {items: readonly BatchItem[]; size: number}) => PrioritizedBatchItem[];

/**
 * node-llama-cpp's default "maximumParallelism" strategy, written out because the library does
 * not export it and a recording wrapper (below) needs a function to wrap: every waiting item gets
 * an equal share of the batch, and what is left goes to the items that wanted more.
 */
export function maximumParallelism({items, size}: {items: readonly BatchItem[]; size: number}): PrioritizedBatchItem[] {
    let left = size;
    const share = Math.floor(left / items.length);
    const result: PrioritizedBatchItem[] = [];
    const clipped: PrioritizedBatchItem[] = [];
    for (const item of items) {
        const entry = {item, processAmount: Math.min(item.tokens.length, left, share)};
        result.push(entry);
        left -= entry.processAmount;
        if (entry.processAmount < item.tokens.length) clipped.push(entry);
        if (left === 0) break;
    }
    for (let passes = 3; left > 0 && clipped.length > 0 && passes > 0; passes--) {
        const increase = Math.ceil(left / clipped.length);
        for (let i = 0; i < clipped.length && left > 0; i++) {
            const entry = clipped[i];
            const amount = Math.min(entry.item.tokens.length - entry.processAmount, left, increase);
            entry.processAmount += amount;
            left -= amount;
            if (entry.processAmount === entry.item.tokens.length) clipped.splice(i--, 1);
        }
    }
    clipped.sort((a, b) => b.item.evaluationPriority - a.item.evaluationPriority);
    for (let i = 0; i < clipped.length && left > 0; i++) {
        const entry = clipped[i];
        const amount = Math.min(entry.item.tokens.length - entry.processAmount, left);
        entry.processAmount += amount;
        left -= amount;
        if (entry.processAmount === entry.item.tokens.length) clipped.splice(i--, 1);
    }
    return result.filter((entry) => entry.processAmount > 0);
}

/** What a recorded batch held. */
export interface BatchRecord {
    tokens: number;
    /** Sequences with tokens in it. */
    sequences: number;
    /** Queued items taken whole (the rest of a prompt cut in pieces stays queued). */
    whole: number;
}

/**
 * Wraps a strategy to report each batch it forms, and (with a gate) to put a batch off while a
 * generating sequence has not queued its next token (an empty batch: node-llama-cpp looks again).
 */
export function recordingStrategy(inner: BatchStrategy, record: (batch: BatchRecord) => void, gate?: StepGate | null): BatchStrategy {
    return (options) => {
        if (gate?.hold(options.items.length) === true)
            return [];
        const batch = inner(options);
        record({
            tokens: batch.reduce((sum, entry) => sum + entry.processAmount, 0),
            sequences: batch.length,
            whole: batch.filter((entry) => entry.processAmount >= entry.item.tokens.length).length
        });
        return batch;
    };
}
