import type {FastifyError} from "fastify";
import {ContextOverflowError, overflowMessage, WorkerError, type ErrorKind} from "../errors.js";

/** A failure ready to be written: the one place where error kinds become HTTP statuses. */
export interface Problem {
    status: number;
    code: string;
    message: string;
    param?: string;
    retryAfterSeconds?: number;
}

/**
 * Retry-After (whole seconds, as HTTP has it) and retry-after-ms (OpenAI's SDKs read it first), so
 * a client's own retry logic waits as long as the worker suggests.
 */
export function retryHeaders(problem: Problem): Record<string, string> {
    if (problem.retryAfterSeconds == null) return {};
    return {
        "retry-after": String(Math.max(1, Math.ceil(problem.retryAfterSeconds))),
        "retry-after-ms": String(Math.round(problem.retryAfterSeconds * 1000))
    };
}

const STATUS_BY_KIND: Record<ErrorKind, number> = {
    invalid_request: 400,
    unauthorized: 401,
    not_found: 404,
    conflict: 409,
    unsupported_media_type: 415,
    overloaded: 429,
    unavailable: 503,
    bad_gateway: 502,
    gateway_timeout: 504,
    internal: 500
};

export function statusForKind(kind: ErrorKind): number {
    return STATUS_BY_KIND[kind];
}

interface AjvIssue {
    instancePath?: string;
    message?: string;
    keyword?: string;
    params?: Record<string, unknown>;
}

/** "body/conversation_history/0/sender" -> "conversation_history[0].sender" */
function fieldName(instancePath: string | undefined, issue: AjvIssue): string {
    const parts = (instancePath ?? "").split("/").filter((part) => part !== "");
    const missing = issue.params?.missingProperty ?? issue.params?.additionalProperty;
    if (typeof missing === "string") parts.push(missing);
    return parts.reduce((name, part) => /^\d+$/.test(part) ? `${name}[${part}]` : name === "" ? part : `${name}.${part}`, "");
}

function describeValidation(issue: AjvIssue): {message: string; param: string} {
    const param = fieldName(issue.instancePath, issue);
    let detail = issue.message ?? "is invalid";
    if (issue.keyword === "required") detail = "is required";
    else if (issue.keyword === "additionalProperties") detail = "is not a known field";
    else if (issue.keyword === "enum" && Array.isArray(issue.params?.allowedValues))
        detail = `must be one of ${(issue.params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(", ")}`;
    else if (issue.keyword === "anyOf") detail = "has an unsupported value";
    return {message: `${param === "" ? "body" : param}: ${detail}`, param: param === "" ? "body" : param};
}

/**
 * Turns anything thrown in a handler or by Fastify into a Problem; never leaks stacks or paths.
 * `promptField` is the request field holding the prompt (each API's ErrorEnvelope says which, see
 * errorHandler.ts): errors carry facts, and this is where a prompt that cannot fit gets the wire's
 * name. `openAi`: the request was for an OpenAI route, whose clients expect OpenAI's wording for
 * an unknown field.
 */
export function toProblem(err: unknown, promptField = "message", openAi = false): Problem {
    if (err instanceof ContextOverflowError)
        return {
            status: statusForKind(err.kind), code: err.code,
            // OpenAI's /v1/completions takes one prompt, with no system prompt to shorten.
            message: openAi && promptField === "prompt" ? overflowMessage(err.facts, "prompt") : err.message,
            param: err.facts.culprit === "prompt" ? promptField : "max_tokens"
        };
    if (err instanceof WorkerError)
        return {
            status: statusForKind(err.kind), code: err.code, message: err.message,
            param: err.details.param, retryAfterSeconds: err.details.retryAfterSeconds
        };
    const fastifyError = err as FastifyError & {validation?: AjvIssue[]};
    if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
        // Prefer the most specific issue: union mismatches list one entry per branch, and a branch
        // of the value's own type (17 stop strings: the array's maxItems) says more than "must be string".
        const branches = fastifyError.validation.filter((item) => item.keyword !== "anyOf");
        const issue = branches.find((item) => item.keyword !== "type") ?? branches[0] ?? fastifyError.validation[0];
        // A union of literals fails once per literal; name them all, as an enum would.
        const literals = fastifyError.validation.filter((item) => item.keyword === "const" && item.instancePath === issue.instancePath);
        if (issue.keyword === "const" && literals.length > 1) {
            const param = fieldName(issue.instancePath, issue);
            const allowed = literals.map((item) => JSON.stringify(item.params?.allowedValue)).join(", ");
            return {status: 400, code: "invalid_request", message: `${param}: must be one of ${allowed}`, param};
        }
        const {message, param} = describeValidation(issue);
        // On the OpenAI routes a field their closed schemas do not know is refused the way OpenAI words it.
        if (openAi && issue.keyword === "additionalProperties")
            return {status: 400, code: "unknown_parameter", message: `Unrecognized request argument supplied: ${param}`, param};
        return {status: 400, code: "invalid_request", message, param};
    }
    switch (fastifyError.code) {
        case "FST_ERR_CTP_INVALID_JSON_BODY":
        case "FST_ERR_CTP_EMPTY_JSON_BODY":
            return {status: 400, code: "invalid_json", message: "body: is not valid JSON", param: "body"};
        case "FST_ERR_CTP_BODY_TOO_LARGE":
            return {status: 413, code: "body_too_large", message: "body: exceeds the size limit (BODY_LIMIT_BYTES)", param: "body"};
        case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
            return {status: 415, code: "unsupported_media_type", message: "Content-Type: must be application/json", param: "Content-Type"};
        case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
            return {status: 400, code: "invalid_content_length", message: "Content-Length: does not match the body", param: "Content-Length"};
        default:
            break;
    }
    if (err instanceof SyntaxError)
        return {status: 400, code: "invalid_json", message: "body: is not valid JSON", param: "body"};
    const status = typeof fastifyError.statusCode === "number" ? fastifyError.statusCode : 500;
    if (status >= 400 && status < 500)
        return {status, code: "invalid_request", message: sanitize(fastifyError.message)};
    return {status: 500, code: "internal_error", message: "internal error; see the worker log for the request id"};
}

/** Client-facing messages never carry file paths. */
function sanitize(message: string): string {
    return message.replace(/(?:\/[\w.-]+){2,}/g, "<path>");
}
