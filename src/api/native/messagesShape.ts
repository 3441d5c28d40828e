import {Type, type Static} from "@sinclair/typebox";
import {Nullable, StringEnum} from "../../http/schemaTypes.js";

/**
 * The messages shape, the later API the original's callers speak (the OurVidz edge functions
 * `roleplay-chat`, `playground-chat`, `enhance-prompt`, `scene-narrative`): a `messages` array
 * instead of the v2.0 shape's `message` + `system_prompt` + `conversation_history`, a `model` to
 * pick one of several, `sfw_mode`, and metadata fields the callers send along. /chat, /generate and
 * /enhance accept these beside the v2.0 shape's fields; `chatShape` and `enhanceShape` refuse a
 * body that mixes them.
 */

export const MESSAGE_ROLES = ["system", "user", "assistant"] as const;

/** The messages shape's own fields, shared by /chat, /generate and /enhance. */
export function messagesShapeFields(limits: {maxHistoryMessages: number}) {
    return {
        messages: Type.Optional(Type.Array(Type.Object({
            role: StringEnum(MESSAGE_ROLES),
            content: Type.String()
        }), {minItems: 1, maxItems: limits.maxHistoryMessages})),
        model: Type.Optional(Type.String({minLength: 1, maxLength: 256, description: "which model answers (MODELS); with one model, any name reaches it"})),
        sfw_mode: Type.Optional(Type.Boolean({description: "mask the listed terms in the output, case-insensitively, streaming included"}))
    };
}

/**
 * What the callers send besides: accepted in the types they send them, never refused. Only
 * `context_type` is echoed (the callers' own conversation types, such as `character_roleplay`);
 * the rest is the caller's bookkeeping and changes nothing in the answer (README, "Calling from
 * the OurVidz edge functions").
 */
export const callerFields = {
    context_type: Type.Optional(Nullable(Type.String({maxLength: 64}))),
    project_id: Type.Optional(Nullable(Type.String({maxLength: 256}))),
    content_tier: Type.Optional(Type.Unknown()),
    nsfw_enforce: Type.Optional(Type.Unknown()),
    nsfw_reason: Type.Optional(Type.Unknown()),
    project_context: Type.Optional(Type.Unknown()),
    long_response: Type.Optional(Type.Unknown())
};

export const callerModelInfoSchema = Type.Object({
    model_name: Type.String(),
    model_loaded: Type.Boolean(),
    inference_engine: Type.String({description: "llama.cpp, or openai_upstream with ENGINE=openai"}),
    active_model_type: Nullable(Type.String({description: "instruct (the model has a chat template) or base (rendered role: content); null when not known"}))
});
export type CallerModelInfo = Static<typeof callerModelInfoSchema>;
