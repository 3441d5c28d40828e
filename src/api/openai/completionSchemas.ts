import {Type, type Static} from "@sinclair/typebox";
import {Nullable, StringEnum, type GenerationLimits} from "../../http/schemaTypes.js";
import {completionUsageSchema, sharedRequestFields, type CompletionUsage} from "./openaiSchemas.js";

/**
 * Wire types of OpenAI's legacy `/v1/completions`: a raw prompt in (no chat template), text out.
 * Closed like the chat request: an unknown field is refused with a 400 naming it.
 */

/** OpenAI's limit for a completion's `logprobs` (the number of alternatives). */
export const MAX_COMPLETION_LOGPROBS = 5;

export function completionRequestSchema(limits: GenerationLimits) {
    return Type.Object({
        /** A string, or OpenAI's other shapes (a list of strings, token ids) so the refusal can say which are not supported. */
        prompt: Type.Union([
            Type.String(),
            Type.Array(Type.String()),
            Type.Array(Type.Integer()),
            Type.Array(Type.Array(Type.Integer()))
        ]),
        ...sharedRequestFields(limits),
        echo: Type.Optional(Nullable(Type.Boolean())),
        logprobs: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: MAX_COMPLETION_LOGPROBS}))),
        best_of: Type.Optional(Nullable(Type.Integer({minimum: 1}))),
        suffix: Type.Optional(Nullable(Type.String()))
    }, {additionalProperties: false});
}

export type CompletionRequest = Static<ReturnType<typeof completionRequestSchema>>;

export const COMPLETION_FINISH_REASONS = ["stop", "length"] as const;
export type CompletionFinishReason = (typeof COMPLETION_FINISH_REASONS)[number];

/** The legacy logprobs object: parallel lists per token. */
export const completionLogprobsSchema = Type.Object({
    tokens: Type.Array(Type.String()),
    token_logprobs: Type.Array(Type.Number()),
    top_logprobs: Type.Array(Type.Record(Type.String(), Type.Number())),
    text_offset: Type.Array(Type.Integer())
});
export type CompletionLogprobs = Static<typeof completionLogprobsSchema>;

export const completionSchema = Type.Object({
    id: Type.String(),
    object: Type.Literal("text_completion"),
    created: Type.Integer(),
    model: Type.String(),
    system_fingerprint: Nullable(Type.String()),
    choices: Type.Array(Type.Object({
        index: Type.Integer(),
        text: Type.String(),
        logprobs: Nullable(completionLogprobsSchema),
        finish_reason: StringEnum(COMPLETION_FINISH_REASONS)
    })),
    usage: completionUsageSchema
}, {description: "without `stream`; with it, data-only SSE text_completion events ending with [DONE]"});
export type Completion = Static<typeof completionSchema>;

export interface CompletionChunk {
    id: string;
    object: "text_completion";
    created: number;
    model: string;
    system_fingerprint: string | null;
    choices: Array<{index: number; text: string; logprobs: CompletionLogprobs | null; finish_reason: CompletionFinishReason | null}>;
    /** Present (null until the last chunk) only when `stream_options.include_usage` is set. */
    usage?: CompletionUsage | null;
}
