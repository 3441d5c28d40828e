import {GgmlType, type BatchItem, type GgufInsights, type PrioritizedBatchItem} from "node-llama-cpp";
import type {DeterministicMode} from "../../config/config.js";

/**
 * Batch-invariant inference on llama.cpp's CPU backend, without patching it. README "Determinism"
 * has the measurements behind each rule. On the CPU, the numbers a token gets depend on the shape of
 * the batch it is evaluated in, in three places:
 *
 * 1. Flash attention has a tiled kernel for 64 or more query rows of a sequence in one batch and a
 *    row-by-row kernel below that; they round differently (up to 7e-2 in a logprob on the bench
 *    model). Rule: flash attention is off.
 * 2. Without flash attention, attention is two matrix products. llamafile's tinyBLAS computes them
 *    from 2 rows up, ggml_vec_dot for 1 row, and the two sum in different orders: a token evaluated
 *    alone (a generation step) can get other numbers than the same token inside a prompt (measured:
 *    1e-1 at some positions on the bench model). Rule: only tokens evaluated as part of a prompt,
 *    in pieces of 2 or more tokens of one sequence, are kept for reuse; a reply is evaluated again
 *    as history on the next turn.
 * 3. A prompt piece must be the only sequence in its batch: llama.cpp cuts a batch of several
 *    sequences into sub-batches with as many tokens of each ("split_equal"), so a prompt evaluated
 *    beside a generation step would get a sub-batch of 1 token. Generation steps (1 token each)
 *    batch together: each sequence's attention is then 1 row whether alone or not, and quantized
 *    weights (Q8_0 measured) give the same products for 1 row or many. F32, F16 and BF16 weights do
 *    not (tinyBLAS vs ggml_vec_dot again): on such models each generation step gets its own batch.
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
export function hasRowSensitiveWeights(insights: GgufInsights): boolean {
    const tensors = insights.ggufFileInfo.fullTensorInfo ?? [];
    const tiedOutput = !tensors.some((tensor) => tensor.name === "output.weight");
    return tensors.some((tensor) =>
        tensor.dimensions.length >= 2 && Number(tensor.dimensions[1]) > 1 && ROW_SENSITIVE_TYPES.has(tensor.ggmlType) &&
        (tensor.name !== "token_embd.weight" || tiedOutput));
}

/**
 * node-llama-cpp's batch prioritization for deterministic mode (rule 3): a batch holds either one
 * prompt piece (2 or more tokens of one sequence, never leaving 1 token for later) or generation
 * steps, all of them or (`oneStepPerBatch`, row-sensitive weights) one. Prompts and steps take turns,
 * so neither starves the other; waiting items keep their order.
 */
export function deterministicBatching(oneStepPerBatch: boolean): (options: {items: readonly BatchItem[]; size: number}) => PrioritizedBatchItem[] {
    let lastWasPrompt = false;
    return ({items, size}) => {
        // A request's prompt goes before a reply evaluated again in idle time (replySettle.ts).
        const prompts = items.filter((item) => item.tokens.length > 1).sort((a, b) => b.evaluationPriority - a.evaluationPriority);
        const steps = items.filter((item) => item.tokens.length === 1);
        if (prompts.length > 0 && (steps.length === 0 || !lastWasPrompt)) {
            lastWasPrompt = true;
            const item = prompts[0];
            let amount = Math.min(item.tokens.length, size);
            if (item.tokens.length - amount === 1) amount--;
            return [{item, processAmount: amount}];
        }
        lastWasPrompt = false;
        return (oneStepPerBatch ? steps.slice(0, 1) : steps.slice(0, size)).map((item) => ({item, processAmount: 1}));
    };
}

/** The most tokens of a prompt that may come from a reused prefix: at least 2 are evaluated (rule 2). */
export const MIN_EVALUATED_TOKENS = 2;
