/**
 * The one errors module: every error class of the worker is defined here. A refused setting
 * (ConfigError), the WorkerErrors a client gets, and two failures the engine turns into something
 * else before they leave it (LoadFailure becomes a model state's code; MalformedChunkError becomes
 * a WorkerError). Each WorkerError carries a stable `code` for clients and a `kind` that the HTTP
 * layer maps to a status in one place (src/http/errorMapping.ts). Errors carry facts, not wire
 * names: which request field to blame is the adapters' business.
 */

/** A setting with a bad value: the worker refuses to boot, naming the variable. */
export class ConfigError extends Error {
    constructor(readonly variable: string, message: string) {
        super(`Invalid setting ${variable}: ${message}`);
        this.name = "ConfigError";
    }
}

export type ErrorKind =
    | "invalid_request" // 400: the client sent something we will not run
    | "unauthorized" // 401: missing or wrong API key
    | "not_found" // 404
    | "conflict" // 409
    | "unsupported_media_type" // 415: a body in an encoding or charset we do not read
    | "overloaded" // 429: try again later
    | "unavailable" // 503: the model is loading, unloaded, failed or the worker is shutting down
    | "bad_gateway" // 502: the upstream engine answered badly
    | "gateway_timeout" // 504: the upstream engine did not answer in time
    | "internal"; // 500: a bug; never carries internals to the client

export class WorkerError extends Error {
    constructor(
        readonly kind: ErrorKind,
        readonly code: string,
        message: string,
        readonly details: {param?: string; retryAfterSeconds?: number} = {}
    ) {
        super(message);
        this.name = "WorkerError";
    }
}

/**
 * A request (`model`) or `?which=` names a model this worker does not serve: 400 `unknown_model`.
 * (GET /v1/models/{id} answers OpenAI's 404 `model_not_found` instead; a model file that does not
 * exist is a LoadFailure, `model_file_not_found`.)
 */
export class UnknownModelError extends WorkerError {
    constructor(param: string, message: string) {
        super("invalid_request", "unknown_model", `${param}: ${message}`, {param});
        this.name = "UnknownModelError";
    }
}

/**
 * A request asks a model for what it does not serve: a chat model for embeddings, an embedding
 * model (MODELS' `?kind=embedding`) for chat. 400 `model_not_supported`, naming `param`.
 */
export class WrongModelKindError extends WorkerError {
    constructor(param: string, model: string, kind: "chat" | "embedding") {
        super("invalid_request", "model_not_supported", kind === "embedding"
            ? `${param}: ${JSON.stringify(model)} is an embedding model: it serves POST /v1/embeddings, not chat or completions`
            : `${param}: ${JSON.stringify(model)} is a chat model: it cannot compute embeddings (mark an embedding model with ?kind=embedding in MODELS)`,
        {param});
        this.name = "WrongModelKindError";
    }
}

/**
 * One of an embeddings request's inputs cannot be embedded (longer than the context, empty, a
 * token id outside the vocabulary). Carries the input's position; the API names its field.
 */
export class EmbeddingInputError extends WorkerError {
    constructor(readonly input: number, readonly reason: string) {
        super("invalid_request", "invalid_input", `input[${input}]: ${reason}`, {param: "input"});
        this.name = "EmbeddingInputError";
    }
}

/** `dimensions` that the embedding model cannot give: not its native size, for a model not trained for truncation (or above that size). */
export class EmbeddingDimensionsError extends WorkerError {
    constructor(requested: number, native: number, matryoshka: boolean) {
        super("invalid_request", "unsupported_parameter", matryoshka
            ? `dimensions: ${requested} is more than the model's ${native}`
            : `dimensions: this model gives ${native} dimensions and was not marked as trained for shorter vectors (MODELS' matryoshka=true); ` +
                `cutting its vectors to ${requested} would not keep their meaning. Leave dimensions out or set it to ${native}`,
        {param: "dimensions"});
        this.name = "EmbeddingDimensionsError";
    }
}

export class ModelNotReadyError extends WorkerError {
    constructor(state: string, reason: string | null) {
        super("unavailable", "model_not_ready",
            `Model is ${state}${reason ? `: ${reason}` : ""}`, {retryAfterSeconds: state === "loading" ? 5 : 30});
        this.name = "ModelNotReadyError";
    }
}

