import type {LlamaContextSequence, Token} from "node-llama-cpp";
import type {CacheEvent, ChatMessage} from "../types.js";
import type {StateStore} from "./stateStore.js";
import type {Settling} from "./replySettle.js";
import {commonPrefixLength} from "./sequenceAffinity.js";

/** Below this many tokens a sequence's content is not worth a file, and a prefix is not worth routing for. */
const MIN_STATE_TOKENS = 32;

/** What the engine remembers about a sequence between leases. */
export interface SequenceRecord {
    conversationId: string | null;
    lastUsed: number;
    /** The last exchange, to work out which held tokens the conversation's next turn will reuse. */
    lastExchange: {messages: ChatMessage[]; reply: string} | null;
    /**
     * How many of the held tokens may be reused. Infinity, except in deterministic mode, where only
     * tokens evaluated as part of a prompt count (not the reply, evaluated a token at a time).
     */
    reusableEnd: number;
    /** The reply being evaluated again as history after its generation (replySettle.ts); the next lease ends it. */
    settling?: Settling | null;
}

export interface ReuseTarget {
    sequence: LlamaContextSequence;
    record: SequenceRecord;
    /** Spilled states of this model, or null when spilling is off. */
    store: StateStore | null;
    /** CONVERSATION_CACHE: false evaluates every prompt from scratch. */
    conversationCache: boolean;
    /** Prompt tokens always evaluated again: 1 for fresh logits, 2 in deterministic mode (no 1-token batch). */
    minEvaluated: number;
    /** Tokens of messages rendered as history (no open assistant turn). */
    renderHistory(messages: ChatMessage[]): Token[];
}

/**
 * Makes the sequence hold the longest usable prefix of `tokens`: what it holds already, or a
 * stored state when that reuses more. Before the sequence's own content is overwritten it is
 * spilled to the store, so its conversation can come back later. Returns the reused count.
 */
export async function reusePrefix(
    target: ReuseTarget, tokens: Token[], conversationId: string | null
): Promise<{reused: number; source: CacheEvent["source"]}> {
    const {sequence, store, record} = target;
    let reused = target.conversationCache ? Math.min(commonPrefixLength(sequence.contextTokens, tokens), record.reusableEnd) : 0;
    let source: CacheEvent["source"] = reused >= MIN_STATE_TOKENS ? "warm" : "miss";
    if (store != null) {
        const stored = store.find(tokens, conversationId);
        const restoring = stored != null && stored.tokens.length >= reused + MIN_STATE_TOKENS;
        if (restoring || sequence.nextTokenIndex - reused >= MIN_STATE_TOKENS)
            await spill(target, store);
        if (restoring) {
            if (await store.restore(sequence, stored)) {
                reused = commonPrefixLength(sequence.contextTokens, tokens);
                source = "restored";
            } else
                reused = 0;
            // A stored state holds only what was kept for reuse.
            record.reusableEnd = Number.POSITIVE_INFINITY;
        }
        reused = Math.min(reused, sequence.nextTokenIndex);
    }
    // At least one prompt token is evaluated again, so that there are fresh logits to sample from.
    reused = Math.max(0, Math.min(reused, tokens.length - target.minEvaluated));
    if (reused < sequence.nextTokenIndex)
        await sequence.eraseContextTokenRanges([{start: reused, end: sequence.nextTokenIndex}]);
    return {reused, source: reused > 0 ? source : "miss"};
}

/** Saves the sequence's conversation, trimmed to the tokens its next turn will share. */
async function spill(target: ReuseTarget, store: StateStore): Promise<void> {
    const {sequence, record} = target;
    if (sequence.nextTokenIndex < MIN_STATE_TOKENS)
        return;
    let keep = Math.min(sequence.nextTokenIndex, record.reusableEnd);
    if (record.lastExchange != null) {
        // Sampled tokens can differ from how the reply is tokenized when it comes back as history.
        const next = target.renderHistory([...record.lastExchange.messages,
            {role: "assistant", content: record.lastExchange.reply}]);
        keep = Math.min(keep, commonPrefixLength(sequence.contextTokens, next));
    }
    if (keep < MIN_STATE_TOKENS)
        return;
    if (keep < sequence.nextTokenIndex)
        await sequence.eraseContextTokenRanges([{start: keep, end: sequence.nextTokenIndex}]);
    await store.save(sequence, record.conversationId);
}
