import {Type, type Static} from "@sinclair/typebox";
import {Nullable, StringEnum, type GenerationLimits} from "../../http/schemaTypes.js";
import {logprobEntrySchema, MAX_TOP_LOGPROBS} from "../../http/logprobEntries.js";

/**
 * Wire types of the OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`), named as OpenAI
 * names them. Fields OpenAI allows to be null accept null as "not given". Every object is closed:
 * a field that is neither OpenAI's nor one of our documented extensions is refused with a 400 that
 * names it (openaiFields.ts says what each known field does).
 */

/** OpenAI's `developer` role is the system role of newer models; both map to our system role. */
export const OPENAI_ROLES = ["system", "developer", "user", "assistant", "tool"] as const;

/** OpenAI's rule for function names; it also keeps them plain text in a grammar. */
export const FUNCTION_NAME_PATTERN = "^[a-zA-Z0-9_-]{1,64}$";

const closed = {additionalProperties: false} as const;

const contentPart = Type.Object({
    type: Type.String(),
    text: Type.Optional(Type.String()),
    refusal: Type.Optional(Type.String()),
    image_url: Type.Optional(Type.Unknown()),
    input_audio: Type.Optional(Type.Unknown()),
    file: Type.Optional(Type.Unknown())
}, closed);

export const toolCallSchema = Type.Object({
    id: Type.String({minLength: 1, maxLength: 256}),
    type: Type.Literal("function"),
    function: Type.Object({name: Type.String({pattern: FUNCTION_NAME_PATTERN}), arguments: Type.String()}, closed)
}, closed);

export const openAiMessageSchema = Type.Object({
    role: Type.Union(OPENAI_ROLES.map((role) => Type.Literal(role))),
    content: Type.Optional(Nullable(Type.Union([Type.String(), Type.Array(contentPart)]))),
    name: Type.Optional(Type.String({maxLength: 256})),
    tool_calls: Type.Optional(Nullable(Type.Array(toolCallSchema, {maxItems: 128}))),
    tool_call_id: Type.Optional(Type.String({maxLength: 256})),
    // What OpenAI returned about an earlier answer (openaiMessages.ts: accepted on assistant
    // messages, never rendered); typed loosely so a replayed conversation passes as OpenAI sent it.
    refusal: Type.Optional(Nullable(Type.String())),
    audio: Type.Optional(Nullable(Type.Unknown())),
    annotations: Type.Optional(Nullable(Type.Array(Type.Unknown(), {maxItems: 1024}))),
    reasoning_content: Type.Optional(Nullable(Type.String())),
    function_call: Type.Optional(Nullable(Type.Unknown()))
}, closed);

export function openAiMessagesSchema(limits: Pick<GenerationLimits, "maxHistoryMessages">) {
    return Type.Array(openAiMessageSchema, {minItems: 1, maxItems: Math.max(1, limits.maxHistoryMessages)});
}

export const toolSchema = Type.Object({
    type: Type.Union([Type.Literal("function"), Type.Literal("custom")]),
    function: Type.Optional(Type.Object({
        name: Type.String({pattern: FUNCTION_NAME_PATTERN}),
        description: Type.Optional(Type.String()),
        parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        strict: Type.Optional(Nullable(Type.Boolean()))
    }, closed)),
    custom: Type.Optional(Type.Unknown())
}, closed);

export const TOOL_CHOICE_MODES = ["none", "auto", "required"] as const;

export const toolChoiceSchema = Type.Union([
    StringEnum(TOOL_CHOICE_MODES),
    Type.Object({
        type: Type.Union([Type.Literal("function"), Type.Literal("allowed_tools"), Type.Literal("custom")]),
        function: Type.Optional(Type.Object({name: Type.String({pattern: FUNCTION_NAME_PATTERN})}, closed)),
        allowed_tools: Type.Optional(Type.Unknown()),
        custom: Type.Optional(Type.Unknown())
    }, closed)
]);

export const RESPONSE_FORMAT_TYPES = ["text", "json_object", "json_schema"] as const;

