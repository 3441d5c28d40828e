import {Type, type Static} from "@sinclair/typebox";
import {capabilitiesSchema, endpointsSchema} from "./discoverySchemas.js";
import {Nullable} from "../../http/schemaTypes.js";

/**
 * Wire types of the operations endpoints: /health, /ready, /chat/health, /memory/*, /model/info.
 * Field names follow the original worker's contract (shared/spec); memory figures are GiB (2^30
 * bytes). A value that is not known is null, never a made-up number.
 */


export const HEALTH_STATES = ["healthy", "loading", "degraded", "unhealthy"] as const;

export const systemPromptFeaturesSchema = Type.Object({
    pure_inference_engine: Type.Boolean(),
    no_prompt_overrides: Type.Boolean(),
    respects_provided_prompts: Type.Boolean()
});

/** The original worker's running counters, computed from the metrics registry (/metrics has the same numbers). */
export const healthStatsSchema = Type.Object({
    requests_served: Type.Integer({description: "generations that reached an end (/chat, /enhance, /v1/chat/completions), any finish_reason"}),
    errors: Type.Integer({description: "HTTP responses with a 5xx status"}),
    client_errors: Type.Integer({description: "HTTP responses with a 4xx status"}),
    tokens_generated: Type.Integer(),
    prompt_tokens: Type.Integer(),
    average_generation_time: Nullable(Type.Number({description: "seconds per generation; null before the first"})),
    model_loads: Type.Integer({description: "successful loads"}),
    model_load_failures: Type.Integer(),
    model_unloads: Type.Integer(),
    startup_time: Type.Number({description: "Unix time (seconds) the worker started"})
});

const SNAPSHOT_AGE = "seconds since the model runner measured the memory and device figures (it does after each heartbeat, and /health never waits on it); null when measured for this answer or nothing runs";

export const healthResponseSchema = Type.Object({
    status: Type.Union(HEALTH_STATES.map((value) => Type.Literal(value))),
    reason: Nullable(Type.String()),
    reason_code: Nullable(Type.String()),
    ready: Type.Boolean(),
    architecture: Type.Literal("pure_inference_engine"),
    worker_type: Type.Literal("chat"),
    gpu_utilization: Nullable(Type.Number({description: "percent, from nvidia-smi"})),
    memory_usage: Nullable(Type.Number({description: "GiB the model and its context occupy on their device"})),
    memory_kind: Nullable(Type.Union([Type.Literal("vram"), Type.Literal("ram")])),
    snapshot_age_seconds: Nullable(Type.Number({description: SNAPSHOT_AGE})),
    active_jobs: Type.Integer({description: "running_jobs + queued_jobs"}),
    running_jobs: Type.Integer(),
    queued_jobs: Type.Integer(),
    uptime: Type.Number({description: "seconds"}),
    model_loaded: Type.Boolean(),
    model_state: Type.String(),
    model_name: Type.String(),
    load_progress: Nullable(Type.Number({description: "percent while loading"})),
    download_progress: Nullable(Type.Number({description: "percent of the model's files downloaded, while MODEL's download runs (null until their size is known)"})),
    downloaded_bytes: Nullable(Type.Integer({description: "bytes of the model's files downloaded so far, while MODEL's download runs"})),
    download_total_bytes: Nullable(Type.Integer({description: "bytes of all the model's files (every shard), once the server told"})),
    system_prompt_features: systemPromptFeaturesSchema,
    stats: healthStatsSchema,
    capabilities: capabilitiesSchema,
    endpoints: endpointsSchema,
    models: Type.Array(Type.Object({
        name: Type.String(),
        status: Type.Union(HEALTH_STATES.map((value) => Type.Literal(value))),
        model_state: Type.String(),
        model_loaded: Type.Boolean(),
        reason: Nullable(Type.String()),
        reason_code: Nullable(Type.String()),
        load_progress: Nullable(Type.Number()),
        download_progress: Nullable(Type.Number({description: "percent of this model's files downloaded, while its download runs"})),
        running_jobs: Type.Integer(),
        queued_jobs: Type.Integer(),
        memory_usage: Nullable(Type.Number({description: "GiB"}))
    }), {description: "each served model, the default first (the top-level model fields are its)"})
});
export type HealthResponseBody = Static<typeof healthResponseSchema>;

