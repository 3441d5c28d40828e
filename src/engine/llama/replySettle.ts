import type {LlamaContextSequence, Token} from "node-llama-cpp";
import {MIN_EVALUATED_TOKENS} from "./determinism.js";
import type {Exclusive} from "./promptSharing.js";
import type {SequenceRecord} from "./prefixReuse.js";
import {commonPrefixLength} from "./sequenceAffinity.js";

/** node-llama-cpp's lowest evaluation priority: a request's prompt is batched first. */
const IDLE_PRIORITY = 1;

/**
 * Deterministic mode keeps only tokens evaluated as a prompt (determinism.ts, rule 2), so a reply,
 * generated a token at a time, must be evaluated again as history before the next turn can reuse it.
 * Done when the next turn arrives, that work sat on its time to first token (measured on the bench
 * model: about 24 reply tokens of a turn-10 prompt). So it is done as soon as the generation ends,
 * while the user reads: the sequence is made to hold `history` (the last exchange rendered as the
 * next turn will render it), evaluated in prompt mode at the lowest priority, so another request's
 * prompt is batched first. The next request on this sequence waits for it (SequenceRecord.settling):
 * the same conversation would evaluate these tokens anyway; another one erases them.
 */
export async function settleReply(
    sequence: LlamaContextSequence, record: SequenceRecord, history: Token[], exclusive: Exclusive
): Promise<void> {
    const end = history.length;
    let start = Math.min(commonPrefixLength(sequence.contextTokens, history), record.reusableEnd, sequence.nextTokenIndex);
    if (start >= end) return;
    // A shorter piece would be evaluated the way a generation step is.
    if (end - start < MIN_EVALUATED_TOKENS) start = Math.max(0, end - MIN_EVALUATED_TOKENS);
    record.reusableEnd = start;
    await exclusive(() => sequence.eraseContextTokenRanges([{start, end: sequence.nextTokenIndex}]));
    await sequence.evaluateWithoutGeneratingNewTokens(history.slice(start), {evaluationPriority: IDLE_PRIORITY});
    record.reusableEnd = sequence.nextTokenIndex;
}