/** Fields /v1/chat/completions and /v1/completions share: sampling, stopping, streaming, and our extensions. */
export function sharedRequestFields(limits: GenerationLimits) {
    return {
        model: Type.Optional(Type.String({maxLength: 256})),
        max_tokens: Type.Optional(Nullable(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit}))),
        temperature: Type.Optional(Nullable(Type.Number({minimum: 0, maximum: 2}))),
        top_p: Type.Optional(Nullable(Type.Number({exclusiveMinimum: 0, maximum: 1}))),
        frequency_penalty: Type.Optional(Nullable(Type.Number({minimum: -2, maximum: 2}))),
        presence_penalty: Type.Optional(Nullable(Type.Number({minimum: -2, maximum: 2}))),
        /** Token id (as a string) to a value added to its logit. */
        logit_bias: Type.Optional(Nullable(Type.Record(Type.String(), Type.Number({minimum: -100, maximum: 100}), {maxProperties: 1024}))),
        seed: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: 4294967295}))),
        stop: Type.Optional(Nullable(Type.Union([
            Type.String({minLength: 1, maxLength: 256}),
            Type.Array(Type.String({minLength: 1, maxLength: 256}), {maxItems: limits.maxStopSequences})
        ]))),
        n: Type.Optional(Nullable(Type.Integer({minimum: 1}))),
        stream: Type.Optional(Nullable(Type.Boolean())),
        stream_options: Type.Optional(Nullable(Type.Object({
            include_usage: Type.Optional(Nullable(Type.Boolean())),
            include_obfuscation: Type.Optional(Nullable(Type.Boolean()))
        }, closed))),
        user: Type.Optional(Type.String({maxLength: 512})),
        // Extensions that vLLM and llama-server also accept.
        top_k: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: 100000}))),
        min_p: Type.Optional(Nullable(Type.Number({minimum: 0, maximum: 1}))),
        repetition_penalty: Type.Optional(Nullable(Type.Number({exclusiveMinimum: 0, maximum: 10}))),
        ignore_eos: Type.Optional(Nullable(Type.Boolean())),
        /** GBNF grammar, as llama-server takes it. */
        grammar: Type.Optional(Nullable(Type.String({minLength: 1}))),
        /** The native routes' term mask (sfw_mode), ours alone. */
        sfw_mode: Type.Optional(Nullable(Type.Boolean()))
    };
}

export function chatCompletionRequestSchema(limits: GenerationLimits) {
    const maxTokens = Nullable(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit}));
    return Type.Object({
        messages: openAiMessagesSchema(limits),
        ...sharedRequestFields(limits),
        max_completion_tokens: Type.Optional(maxTokens),
        logprobs: Type.Optional(Nullable(Type.Boolean())),
        top_logprobs: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: MAX_TOP_LOGPROBS}))),
        tools: Type.Optional(Nullable(Type.Array(toolSchema, {maxItems: 128}))),
        tool_choice: Type.Optional(Nullable(toolChoiceSchema)),
        parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
        response_format: Type.Optional(Nullable(Type.Object({
            type: Type.Union(RESPONSE_FORMAT_TYPES.map((type) => Type.Literal(type))),
            json_schema: Type.Optional(Type.Object({
                name: Type.String({minLength: 1, maxLength: 64}),
                description: Type.Optional(Type.String()),
                schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
                strict: Type.Optional(Nullable(Type.Boolean()))
            }, closed))
        }, closed))),
        modalities: Type.Optional(Nullable(Type.Array(Type.String(), {maxItems: 4}))),
        // Metadata: accepted, changes nothing (openaiFields.ts).
        metadata: Type.Optional(Nullable(Type.Record(Type.String(), Type.String()))),
        store: Type.Optional(Nullable(Type.Boolean())),
        service_tier: Type.Optional(Nullable(Type.String({maxLength: 64}))),
        safety_identifier: Type.Optional(Nullable(Type.String({maxLength: 512}))),
        prompt_cache_key: Type.Optional(Nullable(Type.String({maxLength: 512}))),
        prompt_cache_retention: Type.Optional(Nullable(Type.String({maxLength: 64}))),
        prompt_cache_options: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
        // Refused when set (openaiFields.ts says why): typed loosely so the refusal can name them.
        audio: Type.Optional(Type.Unknown()),
        function_call: Type.Optional(Type.Unknown()),
        functions: Type.Optional(Type.Unknown()),
        moderation: Type.Optional(Type.Unknown()),
        prediction: Type.Optional(Type.Unknown()),
        reasoning_effort: Type.Optional(Type.Unknown()),
        verbosity: Type.Optional(Type.Unknown()),
        web_search_options: Type.Optional(Type.Unknown())
    }, closed);
}

