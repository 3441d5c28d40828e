import {Type, type Static} from "@sinclair/typebox";
import {Nullable} from "../../http/schemaTypes.js";

/**
 * What the callers' discovery reads (`get-active-worker-url` and friends): the capabilities and
 * endpoints on /health, /worker/info, and /debug/model. Every value comes from the live worker.
 */

export const capabilitiesSchema = Type.Object({
    chat: Type.Boolean(),
    generate: Type.Boolean(),
    enhance: Type.Boolean(),
    streaming: Type.Boolean({description: "stream: true answers with Server-Sent Events"}),
    openai_compatible: Type.Boolean({description: "/v1/chat/completions and /v1/models"}),
    message_formats: Type.Array(Type.String(), {description: "messages (the messages shape) and message (the v2.0 shape)"}),
    sfw_mode: Type.Boolean(),
    models: Type.Array(Type.String(), {description: "the names `model` may take"}),
    model_selection: Type.Boolean({description: "requests pick their model by name (MODELS)"}),
    conversation_cache: Type.Boolean({description: "a conversation's prompt is reused across turns (CONVERSATION_CACHE)"})
});
export type Capabilities = Static<typeof capabilitiesSchema>;

/** "METHOD - description" by path, for every route the worker serves (the original's /chat/health style). */
export const endpointsSchema = Type.Record(Type.String(), Type.String());

const workerModelSchema = Type.Object({
    name: Type.String(),
    loaded: Type.Boolean(),
    state: Type.String(),
    model_type: Nullable(Type.String({description: "instruct or base; null until loaded"})),
    context_size: Type.Integer(),
    parallel_sequences: Type.Integer(),
    default: Type.Boolean({description: "the model of requests that name none"})
});

export const workerInfoSchema = Type.Object({
    worker_type: Type.Literal("chat"),
    architecture: Type.Literal("pure_inference_engine"),
    version: Type.String(),
    message_format: Type.Literal("messages", {description: "the messages shape; the v2.0 shape (message + system_prompt + conversation_history) is accepted too"}),
    capabilities: capabilitiesSchema,
    models: Type.Array(workerModelSchema),
    models_loaded: Type.Array(Type.String()),
    endpoints: endpointsSchema
});
export type WorkerInfoBody = Static<typeof workerInfoSchema>;

export const debugModelSchema = Type.Object({
    active_model: Type.String({description: "the default model (first of MODELS)"}),
    loaded: Type.Record(Type.String(), Type.Boolean(), {description: "each model by name"}),
    instruct_loaded: Type.Boolean({description: "a model with a chat template is loaded"}),
    base_loaded: Type.Boolean({description: "a model without a chat template (rendered role: content) is loaded"}),
    models: Type.Array(Type.Object({
        name: Type.String(), state: Type.String(), model_type: Nullable(Type.String()), reason: Nullable(Type.String())
    }))
});
export type DebugModelBody = Static<typeof debugModelSchema>;
