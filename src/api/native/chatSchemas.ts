import {Type, type Static} from "@sinclair/typebox";
import {Nullable, StringEnum, type GenerationLimits} from "../../http/schemaTypes.js";
import {logprobEntrySchema, MAX_TOP_LOGPROBS} from "../../http/logprobEntries.js";
import {callerFields, callerModelInfoSchema, messagesShapeFields} from "./messagesShape.js";

/**
 * Wire types of the worker's native API (the original worker's contract in shared/spec).
 * Unknown fields are accepted and ignored; known fields are checked strictly (no type coercion).
 */

export const SENDERS = ["user", "assistant"] as const;

/** Sampling fields shared by /chat and /enhance; `maximum`s come from the settings. */
export function samplingFields(limits: GenerationLimits) {
    return {
        max_tokens: Type.Optional(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit})),
        temperature: Type.Optional(Type.Number({minimum: 0, maximum: 2})),
        top_p: Type.Optional(Type.Number({exclusiveMinimum: 0, maximum: 1})),
        top_k: Type.Optional(Type.Integer({minimum: 0, maximum: 100000})),
        min_p: Type.Optional(Type.Number({minimum: 0, maximum: 1})),
        repetition_penalty: Type.Optional(Type.Number({exclusiveMinimum: 0, maximum: 10})),
        /** OpenAI's penalties (the callers send them): -2..2, over the last 64 tokens, 0 disables. */
        frequency_penalty: Type.Optional(Type.Number({minimum: -2, maximum: 2})),
        presence_penalty: Type.Optional(Type.Number({minimum: -2, maximum: 2})),
        seed: Type.Optional(Type.Integer({minimum: 0, maximum: 4294967295})),
        stop: Type.Optional(Type.Array(Type.String({minLength: 1, maxLength: 256}), {maxItems: limits.maxStopSequences})),
        ignore_eos: Type.Optional(Type.Boolean()),
        /** Opt-in: the log-probability of each generated token (OpenAI's shape, under `logprobs.content`). */
        logprobs: Type.Optional(Type.Boolean()),
        top_logprobs: Type.Optional(Type.Integer({minimum: 0, maximum: MAX_TOP_LOGPROBS})),
        stream: Type.Optional(Type.Boolean())
    };
}

/**
 * /chat and /generate take either shape: the v2.0 shape (`message`, `system_prompt`,
 * `conversation_history`) or the messages shape (`messages`); chatShape() refuses a mix.
 */
export function chatRequestSchema(limits: GenerationLimits) {
    return Type.Object({
        message: Type.Optional(Type.String({minLength: 1})),
        system_prompt: Type.Optional(Type.String()),
        conversation_id: Type.Optional(Nullable(Type.String({maxLength: 256}))),
        conversation_history: Type.Optional(Type.Array(Type.Object({
            sender: Type.Union(SENDERS.map((value) => Type.Literal(value))),
            content: Type.String(),
            created_at: Type.Optional(Type.String({maxLength: 64}))
        }), {maxItems: limits.maxHistoryMessages})),
        ...messagesShapeFields(limits),
        ...callerFields,
        ...samplingFields(limits)
    });
}

export type ChatRequestBody = Static<ReturnType<typeof chatRequestSchema>>;
export type HistoryEntry = NonNullable<ChatRequestBody["conversation_history"]>[number];

export const FINISH_REASONS = ["stop", "length", "abort", "timeout"] as const;

export const chatUsageSchema = Type.Object({
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
    cached_tokens: Type.Integer({description: "prompt tokens reused from the conversation cache"})
});
export type ChatUsage = Static<typeof chatUsageSchema>;

const historyEntrySchema = Type.Object({
    sender: StringEnum(SENDERS),
    content: Type.String(),
    created_at: Type.Optional(Type.String())
});

export const chatResponseSchema = Type.Object({
    success: Type.Literal(true),
    response: Type.String(),
    conversation_id: Nullable(Type.String()),
    context_type: Type.String(),
    message_id: Type.String(),
    conversation_history: Type.Array(historyEntrySchema, {description: "the history sent, then this turn (message and response)"}),
    system_prompt_used: Type.String(),
    model_info: Type.Object({model_name: Type.String(), model_loaded: Type.Boolean()}),
    sfw_mode: Type.Boolean({description: "whether the listed terms were masked in the response"}),
    processing_time: Type.Number({description: "seconds from receipt to the answer"}),
    generation_time: Type.Number({description: "seconds from the first model step to the end"}),
    finish_reason: StringEnum(FINISH_REASONS),
    usage: chatUsageSchema,
    history_truncated: Type.Integer({description: "oldest history entries left out to fit the context"}),
    logprobs: Type.Optional(Type.Object({content: Type.Array(logprobEntrySchema)}, {description: "only when the request asked for logprobs"}))
});
export type ChatResponseBody = Static<typeof chatResponseSchema>;

/** /chat and /generate's answer to the `messages` shape: the fields its callers read, plus ours. */
export const messagesChatResponseSchema = Type.Object({
    success: Type.Literal(true),
    response: Type.String(),
    generation_time: Type.Number({description: "seconds from the first model step to the end"}),
    tokens_generated: Type.Integer(),
    model_info: callerModelInfoSchema,
    conversation_id: Nullable(Type.String()),
    context_type: Nullable(Type.String({description: "the request's, echoed"})),
    message_id: Type.String(),
    sfw_mode: Type.Boolean(),
    processing_time: Type.Number({description: "seconds from receipt to the answer"}),
    finish_reason: StringEnum(FINISH_REASONS),
    usage: chatUsageSchema,
    history_truncated: Type.Integer({description: "oldest messages (after the leading system ones) left out to fit the context"}),
    logprobs: Type.Optional(Type.Object({content: Type.Array(logprobEntrySchema)}, {description: "only when the request asked for logprobs"}))
});
export type MessagesChatResponseBody = Static<typeof messagesChatResponseSchema>;

export const debugPromptResponseSchema = Type.Object({
    success: Type.Literal(true),
    model: Type.String({description: "the model that rendered the prompt"}),
    system_prompt_received: Nullable(Type.String()),
    system_prompt_used: Nullable(Type.String({description: "null only for a messages body without a system message (no fallback is added then)"})),
    messages_built: Type.Array(Type.Object({role: Type.String(), content: Type.String()})),
    rendered_prompt: Nullable(Type.String({description: "the exact text the model would see; null when the upstream renders it"})),
    prompt_tokens: Nullable(Type.Integer()),
    /** Who applied the chat template: this worker's model, or the upstream (ENGINE=openai). */
    rendered_by: Type.Union([Type.Literal("embedded_engine"), Type.Literal("upstream")]),
    /** Says plainly why `rendered_prompt` is null when the upstream keeps its template to itself. */
    rendering_note: Nullable(Type.String()),
    history_truncated: Type.Integer(),
    no_override_detected: Type.Boolean(),
    pure_inference_mode: Type.Literal(true)
});
export type DebugPromptResponseBody = Static<typeof debugPromptResponseSchema>;
