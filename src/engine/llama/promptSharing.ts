import type {LlamaContextSequence, Token} from "node-llama-cpp";
import type {CacheEvent} from "../types.js";
import type {StateStore} from "./stateStore.js";
import {reusePrefix, type ReuseTarget} from "./prefixReuse.js";

export type GroupMembership = {leader: true; shared(): void} | {leader: false; ready: Promise<void>};

/** Runs work that takes the context's lock while the token loops pause (StepGate.exclusive). */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;

/** Below this many shared tokens, evaluating the prompt again costs less than a state file. */
const MIN_SHARED_TOKENS = 32;

/**
 * One request's choices (`n`) on several sequences share their prompt: the first to arrive (the
 * leader) evaluates it and saves its sequence's state; the others wait for that, then restore it
 * from the state store as they would a conversation's (node-llama-cpp 3.21.1 has no call that
 * copies one sequence's KV cells to another, and a state file is its public way to move them).
 * Measured on the bench model with a 1000-token prompt: evaluating it takes 677 ms on one sequence
 * and 1952 ms on three at once; saving the state takes 5 ms and loading it into two sequences 10 ms.
 */
export class PromptGroups {
    private readonly groups = new Map<string, Promise<void>>();

    /**
     * Joins group `id`. The first caller leads: it gets `shared()` to call once the prompt is
     * saved (or could not be), and followers wait for it. A caller arriving after that leads a
     * group of its own, and finds the saved prompt in the store like anyone else.
     */
    join(id: string): GroupMembership {
        const ready = this.groups.get(id);
        if (ready != null)
            return {leader: false, ready};
        let shared!: () => void;
        this.groups.set(id, new Promise<void>((resolve) => {
            shared = resolve;
        }));
        return {
            leader: true,
            shared: () => {
                this.groups.delete(id);
                shared();
            }
        };
    }
}

/**
 * The leader's part: evaluates the prompt up to the tokens every choice evaluates itself
 * (`minEvaluated`: fresh logits, and in deterministic mode no 1-token piece) and saves the
 * sequence's state for the others. Returns how many prompt tokens the sequence now holds, or
 * `reused` when sharing is not worth it or the store is off. Only the erase and the save pause
 * the other sequences; the evaluation batches with them.
 */
export async function sharePrompt(
    sequence: LlamaContextSequence, store: StateStore | null, tokens: Token[], reused: number, minEvaluated: number,
    conversationId: string | null, exclusive: Exclusive
): Promise<number> {
    const end = tokens.length - minEvaluated;
    if (store == null || end < MIN_SHARED_TOKENS)
        return reused;
    let start = reused;
    if (end > start && end - start < minEvaluated) {
        // A piece shorter than minEvaluated would be evaluated the way a generation step is.
        start = Math.max(0, end - minEvaluated);
        await exclusive(() => sequence.eraseContextTokenRanges([{start, end: sequence.nextTokenIndex}]));
    }
    if (end > start)
        await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(start, end));
    await exclusive(() => store.save(sequence, conversationId));
    return end;
}

/**
 * Makes the sequence hold as much of the prompt as it can without generating: what it or the
 * store already has (reusePrefix), and for a choice of several (`group`) the prompt shared by
 * the group's leader. `reused`: tokens the sequence holds now; `cached`: those it did not evaluate
 * for this request. The steps that take the context's lock (erasing, spilling, restoring, saving)
 * run through `exclusive`; waiting for the leader and evaluating do not hold the others up.
 */
export async function holdPrompt(
    target: ReuseTarget, tokens: Token[], conversationId: string | null, group: GroupMembership | null, signal: AbortSignal,
    exclusive: Exclusive
): Promise<{reused: number; cached: number; source: CacheEvent["source"]}> {
    if (group != null && !group.leader)
        await Promise.race([group.ready, abortion(signal)]);
    try {
        const reuse = await exclusive(() => reusePrefix(target, tokens, conversationId));
        const reused = group?.leader
            ? await sharePrompt(target.sequence, target.store, tokens, reuse.reused, target.minEvaluated, conversationId, exclusive)
            : reuse.reused;
        return {reused, cached: reuse.reused, source: reuse.source};
    } finally {
        if (group?.leader) group.shared();
    }
}

/** Settles (never rejects) when `signal` fires, so a wait ends on an abort. */
function abortion(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), {once: true});
    });
}