export const readyResponseSchema = Type.Object({
    ready: Type.Boolean(),
    model_state: Type.String(),
    reason: Nullable(Type.String()),
    code: Nullable(Type.String())
});
export type ReadyResponseBody = Static<typeof readyResponseSchema>;

/** Memory in the shape of the original's `get_memory_info()`, with RAM figures under their own names on the CPU. */
export const chatMemoryUsageSchema = Type.Object({
    memory_kind: Nullable(Type.Union([Type.Literal("vram"), Type.Literal("ram")])),
    total_vram_gb: Nullable(Type.Number()),
    allocated_vram_gb: Nullable(Type.Number({description: "GiB this worker's model and context occupy"})),
    available_vram_gb: Nullable(Type.Number()),
    total_ram_gb: Nullable(Type.Number()),
    allocated_ram_gb: Nullable(Type.Number()),
    available_ram_gb: Nullable(Type.Number()),
    memory_usage_percent: Nullable(Type.Number({description: "allocated / total, percent"}))
});

export const chatHealthResponseSchema = Type.Object({
    status: Type.Union(HEALTH_STATES.map((value) => Type.Literal(value))),
    reason: Nullable(Type.String()),
    endpoint: Type.Literal("/chat"),
    chat_ready: Type.Boolean({description: "the model is loaded and the worker is not shutting down: a chat is served without a load first"}),
    model_loaded: Type.Boolean(),
    model_name: Type.String(),
    active_jobs: Type.Integer(),
    pure_inference_engine: Type.Boolean(),
    endpoints: Type.Record(Type.String(), Type.String(), {description: "path -> \"METHOD - what it does\", for the chat routes this worker serves"}),
    system_prompt_features: Type.Object({
        custom_system_prompts: Type.Boolean({description: "POST /chat takes a system_prompt"}),
        pure_inference_engine: Type.Boolean(),
        debug_endpoint: Type.Boolean({description: "POST /chat/debug/system-prompt is served"})
    }),
    model_info: Type.Object({
        loaded: Type.Boolean(),
        model_name: Nullable(Type.String({description: "the loaded model's name; null while none is loaded"})),
        memory_usage: chatMemoryUsageSchema
    }),
    timestamp: Type.String()
});
export type ChatHealthResponseBody = Static<typeof chatHealthResponseSchema>;

export const memoryStatusResponseSchema = Type.Object({
    total_vram: Nullable(Type.Number()),
    allocated_vram: Nullable(Type.Number({description: "GiB this worker's model and context occupy"})),
    available_vram: Nullable(Type.Number()),
    used_vram: Nullable(Type.Number({description: "GiB in use on the device by every process"})),
    total_ram: Nullable(Type.Number()),
    allocated_ram: Nullable(Type.Number()),
    available_ram: Nullable(Type.Number()),
    used_ram: Nullable(Type.Number()),
    memory_kind: Nullable(Type.Union([Type.Literal("vram"), Type.Literal("ram")])),
    unit: Type.Literal("GiB"),
    model_memory_bytes: Nullable(Type.Integer()),
    model_loaded: Type.Boolean(),
    model_device: Nullable(Type.String()),
    device_type: Type.String(),
    models: Type.Array(Type.Object({
        name: Type.String(), model_loaded: Type.Boolean(), model_memory_bytes: Nullable(Type.Integer()),
        allocated: Nullable(Type.Number({description: "GiB this model and its context occupy"}))
    }), {description: "each model's share; the allocated_* figures above add them up"})
});
export type MemoryStatusResponseBody = Static<typeof memoryStatusResponseSchema>;

export const MODEL_NOT_LOADED = "Model not loaded";

