import {randomUUID} from "node:crypto";
import {WorkerError} from "../../errors.js";
import type {ChatInput, ChatMessage, ChatResult, FinishReason, SamplingParams, TokenLogprob, Usage} from "../../service/chatService.js";
import type {ChatRequestBody, ChatResponseBody, ChatUsage, FINISH_REASONS, HistoryEntry, LogprobEntry} from "../../protocol/native.js";

/** A /chat body in the spec's shape (chatShape() checked it has `message`). */
export type SpecChatBody = ChatRequestBody & {message: string};

/** The original worker's minimal fallback, used only when the request carries no system prompt. */
export const FALLBACK_SYSTEM_PROMPT = "You are a helpful AI assistant.";

export const SAMPLING_DEFAULTS = {
    temperature: 0.7,
    top_p: 0.9,
    top_k: 40,
    min_p: 0,
    repetition_penalty: 1.1
} as const;

/** The sampling fields every protocol shares; OpenAI's wire types also allow explicit nulls. */
type SamplingBody = {
    [K in "max_tokens" | "temperature" | "top_p" | "top_k" | "min_p" | "repetition_penalty" | "frequency_penalty" | "presence_penalty" |
        "seed" | "stop" | "ignore_eos" | "logprobs" | "top_logprobs"]?: ChatRequestBody[K] | null;
};

export type SamplingDefaults = Record<keyof typeof SAMPLING_DEFAULTS, number>;

/** Request sampling fields to engine params; each protocol passes its own defaults (OpenAI's differ). */
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

/** The native finish reasons; `tool_calls` needs tools, which the native routes never offer, so it cannot reach here (and would read as stop). */
export function nativeFinishReason(reason: FinishReason): (typeof FINISH_REASONS)[number] {
    return reason === "tool_calls" ? "stop" : reason;
}

/** `top_logprobs` means something only with `logprobs: true`; alone it would be silently ignored, so it is refused. */
function logprobsRequest(body: SamplingBody): SamplingParams["logprobs"] {
    if (body.logprobs === true)
        return {top: body.top_logprobs ?? 0};
    if (body.top_logprobs != null)
        throw new WorkerError("invalid_request", "invalid_request", "top_logprobs: requires logprobs: true", {param: "top_logprobs"});
    return null;
}

/** Engine logprobs in OpenAI's wire shape (used by /chat's opt-in and by /v1). */
export function logprobEntries(entries: TokenLogprob[]): LogprobEntry[] {
    return entries.map((entry) => ({
        token: entry.token, logprob: entry.logprob, bytes: entry.bytes,
        top_logprobs: entry.topLogprobs.map(({token, logprob, bytes}) => ({token, logprob, bytes}))
    }));
}

export function systemPromptUsed(body: Pick<ChatRequestBody, "system_prompt">): string {
    return body.system_prompt ?? FALLBACK_SYSTEM_PROMPT;
}

/** Maps the native request onto the service's input: system pinned, history droppable, message pinned. */
export function chatInput(body: SpecChatBody): ChatInput {
    return {
        prefix: [{role: "system", content: systemPromptUsed(body)}],
        history: (body.conversation_history ?? []).map((entry): ChatMessage => ({role: entry.sender, content: entry.content})),
        tail: [{role: "user", content: body.message}]
    };
}

export function chatResponse(
    body: SpecChatBody, result: ChatResult, model: {model_name: string; model_loaded: boolean}, processingSeconds: number
): ChatResponseBody {
    const now = new Date().toISOString();
    // Only the contract's fields are echoed: an unknown field in an entry (any depth, any size)
    // is the client's business, not ours to serialize back.
    const history: HistoryEntry[] = [
        ...(body.conversation_history ?? []).map(({sender, content, created_at}) => created_at != null ? {sender, content, created_at} : {sender, content}),
        {sender: "user", content: body.message, created_at: now},
        {sender: "assistant", content: result.text, created_at: now}
    ];
    return {
        success: true,
        response: result.text,
        conversation_id: body.conversation_id ?? null,
        context_type: body.context_type ?? "general",
        message_id: randomUUID(),
        conversation_history: history,
        system_prompt_used: systemPromptUsed(body),
        model_info: model,
        sfw_mode: body.sfw_mode === true,
        processing_time: round(processingSeconds),
        generation_time: round(result.generationSeconds),
        finish_reason: nativeFinishReason(result.finishReason),
        usage: nativeUsage(result.usage),
        history_truncated: result.historyDropped,
        ...(result.logprobs != null ? {logprobs: {content: logprobEntries(result.logprobs)}} : {})
    };
}

/** The native `usage` object shared by /chat and /enhance. */
export function nativeUsage(usage: Usage): ChatUsage {
    return {
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        total_tokens: usage.promptTokens + usage.completionTokens,
        cached_tokens: usage.cachedTokens
    };
}

export function round(seconds: number): number {
    return Math.round(seconds * 1000) / 1000;
}
