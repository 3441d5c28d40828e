import {Type, type Static, type TSchema} from "@sinclair/typebox";
import {MAX_TOP_LOGPROBS, type LogprobEntry} from "./native.js";

/**
 * Wire types of the OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`), named as OpenAI
 * names them. Fields OpenAI allows to be null accept null as "not given". Unknown fields are
 * accepted (and logged by the route); known fields are checked strictly.
 */

export interface OpenAiLimits {
    maxTokensLimit: number;
    maxStopSequences: number;
    maxHistoryMessages: number;
}

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** OpenAI's `developer` role is the system role of newer models; both map to our system role. */
export const OPENAI_ROLES = ["system", "developer", "user", "assistant"] as const;

const contentPart = Type.Object({
    type: Type.String(),
    text: Type.Optional(Type.String())
});

export const openAiMessageSchema = Type.Object({
    role: Type.Union(OPENAI_ROLES.map((role) => Type.Literal(role))),
    content: nullable(Type.Union([Type.String(), Type.Array(contentPart)])),
    name: Type.Optional(Type.String({maxLength: 256})),
    tool_calls: Type.Optional(Type.Unknown())
});

export function openAiMessagesSchema(limits: Pick<OpenAiLimits, "maxHistoryMessages">) {
    return Type.Array(openAiMessageSchema, {minItems: 1, maxItems: Math.max(1, limits.maxHistoryMessages)});
}

export const RESPONSE_FORMAT_TYPES = ["text", "json_object", "json_schema"] as const;

export function chatCompletionRequestSchema(limits: OpenAiLimits) {
    const maxTokens = nullable(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit}));
    return Type.Object({
        model: Type.Optional(Type.String({maxLength: 256})),
        messages: openAiMessagesSchema(limits),
        max_tokens: Type.Optional(maxTokens),
        max_completion_tokens: Type.Optional(maxTokens),
        temperature: Type.Optional(nullable(Type.Number({minimum: 0, maximum: 2}))),
        top_p: Type.Optional(nullable(Type.Number({exclusiveMinimum: 0, maximum: 1}))),
        seed: Type.Optional(nullable(Type.Integer({minimum: 0, maximum: 4294967295}))),
        stop: Type.Optional(nullable(Type.Union([
            Type.String({minLength: 1, maxLength: 256}),
            Type.Array(Type.String({minLength: 1, maxLength: 256}), {maxItems: limits.maxStopSequences})
        ]))),
        stream: Type.Optional(nullable(Type.Boolean())),
        stream_options: Type.Optional(nullable(Type.Object({include_usage: Type.Optional(nullable(Type.Boolean()))}))),
        user: Type.Optional(Type.String({maxLength: 512})),
        n: Type.Optional(nullable(Type.Integer({minimum: 1}))),
        logprobs: Type.Optional(nullable(Type.Boolean())),
        top_logprobs: Type.Optional(nullable(Type.Integer({minimum: 0, maximum: MAX_TOP_LOGPROBS}))),
        tool_choice: Type.Optional(Type.Unknown()),
        response_format: Type.Optional(nullable(Type.Object({
            type: Type.Union(RESPONSE_FORMAT_TYPES.map((type) => Type.Literal(type))),
            json_schema: Type.Optional(Type.Object({
                name: Type.String({minLength: 1, maxLength: 64}),
                description: Type.Optional(Type.String()),
                schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
                strict: Type.Optional(nullable(Type.Boolean()))
            }))
        }))),
        // Extensions that vLLM and llama-server also accept.
        top_k: Type.Optional(nullable(Type.Integer({minimum: 0, maximum: 100000}))),
        min_p: Type.Optional(nullable(Type.Number({minimum: 0, maximum: 1}))),
        repetition_penalty: Type.Optional(nullable(Type.Number({exclusiveMinimum: 0, maximum: 10}))),
        ignore_eos: Type.Optional(nullable(Type.Boolean())),
        /** GBNF grammar, as llama-server takes it. */
        grammar: Type.Optional(nullable(Type.String({minLength: 1})))
    });
}

export type ChatCompletionRequest = Static<ReturnType<typeof chatCompletionRequestSchema>>;
export type OpenAiMessage = Static<typeof openAiMessageSchema>;

/** Every field the route reads; anything else in a request is accepted, logged by name and ignored. */
export const HANDLED_REQUEST_FIELDS: ReadonlySet<string> = new Set([
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "stop", "stream",
    "stream_options", "user", "n", "logprobs", "top_logprobs", "tool_choice", "response_format", "top_k", "min_p",
    "repetition_penalty", "ignore_eos", "grammar"
]);

export type OpenAiFinishReason = "stop" | "length";

/** OpenAI's `choices[].logprobs`. */
export interface ChoiceLogprobs {
    content: LogprobEntry[];
    refusal: null;
}

export interface CompletionUsage {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: {cached_tokens: number};
}

export interface ChatCompletion {
    id: string;
    object: "chat.completion";
    created: number;
    model: string;
    system_fingerprint: null;
    choices: Array<{
        index: 0;
        message: {role: "assistant"; content: string; refusal: null};
        logprobs: ChoiceLogprobs | null;
        finish_reason: OpenAiFinishReason;
    }>;
    usage: CompletionUsage;
}

export interface ChatCompletionChunk {
    id: string;
    object: "chat.completion.chunk";
    created: number;
    model: string;
    system_fingerprint: null;
    choices: Array<{
        index: 0;
        delta: {role?: "assistant"; content?: string};
        logprobs: ChoiceLogprobs | null;
        finish_reason: OpenAiFinishReason | null;
    }>;
    /** Present (null until the last chunk) only when `stream_options.include_usage` is set. */
    usage?: CompletionUsage | null;
}

export interface ModelObject {
    id: string;
    object: "model";
    created: number;
    owned_by: string;
    /** vLLM's field: the context window, so a worker in front of this one can fit prompts to it. */
    max_model_len: number;
}

export interface ModelList {
    object: "list";
    data: ModelObject[];
}

/** OpenAI's error envelope. */
export interface OpenAiErrorBody {
    error: {
        message: string;
        type: string;
        param: string | null;
        code: string | null;
    };
}

/** llama-server's POST /apply-template, which a worker in front of this one renders prompts with. */
export function applyTemplateRequestSchema(limits: Pick<OpenAiLimits, "maxHistoryMessages">) {
    return Type.Object({messages: openAiMessagesSchema(limits)});
}

export type ApplyTemplateRequest = Static<ReturnType<typeof applyTemplateRequestSchema>>;

export interface ApplyTemplateResponse {
    prompt: string | null;
    /**
     * Our extension: the exact number of tokens the model will evaluate. Re-tokenizing `prompt`
     * would count client text that spells special tokens as special tokens, which the engine never does.
     */
    prompt_tokens: number | null;
}
