import type {PrefixDigest} from "../types.js";

/**
 * Routing a request to the sequence that already holds the most of its prompt. The HTTP process
 * chooses the sequence, but the tokens live in the runner: what crosses over is a prefix digest,
 * a chain of hashes at every `block` tokens (vLLM's block hashes), not a copy of every token.
 */

export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
    const length = Math.min(a.length, b.length);
    let i = 0;
    while (i < length && a[i] === b[i]) i++;
    return i;
}

/** Tokens per hash: a 2,000-token prompt crosses as 125 numbers, and reuse is known to within 16 tokens. */
export const PREFIX_BLOCK = 16;

export type {PrefixDigest};

/** FNV-1a over the token ids, chained from block to block (a collision only costs a worse routing: reuse is checked token by token). */
export function prefixDigest(tokens: readonly number[], block = PREFIX_BLOCK): PrefixDigest {
    const hashes: number[] = [];
    let hash = 0x811c9dc5;
    for (let i = 0; i < tokens.length; i++) {
        hash = Math.imul(hash ^ tokens[i], 0x01000193);
        if ((i + 1) % block === 0) hashes.push(hash >>> 0);
    }
    return {length: tokens.length, block, hashes};
}

/** Tokens two digests share at the start, to within a block (whole blocks only). */
export function sharedPrefix(a: PrefixDigest, b: PrefixDigest): number {
    if (a.block !== b.block) return 0;
    return commonPrefixLength(a.hashes, b.hashes) * a.block;
}

export interface SequenceView {
    sequence: number;
    /** What the sequence holds. */
    held: PrefixDigest;
    /** The conversation that used the sequence last. */
    conversationId: string | null;
    /** When the sequence was last used (ms); the least recently used is the cheapest to give away. */
    lastUsed: number;
}

/**
 * What a sequence that breaks up the busy ones costs, in prompt tokens. llama.cpp cuts a batch of
 * several sequences into sub-batches of consecutive sequence numbers (`split_equal`, sequential,
 * with a KV cache per sequence), and each sub-batch reads every weight again: streams on sequences
 * 1, 2, 5 and 6 take two passes a step, on 1 to 4 one. A generation pays that on every step, so
 * it outweighs a short shared prefix (a system prompt) but not a conversation's own history.
 */
export const SPLIT_COST_TOKENS = 128;

/** How many runs of consecutive numbers `sequences` form ({1, 2, 5, 6}: 2). */
export function consecutiveRuns(sequences: Iterable<number>): number {
    const sorted = [...new Set(sequences)].sort((a, b) => a - b);
    return sorted.filter((sequence, i) => i === 0 || sorted[i - 1] !== sequence - 1).length;
}

/**
 * Picks the free sequence where the request costs least: each reused prompt token saves a token of
 * evaluation, each held token the request would overwrite is work another conversation may have to
 * redo (not so in the conversation's own sequence), and a sequence apart from the busy ones costs a
 * weight pass per step (SPLIT_COST_TOKENS). `count` is the context's number of sequences; those not
 * free are busy. Ties go to the conversation's own sequence, then to the least recently used one.
 */
export function pickSequence(free: readonly SequenceView[], prompt: PrefixDigest | null, conversationId: string | null, count = 0): number {
    const own = (candidate: SequenceView) => conversationId != null && candidate.conversationId === conversationId;
    const freeSet = new Set(free.map((view) => view.sequence));
    const busy = Array.from({length: count}, (_, sequence) => sequence).filter((sequence) => !freeSet.has(sequence));
    const runsBefore = consecutiveRuns(busy);
    const score = (view: SequenceView) => {
        const reuse = prompt != null ? sharedPrefix(view.held, prompt) : 0;
        const split = busy.length === 0 ? 0 : consecutiveRuns([...busy, view.sequence]) - runsBefore;
        // A conversation's own sequence holds nothing worth keeping past the shared prefix: its last reply
        // as sampled, which the next turn re-tokenizes (often differently) as history.
        return 2 * reuse - (own(view) ? 0 : view.held.length - reuse) - SPLIT_COST_TOKENS * split;
    };
    let best = free[0];
    let bestScore = score(best);
    for (const view of free.slice(1)) {
        const value = score(view);
        if (value > bestScore ||
            (value === bestScore && own(view) && !own(best)) ||
            (value === bestScore && own(view) === own(best) && view.lastUsed < best.lastUsed)) {
            best = view;
            bestScore = value;
        }
    }
    return best.sequence;
}
