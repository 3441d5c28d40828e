/** Routing a request to the sequence that already holds the most of its prompt. */

export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
    const length = Math.min(a.length, b.length);
    let i = 0;
    while (i < length && a[i] === b[i]) i++;
    return i;
}

export interface SlotView {
    slot: number;
    /** Tokens the sequence holds. */
    tokens: readonly number[];
    /** The conversation that used the sequence last. */
    conversationId: string | null;
    /** When the sequence was last used (ms); the least recently used is the cheapest to give away. */
    lastUsed: number;
}

/**
 * Picks the free slot where the request costs least: each reused prompt token saves a token of
 * evaluation, and each held token the request would overwrite is work another conversation may
 * have to redo (not so in the conversation's own slot). Ties go to the conversation's own slot,
 * then to the least recently used one.
 */
export function pickSlot(free: readonly SlotView[], prompt: readonly number[] | null, conversationId: string | null): number {
    const own = (candidate: SlotView) => conversationId != null && candidate.conversationId === conversationId;
    const score = (view: SlotView) => {
        const reuse = prompt != null ? commonPrefixLength(view.tokens, prompt) : 0;
        // A conversation's own slot holds nothing worth keeping past the shared prefix: its last reply
        // as sampled, which the next turn re-tokenizes (often differently) as history.
        return 2 * reuse - (own(view) ? 0 : view.tokens.length - reuse);
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
    return best.slot;
}
