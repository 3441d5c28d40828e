/**
 * Named errors shared by every layer. Each carries a stable `code` for clients and a `kind`
 * that the HTTP layer maps to a status in one place (src/http/adapters/errorMapping.ts).
 */
export type ErrorKind =
    | "invalid_request" // 400: the client sent something we will not run
    | "unauthorized" // 401: missing or wrong API key
    | "not_found" // 404
    | "conflict" // 409
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

export class ModelNotReadyError extends WorkerError {
    constructor(state: string, reason: string | null) {
        super("unavailable", "model_not_ready",
            `Model is ${state}${reason ? `: ${reason}` : ""}`, {retryAfterSeconds: state === "loading" ? 5 : 30});
        this.name = "ModelNotReadyError";
    }
}

export class ContextOverflowError extends WorkerError {
    constructor(readonly promptTokens: number, readonly maxTokens: number, readonly contextSize: number, param: string) {
        super("invalid_request", "context_length_exceeded",
            `The system prompt and current message need ${promptTokens} tokens and max_tokens asks for ${maxTokens}, ` +
            `${promptTokens + maxTokens} in all, but the context holds ${contextSize} tokens. ` +
            "Shorten the message or system prompt, or lower max_tokens.", {param});
        this.name = "ContextOverflowError";
    }
}
