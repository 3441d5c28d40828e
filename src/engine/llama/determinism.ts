import {
    GgmlType, TokenPredictor, type BatchItem, type GgufInsights, type PrioritizedBatchItem, type Token
} from "node-llama-cpp";
import type {DeterministicMode} from "../../config/config.js";

/**
 * Batch-invariant inference on llama.cpp's CPU backend, without patching it (see README
 * "Determinism" for the measurements behind each rule):
 *
 * 1. Flash attention is off. ggml's CPU flash attention has two kernels: a tiled one for 64 or more
 *    query rows of a sequence in one batch, and a row-by-row one below that. They round differently
 *    (up to 7e-2 in a logprob on the bench model), so the same token got different numbers when its
 *    prompt was evaluated in one piece (cold) or after a reused prefix (warm), or split across
 *    batches by concurrent requests. Without flash attention, attention is two matrix products and a
 *    softmax whose per-row results do not depend on the batch.
 * 2. F32, F16 and BF16 weights: llamafile's tinyBLAS computes matrix products from 2 rows up and
 *    ggml_vec_dot for a batch of 1 row, and the two sum in different orders (~1e-6 apart). A lone
 *    generation step is a 1-row batch; the same step among other requests, or the same token inside
 *    a prompt, is not. So every decode gets a throwaway second row (a "predicted" token that
 *    node-llama-cpp checks and erases), and all rows go through the batched kernel. Quantized Q8_0
 *    weights need no padding: its two kernels add the same partial sums in the same order (measured
 *    bit-identical).
 * 3. The output head is a product over the rows that want logits only. A padded decode asks logits
 *    of both rows, so the head sees 2 rows, unless a batch cuts between the real token and its pad:
 *    then the real token's logits may be computed alone, by the single-row kernel. The batch
 *    strategy below never leaves the last token of a request alone for the next batch.
 */

/** Weight types whose single-row product differs from the batched one on x86 CPUs. */
const ROW_SENSITIVE_TYPES: ReadonlySet<GgmlType> = new Set([GgmlType.F32, GgmlType.F16, GgmlType.BF16]);

/** DETERMINISTIC=auto means on for the CPU backend; a GPU's kernels are chosen by batch size anyway. */
export function resolveDeterministic(mode: DeterministicMode, gpu: string | false): boolean {
    return mode === "auto" ? gpu === false : mode === "true";
}

/**
 * True when a matrix product of the model multiplies a row-sensitive weight type: any 2-D tensor but
 * the token embedding (a row lookup), unless the embedding doubles as the output head (no output.weight).
 */
export function needsRowPadding(insights: GgufInsights): boolean {
    const tensors = insights.ggufFileInfo.fullTensorInfo ?? [];
    const tiedOutput = !tensors.some((tensor) => tensor.name === "output.weight");
    return tensors.some((tensor) =>
        tensor.dimensions.length >= 2 && Number(tensor.dimensions[1]) > 1 && ROW_SENSITIVE_TYPES.has(tensor.ggmlType) &&
        (tensor.name !== "token_embd.weight" || tiedOutput));
}

/**
 * Always "predicts" one token, so each decode of the sequence carries a second row. node-llama-cpp
 * evaluates the prediction beside the real token, samples it (so a seeded sampler advances by the same
 * steps every time), and erases it unless the model really chose it. Either way the real token's row
 * went through the batched kernel. The pad is the end-of-generation token: rarely chosen mid-answer,
 * and harmless as an input row.
 */
export class RowPaddingPredictor extends TokenPredictor {
    constructor(private readonly pad: Token) {
        super();
    }

    reset(): void {
        // Stateless: the prediction never depends on the tokens.
    }

    pushTokens(): void {
        // Stateless.
    }

    predictTokens(): Token[] {
        return [this.pad];
    }
}

/**
 * node-llama-cpp's default "maximumParallelism" (an equal share of the batch for every pending
 * request, the rest to the ones that want more), except that a request is never cut one token
 * before its end: that would put its real last token and its pad in different batches.
 */
export function keepPadTogetherStrategy({items, size}: {items: readonly BatchItem[]; size: number}): PrioritizedBatchItem[] {
    const share = Math.floor(size / Math.max(1, items.length));
    let left = size;
    const chosen: PrioritizedBatchItem[] = [];
    for (const item of items) {
        if (left <= 0) break;
        const amount = Math.min(item.tokens.length, left, Math.max(share, 2));
        chosen.push({item, processAmount: amount});
        left -= amount;
    }
    // What the equal shares leave unused goes to the requests that were cut, in order.
    for (const entry of chosen) {
        if (left <= 0) break;
        const more = Math.min(entry.item.tokens.length - entry.processAmount, left);
        entry.processAmount += more;
        left -= more;
    }
    const kept = chosen
        .map((entry) => entry.item.tokens.length - entry.processAmount === 1 ? {...entry, processAmount: entry.processAmount - 1} : entry)
        .filter((entry) => entry.processAmount > 0);
    // Never an empty batch: a lone two-token request that does not fit is rare, and better split than stalled.
    return kept.length > 0 ? kept : chosen;
}
