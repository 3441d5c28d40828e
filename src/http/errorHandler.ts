import type {FastifyReply, FastifyRequest} from "fastify";
import {retryHeaders, toProblem, type Problem} from "./errorMapping.js";

declare module "fastify" {
    interface FastifyContextConfig {
        /**
         * The request field that holds the prompt, which a prompt too long for the context is
         * blamed on (a route's `config`); each API's `ErrorEnvelope.promptField` has the default.
         */
        promptField?: string;
    }
}

/** The worker's own error envelope: `{success: false, error, code, param?}`. */
export interface ErrorBody {
    success: false;
    error: string;
    code: string;
    param?: string;
}

export function nativeErrorBody(problem: Problem): ErrorBody {
    return {
        success: false,
        error: problem.message,
        code: problem.code,
        ...(problem.param != null ? {param: problem.param} : {})
    };
}

/**
 * How one API writes its errors. Each API plugin sets its own error (and, where it owns a URL
 * prefix, not-found) handler from one of these, so Fastify's encapsulation picks the envelope:
 * a request is answered in the dialect of the plugin its route belongs to.
 */
export interface ErrorEnvelope {
    body(problem: Problem): unknown;
    /** The field holding the prompt (see toProblem). */
    promptField(request: FastifyRequest): string;
    /** Refuse an unknown field with OpenAI's wording (`unknown_parameter`). */
    openAiWording: boolean;
}

/** The envelope of everything outside an API with its own: unknown paths, the probes, the pages. */
export const NATIVE_ENVELOPE: ErrorEnvelope = {
    body: nativeErrorBody,
    promptField: (request) => request.routeOptions.config?.promptField ?? "message",
    openAiWording: false
};

export function errorHandler(envelope: ErrorEnvelope) {
    return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
        const problem = toProblem(err, envelope.promptField(request), envelope.openAiWording);
        // A stack only for bugs: a 503 while shutting down or loading is an answer, not a failure.
        if (problem.status === 500)
            request.log.error({err, code: problem.code}, "request failed");
        else
            request.log.info({code: problem.code, status: problem.status}, "request rejected");
        void reply.headers(retryHeaders(problem));
        return reply.status(problem.status).send(envelope.body(problem));
    };
}

export function notFoundHandler(envelope: ErrorEnvelope) {
    return (request: FastifyRequest, reply: FastifyReply) => reply.status(404).send(envelope.body({
        status: 404, code: "not_found", message: `route ${request.method} ${request.url.split("?")[0]} does not exist`
    }));
}
