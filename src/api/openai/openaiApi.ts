import type {FastifyInstance} from "fastify";
import {errorHandler, notFoundHandler, type ErrorEnvelope} from "../../http/errorHandler.js";
import {openAiErrorBody} from "../../http/openAiErrorBody.js";
import {applyTemplateRoute, v1Routes, type OpenAiRouteDeps} from "./openaiRoutes.js";

/**
 * OpenAI's error envelope `{error: {message, type, param, code}}`, OpenAI's wording for an unknown
 * field, and `messages` as the prompt's field unless a route says otherwise.
 */
export const OPENAI_ENVELOPE: ErrorEnvelope = {
    body: openAiErrorBody,
    promptField: (request) => request.routeOptions.config?.promptField ?? "messages",
    openAiWording: true
};

/**
 * The OpenAI-compatible API: an encapsulated plugin whose errors use OpenAI's envelope. Its routes
 * live under the prefixes /v1 and /apply-template (llama-server's), each with its own not-found
 * handler, so an unknown path under them gets OpenAI's envelope too.
 */
export async function openAiApi(app: FastifyInstance, deps: OpenAiRouteDeps): Promise<void> {
    app.setErrorHandler(errorHandler(OPENAI_ENVELOPE));
    const withNotFound = (routes: typeof v1Routes) => async (scope: FastifyInstance, options: OpenAiRouteDeps) => {
        scope.setNotFoundHandler(notFoundHandler(OPENAI_ENVELOPE));
        await routes(scope, options);
    };
    await app.register(withNotFound(v1Routes), {...deps, prefix: "/v1"});
    await app.register(withNotFound(applyTemplateRoute), {...deps, prefix: "/apply-template"});
}