const modelInfoFields = {
    model_name: Type.String(),
    model_path: Nullable(Type.String()),
    model_loaded: Type.Boolean(),
    model_state: Type.String(),
    engine: Type.String(),
    architecture: Nullable(Type.String()),
    parameter_count: Nullable(Type.Integer()),
    file_size_bytes: Nullable(Type.Integer()),
    quantization: Nullable(Type.String()),
    context_size: Type.Integer({description: "per sequence, tokens"}),
    trained_context_size: Nullable(Type.Integer()),
    parallel_sequences: Type.Integer(),
    threads: Nullable(Type.Integer()),
    gpu_layers: Nullable(Type.Integer()),
    device: Nullable(Type.String()),
    device_type: Type.String(),
    chat_template: Nullable(Type.String()),
    node_llama_cpp_version: Nullable(Type.String()),
    llama_cpp_release: Nullable(Type.String()),
    load_time_seconds: Nullable(Type.Number()),
    deterministic: Nullable(Type.Boolean({description: "answers do not depend on the cache, on batching or on the CPU (DETERMINISTIC); null when not known"})),
    model_device: Nullable(Type.String({description: "cuda:0, cpu, ..."})),
    model_parameters: Nullable(Type.Integer()),
    model_size_gb: Nullable(Type.Number({description: "GiB of the weights (tensor data)"})),
    cuda_available: Nullable(Type.Boolean({description: "the llama.cpp backend in use is CUDA"})),
    gpu_name: Nullable(Type.String()),
    snapshot_age_seconds: Nullable(Type.Number({description: SNAPSHOT_AGE})),
    error: Type.Optional(Type.Literal(MODEL_NOT_LOADED, {description: "present only while no model is loaded, as the original's 404 body had it"}))
};
export const modelInfoItemSchema = Type.Object({name: Type.String(), ...modelInfoFields});
export type ModelInfoItemBody = Static<typeof modelInfoItemSchema>;
/** The default model's info at the top level (as the spec has it), and every model's under `models`. */
export const modelInfoResponseSchema = Type.Object({...modelInfoFields, models: Type.Array(modelInfoItemSchema)});
export type ModelInfoResponseBody = Static<typeof modelInfoResponseSchema>;

export const loadRequestSchema = Type.Object({}, {additionalProperties: false});

/** `?which=NAME` acts on one model, `all` (the default) on every one. */
export const modelControlQuerySchema = Type.Object({
    which: Type.Optional(Type.String({minLength: 1, maxLength: 64, description: "a model's name (MODELS), or all (the default)"}))
}, {additionalProperties: false});
export type ModelControlQuery = Static<typeof modelControlQuerySchema>;

const modelLoadStateSchema = Type.Object({
    name: Type.String(),
    model_loaded: Type.Boolean(),
    model_state: Type.String(),
    load_time_seconds: Nullable(Type.Number())
});

export const loadResponseSchema = Type.Object({
    success: Type.Literal(true),
    message: Type.String(),
    model_loaded: Type.Boolean({description: "every model asked for is loaded"}),
    model_state: Type.String(),
    load_time_seconds: Nullable(Type.Number({description: "the slowest of the models asked for"})),
    models: Type.Array(modelLoadStateSchema, {description: "each model asked for"})
});
export type LoadResponseBody = Static<typeof loadResponseSchema>;

export const unloadRequestSchema = Type.Object({
    force: Type.Optional(Type.Boolean({description: "abort running generations instead of waiting for them"})),
    timeout_seconds: Type.Optional(Type.Number({
        minimum: 0, maximum: 3600, description: "how long to wait for running generations before answering 409 (default 30)"
    }))
}, {additionalProperties: false});
export type UnloadRequestBody = Static<typeof unloadRequestSchema>;

export const unloadResponseSchema = Type.Object({
    success: Type.Literal(true),
    message: Type.String(),
    model_loaded: Type.Boolean({description: "any model asked for is still loaded"}),
    was_loaded: Type.Boolean(),
    aborted_requests: Type.Integer(),
    waited_seconds: Type.Number(),
    models: Type.Array(Type.Object({name: Type.String(), was_loaded: Type.Boolean(), model_loaded: Type.Boolean(), aborted_requests: Type.Integer()}),
        {description: "each model asked for"})
});
export type UnloadResponseBody = Static<typeof unloadResponseSchema>;

export const errorResponseSchema = Type.Object({
    success: Type.Literal(false),
    error: Type.String(),
    code: Type.String(),
    param: Type.Optional(Type.String())
});
