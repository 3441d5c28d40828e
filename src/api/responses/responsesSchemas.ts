import {Type, type Static} from "@sinclair/typebox";
import {Nullable, type GenerationLimits} from "../../http/schemaTypes.js";

/**
 * Wire types of OpenAI's Responses API (`POST /v1/responses`), named as OpenAI names them. Every
 * object is closed: a field that is neither OpenAI's nor a documented extension is refused with a
 * 400 naming it. responsesFields.ts says what each top-level field does; responsesInput.ts checks
 * which combinations of an input item's fields make sense.
 */

const closed = {additionalProperties: false} as const;

/** OpenAI's rule for function names; it also keeps them plain text in a grammar. */
const FUNCTION_NAME = {pattern: "^[a-zA-Z0-9_-]{1,64}$"} as const;

/** A content part of a message item: `input_text` (what a client writes) or `output_text` (an earlier answer replayed). */
const contentPart = Type.Object({
    type: Type.String({maxLength: 64}),
    text: Type.Optional(Type.String()),
    // An earlier answer's output, replayed: accepted and not rendered.
    annotations: Type.Optional(Nullable(Type.Array(Type.Unknown(), {maxItems: 1024}))),
    logprobs: Type.Optional(Nullable(Type.Array(Type.Unknown()))),
    // Parts the worker cannot read; typed loosely so the refusal can name them.
    image_url: Type.Optional(Type.Unknown()),
    file_id: Type.Optional(Type.Unknown()),
    file_data: Type.Optional(Type.Unknown()),
    file_url: Type.Optional(Type.Unknown()),
    filename: Type.Optional(Type.Unknown()),
    detail: Type.Optional(Type.Unknown())
}, closed);

/**
 * One input item: a message (`type` "message" or absent, with `role` and `content`), a
 * `function_call` an earlier answer made, or the `function_call_output` that answers it. One
 * closed shape for all, so an unknown field is named, and the adapter says which kind needs what.
 */
export const inputItemSchema = Type.Object({
    type: Type.Optional(Type.String({maxLength: 64})),
    role: Type.Optional(Type.String({maxLength: 32})),
    content: Type.Optional(Type.Union([Type.String(), Type.Array(contentPart, {maxItems: 1024})])),
    call_id: Type.Optional(Type.String({minLength: 1, maxLength: 256})),
    name: Type.Optional(Type.String(FUNCTION_NAME)),
    arguments: Type.Optional(Type.String()),
    output: Type.Optional(Type.Union([Type.String(), Type.Array(contentPart, {maxItems: 1024})])),
    // What an earlier answer's items carry (ids, status, phase): accepted, not rendered.
    id: Type.Optional(Nullable(Type.String({maxLength: 256}))),
    status: Type.Optional(Nullable(Type.String({maxLength: 32}))),
    phase: Type.Optional(Nullable(Type.String({maxLength: 32})))
}, closed);
export type InputItem = Static<typeof inputItemSchema>;

export const functionToolSchema = Type.Object({
    type: Type.String({maxLength: 64}),
    name: Type.Optional(Type.String(FUNCTION_NAME)),
    description: Type.Optional(Nullable(Type.String())),
    parameters: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
    strict: Type.Optional(Nullable(Type.Boolean()))
}, {additionalProperties: Type.Unknown()});
export type ResponsesTool = Static<typeof functionToolSchema>;

export const toolChoiceSchema = Type.Union([
    Type.String({maxLength: 32}),
    Type.Object({type: Type.String({maxLength: 64}), name: Type.Optional(Type.String(FUNCTION_NAME))}, {additionalProperties: Type.Unknown()})
]);

export const textConfigSchema = Type.Object({
    format: Type.Optional(Nullable(Type.Object({
        type: Type.Union([Type.Literal("text"), Type.Literal("json_object"), Type.Literal("json_schema")]),
        name: Type.Optional(Type.String({minLength: 1, maxLength: 64})),
        description: Type.Optional(Type.String()),
        schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        strict: Type.Optional(Nullable(Type.Boolean()))
    }, closed))),
    verbosity: Type.Optional(Nullable(Type.String({maxLength: 16})))
}, closed);

