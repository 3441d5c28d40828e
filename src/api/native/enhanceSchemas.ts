import {Type, type Static} from "@sinclair/typebox";
import {FINISH_REASONS, chatUsageSchema} from "./chatSchemas.js";
import {StringEnum} from "../../http/schemaTypes.js";
import {callerFields, callerModelInfoSchema, messagesShapeFields} from "./messagesShape.js";

/**
 * Wire types of /enhance, /enhance/legacy and /enhancement/info (the original worker's contract in
 * shared/spec, plus `usage` and `finish_reason`). Unknown fields are accepted and ignored.
 */

export const QUALITY_VALUES = ["fast", "high"] as const;
export const ENHANCEMENT_TYPES = ["manual", "auto"] as const;

export interface EnhanceLimits {
    maxHistoryMessages: number;
    /** The job types the worker has templates for. */
    jobTypes: readonly string[];
    maxPromptChars: number;
    maxTokensLimit: number;
}

/** A string enum whose validation error lists the allowed values (a union of literals would not). */
/**
 * Either shape: the v2.0 shape (`prompt` + `job_type`, rewritten through the job type's template) or
 * The messages shape (`messages`, whose system message is the instruction: no template applies).
 */
export function enhanceRequestSchema(limits: EnhanceLimits) {
    return Type.Object({
        prompt: Type.Optional(Type.String({minLength: 1, maxLength: limits.maxPromptChars})),
        ...messagesShapeFields(limits),
        ...callerFields,
        top_p: Type.Optional(Type.Number({exclusiveMinimum: 0, maximum: 1})),
        job_type: Type.Optional(StringEnum(limits.jobTypes)),
        quality: Type.Optional(StringEnum(QUALITY_VALUES)),
        enhancement_type: Type.Optional(StringEnum(ENHANCEMENT_TYPES)),
        seed: Type.Optional(Type.Integer({minimum: 0, maximum: 4294967295})),
        temperature: Type.Optional(Type.Number({minimum: 0, maximum: 2})),
        frequency_penalty: Type.Optional(Type.Number({minimum: -2, maximum: 2})),
        presence_penalty: Type.Optional(Type.Number({minimum: -2, maximum: 2})),
        max_tokens: Type.Optional(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit}))
    });
}

export type EnhanceRequestBody = Static<ReturnType<typeof enhanceRequestSchema>>;

export const enhanceResponseSchema = Type.Object({
    success: Type.Literal(true),
    original_prompt: Type.String(),
    enhanced_prompt: Type.String(),
    generation_time: Type.Number(),
    enhancement_type: Type.String(),
    job_type: Type.String(),
    quality: Type.String(),
    finish_reason: StringEnum(FINISH_REASONS),
    usage: chatUsageSchema
});
export type EnhanceResponseBody = Static<typeof enhanceResponseSchema>;

/** /enhance's answer to the `messages` shape: the fields its callers read, plus ours. */
export const messagesEnhanceResponseSchema = Type.Object({
    success: Type.Literal(true),
    enhanced_prompt: Type.String(),
    generation_time: Type.Number(),
    tokens_generated: Type.Integer(),
    model_info: callerModelInfoSchema,
    sfw_mode: Type.Boolean(),
    processing_time: Type.Number(),
    finish_reason: StringEnum(FINISH_REASONS),
    usage: chatUsageSchema
});
export type MessagesEnhanceResponseBody = Static<typeof messagesEnhanceResponseSchema>;

/** The messages shape's /enhance default for max_tokens (an enhanced prompt is short). */
export const MESSAGES_ENHANCE_MAX_TOKENS = 200;

/** The original's failure body (the prompt handed back unchanged), now with a status and a code. */
export interface EnhanceFailureBody {
    success: false;
    original_prompt: string;
    enhanced_prompt: string;
    error: string;
    code: string;
    generation_time: number;
    enhancement_type: string;
    job_type: string;
    quality: string;
}

export interface JobTypeInfo {
    style: "image" | "video";
    quality: string;
    /** Most model tokens an enhanced prompt takes. */
    token_budget: number;
    /** Grammar limits: the first phrase (clause) is bounded by the budget so that it always fits whole. */
    first_phrase_max_words: number;
    phrase_max_words: number;
    /** "built-in" or "operator" (from ENHANCE_TEMPLATES_DIR). */
    template_source: string;
    template_file: string;
    description: string | null;
}

export interface EnhancementInfoBody {
    enhancement_system: string;
    supported_job_types: string[];
    model_info: {model_name: string; model_loaded: boolean; enhancement_method: string};
    endpoints: Record<string, string>;
    job_types: Record<string, JobTypeInfo>;
    output_format: {
        grammar_constrained: true;
        max_word_chars: number;
        min_token_budget: number;
        token_unit: string;
    };
}
