import type {ErrorBody} from "../../protocol/native.js";
import type {OpenAiErrorBody} from "../../protocol/openai.js";
import type {Problem} from "./errorMapping.js";

/** The native error envelope: `{success: false, error, code, param?}`. */
export function nativeErrorBody(problem: Problem): ErrorBody {
    return {
        success: false,
        error: problem.message,
        code: problem.code,
        ...(problem.param != null ? {param: problem.param} : {})
    };
}

/** OpenAI's `type` for a status, as its SDKs expect it. */
function openAiErrorType(status: number): string {
    if (status === 401) return "authentication_error";
    if (status === 403) return "permission_error";
    if (status === 404) return "not_found_error";
    if (status === 429) return "rate_limit_error";
    if (status >= 500) return "server_error";
    return "invalid_request_error";
}

/** OpenAI's error envelope: `{error: {message, type, param, code}}`. */
export function openAiErrorBody(problem: Problem): OpenAiErrorBody {
    return {
        error: {
            message: problem.message,
            type: openAiErrorType(problem.status),
            param: problem.param ?? null,
            code: problem.code
        }
    };
}

/** Routes that speak OpenAI's (and llama-server's) dialect answer errors in OpenAI's envelope. */
export function isOpenAiRoute(url: string): boolean {
    const path = url.split("?")[0];
    return path === "/v1" || path.startsWith("/v1/") || path === "/apply-template";
}

/**
 * The request field holding the prompt: `messages` on OpenAI's chat routes and in the later
 * callers' shape on the native routes, `prompt` on /v1/completions and /enhance, else `message`.
 */
export function promptFieldFor(url: string, body?: unknown): string {
    const path = url.split("?")[0];
    if (path === "/v1/completions") return "prompt";
    if (isOpenAiRoute(url) || (typeof body === "object" && body != null && Array.isArray((body as {messages?: unknown}).messages)))
        return "messages";
    return path.startsWith("/enhance") ? "prompt" : "message";
}

/** One mapping (toProblem), two envelopes: picked by the route the request was for. */
export function errorBodyFor(url: string, problem: Problem): ErrorBody | OpenAiErrorBody {
    return isOpenAiRoute(url) ? openAiErrorBody(problem) : nativeErrorBody(problem);
}