export function responsesRequestSchema(limits: GenerationLimits) {
    return Type.Object({
        model: Type.Optional(Type.String({maxLength: 256})),
        input: Type.Union([Type.String(), Type.Array(inputItemSchema, {minItems: 1, maxItems: Math.max(1, limits.maxHistoryMessages)})]),
        instructions: Type.Optional(Nullable(Type.String())),
        tools: Type.Optional(Nullable(Type.Array(functionToolSchema, {maxItems: 128}))),
        tool_choice: Type.Optional(Nullable(toolChoiceSchema)),
        parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
        text: Type.Optional(Nullable(textConfigSchema)),
        max_output_tokens: Type.Optional(Nullable(Type.Integer({minimum: 1, maximum: limits.maxTokensLimit}))),
        temperature: Type.Optional(Nullable(Type.Number({minimum: 0, maximum: 2}))),
        top_p: Type.Optional(Nullable(Type.Number({exclusiveMinimum: 0, maximum: 1}))),
        seed: Type.Optional(Nullable(Type.Integer({minimum: 0, maximum: 4294967295}))),
        stream: Type.Optional(Nullable(Type.Boolean())),
        previous_response_id: Type.Optional(Nullable(Type.String({maxLength: 256}))),
        store: Type.Optional(Nullable(Type.Boolean())),
        // Metadata: accepted, changes nothing (responsesFields.ts).
        metadata: Type.Optional(Nullable(Type.Record(Type.String(), Type.String(), {maxProperties: 16}))),
        user: Type.Optional(Type.String({maxLength: 512})),
        safety_identifier: Type.Optional(Nullable(Type.String({maxLength: 512}))),
        service_tier: Type.Optional(Nullable(Type.String({maxLength: 64}))),
        prompt_cache_key: Type.Optional(Nullable(Type.String({maxLength: 512}))),
        prompt_cache_retention: Type.Optional(Nullable(Type.String({maxLength: 64}))),
        prompt_cache_options: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
        // Refused when set to what the worker does not do (responsesFields.ts says why): typed loosely so the refusal can name them.
        truncation: Type.Optional(Type.Unknown()),
        stream_options: Type.Optional(Type.Unknown()),
        include: Type.Optional(Type.Unknown()),
        background: Type.Optional(Type.Unknown()),
        conversation: Type.Optional(Type.Unknown()),
        context_management: Type.Optional(Type.Unknown()),
        max_tool_calls: Type.Optional(Type.Unknown()),
        moderation: Type.Optional(Type.Unknown()),
        prompt: Type.Optional(Type.Unknown()),
        reasoning: Type.Optional(Type.Unknown()),
        top_logprobs: Type.Optional(Type.Unknown())
    }, closed);
}
export type ResponsesRequest = Static<ReturnType<typeof responsesRequestSchema>>;

/** An output item of a response: the assistant's text, or a call of one of the request's functions. */
export type OutputItem =
    | {type: "message"; id: string; role: "assistant"; status: ItemStatus; content: OutputText[]}
    | {type: "function_call"; id: string; call_id: string; name: string; arguments: string; status: ItemStatus};
export type ItemStatus = "in_progress" | "completed" | "incomplete";
export interface OutputText {
    type: "output_text";
    text: string;
    annotations: never[];
    logprobs: never[];
}

export interface ResponseUsage {
    input_tokens: number;
    input_tokens_details: {cached_tokens: number};
    output_tokens: number;
    output_tokens_details: {reasoning_tokens: number};
    total_tokens: number;
}

/** OpenAI's Response object, with the fields the worker fills in (the others are null or their defaults). */
export interface ResponseObject {
    id: string;
    object: "response";
    created_at: number;
    completed_at: number | null;
    status: "in_progress" | "completed" | "incomplete" | "failed";
    error: {code: string; message: string} | null;
    incomplete_details: {reason: "max_output_tokens"} | null;
    instructions: string | null;
    max_output_tokens: number | null;
    model: string;
    output: OutputItem[];
    parallel_tool_calls: boolean;
    previous_response_id: string | null;
    store: boolean;
    temperature: number;
    top_p: number;
    text: {format: Record<string, unknown>};
    tool_choice: unknown;
    tools: unknown[];
    truncation: "auto";
    usage: ResponseUsage | null;
    user: string | null;
    metadata: Record<string, string>;
}

/** For the API document: the response body without `stream` (with it, SSE events of the Responses stream). */
export const responseObjectSchema = Type.Object({
    id: Type.String(),
    object: Type.Literal("response"),
    created_at: Type.Integer(),
    completed_at: Nullable(Type.Integer()),
    status: Type.String(),
    error: Nullable(Type.Object({code: Type.String(), message: Type.String()})),
    incomplete_details: Nullable(Type.Object({reason: Type.String()})),
    instructions: Nullable(Type.String()),
    max_output_tokens: Nullable(Type.Integer()),
    model: Type.String(),
    output: Type.Array(Type.Unknown()),
    parallel_tool_calls: Type.Boolean(),
    previous_response_id: Nullable(Type.String()),
    store: Type.Boolean(),
    temperature: Type.Number(),
    top_p: Type.Number(),
    text: Type.Object({format: Type.Record(Type.String(), Type.Unknown())}),
    tool_choice: Type.Unknown(),
    tools: Type.Array(Type.Unknown()),
    truncation: Type.String(),
    usage: Nullable(Type.Object({
        input_tokens: Type.Integer(),
        input_tokens_details: Type.Object({cached_tokens: Type.Integer()}),
        output_tokens: Type.Integer(),
        output_tokens_details: Type.Object({reasoning_tokens: Type.Integer()}),
        total_tokens: Type.Integer()
    })),
    user: Nullable(Type.String()),
    metadata: Type.Record(Type.String(), Type.String())
}, {description: "without `stream`; with it, the Responses SSE events (response.created ... response.completed)"});
