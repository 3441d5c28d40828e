import type {Problem} from "./errorMapping.js";

/**
 * OpenAI's error envelope, which every OpenAI-shaped API of the worker answers with (chat
 * completions, completions, responses).
 */
export interface OpenAiErrorBody {
    error: {
        message: string;
        type: string;
        param: string | null;
        code: string | null;
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
