import {Type, type Static} from "@sinclair/typebox";
import {Nullable, StringEnum} from "./schemaTypes.js";
import {MAX_TOP_LOGPROBS, logprobEntrySchema, type GenerationLimits} from "./native.js";

/**
 * Wire types of the OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`), named as OpenAI
 * names them. Fields OpenAI allows to be null accept null as "not given". Unknown fields are
 * accepted (and logged by the route); known fields are checked strictly.
 */


/** OpenAI's `developer` role is the system role of newer models; both map to our system role. */
export const OPENAI_ROLES = ["system", "developer", "user", "assistant"] as const;

const contentPart = Type.Object({
    type: Type.String(),
    text: Type.Optional(Type.String())
});

export const openAiMessageSchema = Type.Object({
    role: Type.Union(OPENAI_ROLES.map((role) => Type.Literal(role))),
    content: Nullable(Type.Union([Type.String(), Type.Array(contentPart)])),
    name: Type.Optional(Type.String({maxLength: 256})),
    tool_calls: Type.Optional(Type.Unknown())
});

export function openAiMessagesSchema(limits: Pick<GenerationLimits, "maxHistoryMessages">) {
    return Type.Array(openAiMessageSchema, {minItems: 1, maxItems: Math.max(1, limits.maxHistoryMessages)});
}

export const RESPONSE_FORMAT_TYPES = ["text", "json_object", "json_schema"] as const;

export function chatCompletionRequestSchema(limits: GenerationLimits) {
    const maxTokens = Nullable(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit}));
    return Type.Object({
        model: Type.Optional(Type.String({maxLength: 256})),
        messages: openAiMessagesSchema(limits),
        max_tokens: Type.Optional(maxTokens),
        max_completion_tokens: Type.Optional(maxTokens),
        temperature: Type.Optional(Nullable(Type.Number({minimum: 0, maximum: 2}))),
        top_p: Type.Optional(Nullable(Type.Number({exclusiveMinimum: 0, maximum: 1}))),
        seed: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: 4294967295}))),
        stop: Type.Optional(Nullable(Type.Union([
            Type.String({minLength: 1, maxLength: 256}),
            Type.Array(Type.String({minLength: 1, maxLength: 256}), {maxItems: limits.maxStopSequences})
        ]))),
        stream: Type.Optional(Nullable(Type.Boolean())),
        stream_options: Type.Optional(Nullable(Type.Object({include_usage: Type.Optional(Nullable(Type.Boolean()))}))),
        user: Type.Optional(Type.String({maxLength: 512})),
        n: Type.Optional(Nullable(Type.Integer({minimum: 1}))),
        logprobs: Type.Optional(Nullable(Type.Boolean())),
        top_logprobs: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: MAX_TOP_LOGPROBS}))),
        tool_choice: Type.Optional(Type.Unknown()),
        response_format: Type.Optional(Nullable(Type.Object({
            type: Type.Union(RESPONSE_FORMAT_TYPES.map((type) => Type.Literal(type))),
            json_schema: Type.Optional(Type.Object({
                name: Type.String({minLength: 1, maxLength: 64}),
                description: Type.Optional(Type.String()),
                schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
                strict: Type.Optional(Nullable(Type.Boolean()))
            }))
        }))),
        // Extensions that vLLM and llama-server also accept.
        top_k: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: 100000}))),
        min_p: Type.Optional(Nullable(Type.Number({minimum: 0, maximum: 1}))),
        repetition_penalty: Type.Optional(Nullable(Type.Number({exclusiveMinimum: 0, maximum: 10}))),
        ignore_eos: Type.Optional(Nullable(Type.Boolean())),
        /** GBNF grammar, as llama-server takes it. */
        grammar: Type.Optional(Nullable(Type.String({minLength: 1})))
    });
}

export type ChatCompletionRequest = Static<ReturnType<typeof chatCompletionRequestSchema>>;
export type OpenAiMessage = Static<typeof openAiMessageSchema>;

/** Every field the schema knows (and the route reads); anything else is accepted, logged by name and ignored. */
export const HANDLED_REQUEST_FIELDS: ReadonlySet<string> = new Set(Object.keys(
    chatCompletionRequestSchema({maxTokensLimit: 1, maxStopSequences: 1, maxHistoryMessages: 1}).properties));

export const OPENAI_FINISH_REASONS = ["stop", "length"] as const;
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
    system_fingerprint: Type.Null(),
    choices: Type.Array(Type.Object({
        index: Type.Literal(0),
        message: Type.Object({role: Type.Literal("assistant"), content: Type.String(), refusal: Type.Null()}),
        logprobs: Nullable(choiceLogprobsSchema),
        finish_reason: StringEnum(OPENAI_FINISH_REASONS)
    })),
    usage: completionUsageSchema
}, {description: "without `stream`; with it, data-only SSE chat.completion.chunk events ending with [DONE]"});
export type ChatCompletion = Static<typeof chatCompletionSchema>;

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
export function applyTemplateRequestSchema(limits: Pick<GenerationLimits, "maxHistoryMessages">) {
    return Type.Object({messages: openAiMessagesSchema(limits)});
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
