import {WorkerError} from "../errors.js";
import type {ChatInput, ChatMessage, SamplingParams} from "./chatService.js";

/**
 * Request shaping every API shares: the sampling fields (named alike in the native API and in
 * OpenAI's), the logprobs opt-in, and how a list of messages becomes the pipeline's input. Each
 * API's adapters call these; no API folder imports another's.
 */

/** The native API's sampling defaults (the original worker's); OpenAI's API passes OpenAI's own. */
export const SAMPLING_DEFAULTS = {
    temperature: 0.7,
    top_p: 0.9,
    top_k: 40,
    min_p: 0,
    repetition_penalty: 1.1
} as const;

/** OpenAI's own defaults (both OpenAI-shaped APIs), so a client that omits a field gets what it would get from OpenAI. */
export const OPENAI_SAMPLING_DEFAULTS = {temperature: 1, top_p: 1, top_k: 0, min_p: 0, repetition_penalty: 1} as const;

export type SamplingDefaults = Record<keyof typeof SAMPLING_DEFAULTS, number>;

/** The sampling fields every API shares; OpenAI's wire types also allow explicit nulls. */
export interface SamplingBody {
    max_tokens?: number | null;
    temperature?: number | null;
    top_p?: number | null;
    top_k?: number | null;
    min_p?: number | null;
    repetition_penalty?: number | null;
    frequency_penalty?: number | null;
    presence_penalty?: number | null;
    seed?: number | null;
    stop?: string[] | null;
    ignore_eos?: boolean | null;
    logprobs?: boolean | null;
    top_logprobs?: number | null;
}

/** Request sampling fields to engine params; each API passes its own defaults (OpenAI's differ). */
export function samplingParams(body: SamplingBody, defaultMaxTokens: number, defaults: SamplingDefaults = SAMPLING_DEFAULTS): SamplingParams {
    return {
        maxTokens: body.max_tokens ?? defaultMaxTokens,
        temperature: body.temperature ?? defaults.temperature,
        topP: body.top_p ?? defaults.top_p,
        topK: body.top_k ?? defaults.top_k,
        minP: body.min_p ?? defaults.min_p,
        repetitionPenalty: body.repetition_penalty ?? defaults.repetition_penalty,
        seed: body.seed ?? null,
        stop: body.stop ?? [],
        ignoreEos: body.ignore_eos ?? false,
        frequencyPenalty: body.frequency_penalty ?? 0,
        presencePenalty: body.presence_penalty ?? 0,
        logitBias: [],
        logprobs: logprobsRequest(body)
    };
}

/** `top_logprobs` means something only with `logprobs: true`; alone it would be silently ignored, so it is refused. */
export function logprobsRequest(body: Pick<SamplingBody, "logprobs" | "top_logprobs">): SamplingParams["logprobs"] {
    if (body.logprobs === true)
        return {top: body.top_logprobs ?? 0};
    if (body.top_logprobs != null)
        throw new WorkerError("invalid_request", "invalid_request", "top_logprobs: requires logprobs: true", {param: "top_logprobs"});
    return null;
}

/**
 * Splits a conversation the way ChatService fits it: the leading system messages are pinned, the
 * last message is pinned, and everything between is history that may be shortened, oldest first.
 */
export function toChatInput(messages: ChatMessage[]): ChatInput {
    let leading = 0;
    while (leading < messages.length - 1 && messages[leading].role === "system")
        leading++;
    return {
        prefix: messages.slice(0, leading),
        history: messages.slice(leading, -1),
        tail: messages.slice(-1)
    };
}
