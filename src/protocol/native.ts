import {Type, type Static} from "@sinclair/typebox";

/**
 * Wire types of the worker's native API (the original worker's contract in shared/spec).
 * Unknown fields are accepted and ignored; known fields are checked strictly (no type coercion).
 */

export const SENDERS = ["user", "assistant"] as const;
export const CONTEXT_TYPES = ["roleplay", "general", "creative", "admin"] as const;

/** OpenAI's limit for `top_logprobs`. */
export const MAX_TOP_LOGPROBS = 20;

export interface GenerationLimits {
    maxTokensLimit: number;
    maxStopSequences: number;
    maxHistoryMessages: number;
}

/** Sampling fields shared by /chat and /enhance; `maximum`s come from the settings. */
export function samplingFields(limits: GenerationLimits) {
    return {
        max_tokens: Type.Optional(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit})),
        temperature: Type.Optional(Type.Number({minimum: 0, maximum: 2})),
        top_p: Type.Optional(Type.Number({exclusiveMinimum: 0, maximum: 1})),
        top_k: Type.Optional(Type.Integer({minimum: 0, maximum: 100000})),
        min_p: Type.Optional(Type.Number({minimum: 0, maximum: 1})),
        repetition_penalty: Type.Optional(Type.Number({exclusiveMinimum: 0, maximum: 10})),
        seed: Type.Optional(Type.Integer({minimum: 0, maximum: 4294967295})),
        stop: Type.Optional(Type.Array(Type.String({minLength: 1, maxLength: 256}), {maxItems: limits.maxStopSequences})),
        ignore_eos: Type.Optional(Type.Boolean()),
        /** Opt-in: the log-probability of each generated token (OpenAI's shape, under `logprobs.content`). */
        logprobs: Type.Optional(Type.Boolean()),
        top_logprobs: Type.Optional(Type.Integer({minimum: 0, maximum: MAX_TOP_LOGPROBS})),
        stream: Type.Optional(Type.Boolean())
    };
}

export function chatRequestSchema(limits: GenerationLimits) {
    return Type.Object({
        message: Type.String({minLength: 1}),
        system_prompt: Type.Optional(Type.String()),
        conversation_id: Type.Optional(Type.String({maxLength: 256})),
        context_type: Type.Optional(Type.Union(CONTEXT_TYPES.map((value) => Type.Literal(value)))),
        conversation_history: Type.Optional(Type.Array(Type.Object({
            sender: Type.Union(SENDERS.map((value) => Type.Literal(value))),
            content: Type.String(),
            created_at: Type.Optional(Type.String({maxLength: 64}))
        }), {maxItems: limits.maxHistoryMessages})),
        project_id: Type.Optional(Type.String({maxLength: 256})),
        ...samplingFields(limits)
    });
}

export type ChatRequestBody = Static<ReturnType<typeof chatRequestSchema>>;
export type HistoryEntry = NonNullable<ChatRequestBody["conversation_history"]>[number];

export interface ChatUsage {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    cached_tokens: number;
}

export interface ChatResponseBody {
    success: true;
    response: string;
    conversation_id: string | null;
    context_type: string;
    message_id: string;
    conversation_history: HistoryEntry[];
    system_prompt_used: string;
    model_info: {model_name: string; model_loaded: boolean};
    processing_time: number;
    generation_time: number;
    finish_reason: "stop" | "length" | "abort" | "timeout";
    usage: ChatUsage;
    history_truncated: number;
    /** Only when the request asked for `logprobs`. */
    logprobs?: {content: LogprobEntry[]};
}

export interface TopLogprobEntry {
    token: string;
    logprob: number;
    bytes: number[];
}

export interface LogprobEntry extends TopLogprobEntry {
    top_logprobs: TopLogprobEntry[];
}

export interface DebugPromptResponseBody {
    success: true;
    system_prompt_received: string | null;
    system_prompt_used: string;
    messages_built: Array<{role: string; content: string}>;
    rendered_prompt: string | null;
    prompt_tokens: number | null;
    /** Who applied the chat template: this worker's model, or the upstream (ENGINE=openai). */
    rendered_by: "embedded_engine" | "upstream";
    /** Says plainly why `rendered_prompt` is null when the upstream keeps its template to itself. */
    rendering_note: string | null;
    history_truncated: number;
    no_override_detected: boolean;
    pure_inference_mode: true;
}

export interface ErrorBody {
    success: false;
    error: string;
    code: string;
    param?: string;
}