export type ChatCompletionRequest = Static<ReturnType<typeof chatCompletionRequestSchema>>;
export type OpenAiMessage = Static<typeof openAiMessageSchema>;
export type OpenAiTool = Static<typeof toolSchema>;
export type OpenAiToolChoice = Static<typeof toolChoiceSchema>;

export const OPENAI_FINISH_REASONS = ["stop", "length", "tool_calls"] as const;
export type OpenAiFinishReason = (typeof OPENAI_FINISH_REASONS)[number];

/** OpenAI's `choices[].logprobs`. */
export const choiceLogprobsSchema = Type.Object({content: Type.Array(logprobEntrySchema), refusal: Type.Null()});
export type ChoiceLogprobs = Static<typeof choiceLogprobsSchema>;

export const completionUsageSchema = Type.Object({
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
    prompt_tokens_details: Type.Object({cached_tokens: Type.Integer()})
});
export type CompletionUsage = Static<typeof completionUsageSchema>;

export const chatCompletionSchema = Type.Object({
    id: Type.String(),
    object: Type.Literal("chat.completion"),
    created: Type.Integer(),
    model: Type.String(),
    system_fingerprint: Nullable(Type.String()),
    choices: Type.Array(Type.Object({
        index: Type.Integer(),
        message: Type.Object({
            role: Type.Literal("assistant"),
            content: Nullable(Type.String()),
            refusal: Type.Null(),
            tool_calls: Type.Optional(Type.Array(toolCallSchema))
        }),
        logprobs: Nullable(choiceLogprobsSchema),
        finish_reason: StringEnum(OPENAI_FINISH_REASONS)
    })),
    usage: completionUsageSchema
}, {description: "without `stream`; with it, data-only SSE chat.completion.chunk events ending with [DONE]"});
export type ChatCompletion = Static<typeof chatCompletionSchema>;
export type OpenAiToolCall = Static<typeof toolCallSchema>;

/** A piece of a tool call in a stream: the first carries id, type and name; later ones more arguments. */
export interface ToolCallDelta {
    index: number;
    id?: string;
    type?: "function";
    function: {name?: string; arguments: string};
}

export interface ChatCompletionChunk {
    id: string;
    object: "chat.completion.chunk";
    created: number;
    model: string;
    system_fingerprint: string | null;
    choices: Array<{
        index: number;
        delta: {role?: "assistant"; content?: string | null; tool_calls?: ToolCallDelta[]};
        logprobs: ChoiceLogprobs | null;
        finish_reason: OpenAiFinishReason | null;
    }>;
    /** Present (null until the last chunk) only when `stream_options.include_usage` is set. */
    usage?: CompletionUsage | null;
}

export const modelObjectSchema = Type.Object({
    id: Type.String(),
    object: Type.Literal("model"),
    created: Type.Integer(),
    owned_by: Type.String(),
    /** vLLM's field: the context window, so a worker in front of this one can fit prompts to it. */
    max_model_len: Type.Integer({description: "the context window (vLLM's field)"})
});
export type ModelObject = Static<typeof modelObjectSchema>;

export const modelListSchema = Type.Object({object: Type.Literal("list"), data: Type.Array(modelObjectSchema)});
export type ModelList = Static<typeof modelListSchema>;

/** llama-server's POST /apply-template, which a worker in front of this one renders prompts with (tools included). */
export function applyTemplateRequestSchema(limits: Pick<GenerationLimits, "maxHistoryMessages">) {
    return Type.Object({
        messages: openAiMessagesSchema(limits),
        tools: Type.Optional(Nullable(Type.Array(toolSchema, {maxItems: 128}))),
        model: Type.Optional(Type.String({maxLength: 256, description: "which served model's template (default: the default model)"}))
    }, closed);
}

export type ApplyTemplateRequest = Static<ReturnType<typeof applyTemplateRequestSchema>>;

export const applyTemplateResponseSchema = Type.Object({
    prompt: Nullable(Type.String()),
    /**
     * Our extension: the exact number of tokens the model will evaluate. Re-tokenizing `prompt`
     * would count client text that spells special tokens as special tokens, which the engine never does.
     */
    prompt_tokens: Nullable(Type.Integer({description: "the exact number of tokens the model evaluates (client text stays text)"}))
});
export type ApplyTemplateResponse = Static<typeof applyTemplateResponseSchema>;