/** What a prompt that cannot fit was measured at; counts are null when only the upstream knows them. */
export interface OverflowFacts {
    /** Tokens of the part that is never dropped (system prompt and current message). */
    promptTokens: number | null;
    maxTokens: number | null;
    contextSize: number | null;
    /**
     * What to shorten: "prompt" when even the pinned messages do not fit beside max_tokens, or
     * "max_tokens" when the engine found prompt + max_tokens over its context at generation time.
     */
    culprit: "prompt" | "max_tokens";
    /** The upstream's own words, when it was the one to refuse. */
    upstreamDetail?: string;
    /** `promptTokens` is a lower bound found without tokenizing (the text was too long to be worth it). */
    atLeast?: boolean;
}

/** `context_length_exceeded`, however it was found: while fitting, in the engine, or by an upstream. */
export class ContextOverflowError extends WorkerError {
    constructor(readonly facts: OverflowFacts) {
        super("invalid_request", "context_length_exceeded", overflowMessage(facts, "chat"));
        this.name = "ContextOverflowError";
    }
}

/**
 * The message for `facts`. `pinned` says what the never-dropped part is: a chat's system prompt and
 * current message, or a completion's whole prompt (which has no system prompt).
 */
export function overflowMessage({promptTokens, maxTokens, contextSize, culprit, upstreamDetail, atLeast}: OverflowFacts, pinned: "chat" | "prompt"): string {
    if (promptTokens == null || contextSize == null || maxTokens == null)
        return `The prompt plus max_tokens do not fit the upstream model's context${upstreamDetail ? `: ${upstreamDetail}` : ""}`;
    if (culprit === "max_tokens")
        return `The prompt (${promptTokens} tokens) plus max_tokens (${maxTokens}) exceeds the context size (${contextSize})`;
    const need = atLeast === true ? "at least " : "";
    const [what, shorten] = pinned === "prompt" ? ["The prompt needs", "the prompt"] : ["The system prompt and current message need", "the message or system prompt"];
    return `${what} ${need}${promptTokens} tokens and max_tokens asks for ${maxTokens}, ` +
        `${need}${promptTokens + maxTokens} in all, but the context holds ${contextSize} tokens. ` +
        `Shorten ${shorten}, or lower max_tokens.`;
}

/** The client went away before its request got a sequence or the model. */
export class ClientClosedError extends WorkerError {
    constructor(readonly during: "queue" | "model_wait") {
        super("invalid_request", "client_closed",
            `client closed the request while it ${during === "queue" ? "was queued" : "waited for the model"}`);
        this.name = "ClientClosedError";
    }
}

export class QueueFullError extends WorkerError {
    constructor(queued: number, retryAfterSeconds: number) {
        super("overloaded", "queue_full",
            `All sequences are busy and ${queued} requests are already waiting; retry after ${retryAfterSeconds} s`,
            {retryAfterSeconds});
        this.name = "QueueFullError";
    }
}

export class SchedulerClosedError extends WorkerError {
    constructor() {
        super("unavailable", "shutting_down", "The worker is shutting down and takes no new requests", {retryAfterSeconds: 5});
        this.name = "SchedulerClosedError";
    }
}

export class GenerationsRunningError extends WorkerError {
    constructor(running: number, timeoutSeconds: number) {
        super("conflict", "generations_running",
            `${running} request(s) still use the model after waiting ${timeoutSeconds} s; retry later, ` +
            "raise timeout_seconds, or unload with force: true to abort them", {param: "force"});
        this.name = "GenerationsRunningError";
    }
}

/**
 * Why a model load failed, with a stable code for /health and clients (the model's state carries
 * it). The message is written for the operator: it says what is wrong and which setting to change.
 */
export class LoadFailure extends Error {
    constructor(readonly code: LoadFailureCode, message: string) {
        super(message);
        this.name = "LoadFailure";
    }
}

export type LoadFailureCode =
    | "model_file_not_found" // a model file (or a shard of a split model) is not on disk
    | "model_invalid"
    | "insufficient_memory"
    | "backend_unavailable"
    | "load_failed"
    | "download_failed";

/** An upstream's stream event that is not a chat completion chunk; the upstream engine answers it as a 502. */
export class MalformedChunkError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "MalformedChunkError";
    }
}
