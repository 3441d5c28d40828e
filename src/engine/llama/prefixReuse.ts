import type {LlamaContextSequence, Token} from "node-llama-cpp";
import type {CacheEvent, ChatMessage} from "../types.js";
import type {StateStore} from "./stateStore.js";
import {commonPrefixLength} from "./slotAffinity.js";

/** Below this many tokens a sequence's content is not worth a file, and a prefix is not worth routing for. */
const MIN_STATE_TOKENS = 32;

/** What the engine remembers about a sequence between leases. */
export interface SlotRecord {
    conversationId: string | null;
    lastUsed: number;
    /** The last exchange, to work out which held tokens the conversation's next turn will reuse. */
    lastExchange: {messages: ChatMessage[]; reply: string} | null;
}

export interface ReuseTarget {
    sequence: LlamaContextSequence;
    record: SlotRecord;
    /** Spilled states of this model, or null when spilling is off. */
    store: StateStore | null;
    /** PREFIX_CACHE: false evaluates every prompt from scratch. */
    prefixCache: boolean;
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
    const {sequence, store} = target;
    let reused = target.prefixCache ? commonPrefixLength(sequence.contextTokens, tokens) : 0;
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
        }
        reused = Math.min(reused, sequence.nextTokenIndex);
    }
    // At least one prompt token is evaluated again, so that there are fresh logits to sample from.
    reused = Math.min(reused, tokens.length - 1);
    if (reused < sequence.nextTokenIndex)
        await sequence.eraseContextTokenRanges([{start: reused, end: sequence.nextTokenIndex}]);
    return {reused, source: reused > 0 ? source : "miss"};
}

/** Saves the sequence's conversation, trimmed to the tokens its next turn will share. */
async function spill(target: ReuseTarget, store: StateStore): Promise<void> {
    const {sequence, record} = target;
    if (sequence.nextTokenIndex < MIN_STATE_TOKENS)
        return;
    if (record.lastExchange != null) {
        // Sampled tokens can differ from how the reply is tokenized when it comes back as history.
        const next = target.renderHistory([...record.lastExchange.messages,
            {role: "assistant", content: record.lastExchange.reply}]);
        const keep = commonPrefixLength(sequence.contextTokens, next);
        if (keep < MIN_STATE_TOKENS)
            return;
        if (keep < sequence.nextTokenIndex)
            await sequence.eraseContextTokenRanges([{start: keep, end: sequence.nextTokenIndex}]);
    }
    await store.save(sequence, record.conversationId);
}
