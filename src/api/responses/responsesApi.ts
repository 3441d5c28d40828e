import type {FastifyInstance} from "fastify";
import {errorHandler, notFoundHandler, type ErrorEnvelope} from "../../http/errorHandler.js";
import {openAiErrorBody} from "../../http/openAiErrorBody.js";
import {responsesRoutes, type ResponsesDeps} from "./responsesRoutes.js";

/** OpenAI's error envelope and wording, with `input` as the prompt's field. */
const RESPONSES_ENVELOPE: ErrorEnvelope = {body: openAiErrorBody, promptField: () => "input", openAiWording: true};

/**
 * OpenAI's Responses API: an encapsulated plugin under /v1/responses whose errors (and 404s under
 * its prefix) use OpenAI's envelope.
 */
export async function responsesApi(app: FastifyInstance, deps: ResponsesDeps): Promise<void> {
    app.setErrorHandler(errorHandler(RESPONSES_ENVELOPE));
    await app.register(async (scope, options: ResponsesDeps) => {
        scope.setNotFoundHandler(notFoundHandler(RESPONSES_ENVELOPE));
        await responsesRoutes(scope, options);
    }, {...deps, prefix: "/v1/responses"});
}
