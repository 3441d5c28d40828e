import {
    resolveChatWrapper, ChatMLChatWrapper, TokenBias,
    type Llama, type LlamaModel, type LlamaContext, type LlamaContextSequence, type ChatWrapper, type Token
} from "node-llama-cpp";
import type {Config} from "../../config/config.js";
import {deterministicBatching, hasRowSensitiveWeights, resolveDeterministic} from "./determinism.js";
import {maximumParallelism, recordingStrategy} from "./batchStrategy.js";
import {StepGate} from "./stepGate.js";
import {hasNoChatTemplate, PlainChatWrapper} from "./plainChatWrapper.js";
import type {ModelFacts} from "./modelFile.js";

export type ContextSettings = Pick<Config, "contextSize" | "parallel" | "threads" | "batchSize" | "batchFill" | "deterministic">;

/** What a loaded model serves with: one context, its sequences, and the pieces every generation uses. */
export interface ModelContext {
    context: LlamaContext;
    sequences: LlamaContextSequence[];
    chatWrapper: ChatWrapper;
    /** Bans end-of-generation tokens, for `ignoreEos`. */
    eogBias: TokenBias;
    /** DETERMINISTIC resolved for this backend (see determinism.ts). */
    deterministic: boolean;
    /** Holds each batch for the generating sequences (BATCH_FILL); null: batches form from what is queued. */
    gate: StepGate;
}

/**
 * Opens the model's one context with PARALLEL sequences. The batch strategy decides how full the
 * batches are (and so throughput), and DETERMINISTIC's rules (determinism.ts) decide flash
 * attention and how prompts are batched; every batch is reported to `onBatch`
 * (chat_worker_decode_batch_tokens).
 */
export async function openContext(llama: Llama, model: LlamaModel, facts: ModelFacts, settings: ContextSettings,
    onBatch: (tokens: number, sequences: number) => void): Promise<ModelContext> {
    const deterministic = resolveDeterministic(settings.deterministic, llama.gpu);
    const gate = new StepGate(settings.batchFill);
    const context = await model.createContext({
        sequences: settings.parallel,
        contextSize: settings.contextSize,
        batchSize: settings.batchSize,
        threads: settings.threads,
        ...(deterministic ? {flashAttention: false} : {}),
        batching: {
            itemPrioritizationStrategy: recordingStrategy(
                deterministic ? deterministicBatching(hasRowSensitiveWeights(facts.insights)) : maximumParallelism,
                (batch) => onBatch(batch.tokens, batch.sequences), gate)
        }
    });
    const sequences = Array.from({length: settings.parallel}, () => context.getSequence());
    // A base model (no template) gets the plain fallback, not a wrapper guessed from its architecture.
    const chatWrapper = hasNoChatTemplate(model) ? new PlainChatWrapper(model.tokens.shouldPrependBosToken)
        : resolveChatWrapper(model, {fallbackToOtherWrappersOnJinjaError: true}) ?? new ChatMLChatWrapper();
    const eogBias = new TokenBias(model.tokenizer);
    for (const token of [model.tokens.eos, model.tokens.eot].filter((token): token is Token => token != null))
        eogBias.set(token, "never");
    return {context, sequences, chatWrapper, eogBias, deterministic, gate};
}
