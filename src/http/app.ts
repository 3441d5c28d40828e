import {randomUUID} from "node:crypto";
import Fastify, {type FastifyInstance, type FastifyServerOptions} from "fastify";
import type {Config} from "../config/config.js";
import type {ChatService} from "../service/chatService.js";
import {toProblem} from "./adapters/errorMapping.js";
import {errorBodyFor} from "./adapters/envelopes.js";
import {chatRoutes} from "./routes/chat.js";
import {openAiRoutes} from "./routes/openai.js";

export interface AppDeps {
    config: Config;
    chat: ChatService;
    /** pino options or instance; tests pass a stream to capture logs. */
    logger?: FastifyServerOptions["logger"];
    loggerInstance?: FastifyServerOptions["loggerInstance"];
}

/** Builds the HTTP app without listening, so tests can inject or listen on port 0. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
    const {config} = deps;
    const app = Fastify({
        ...(deps.loggerInstance != null
            ? {loggerInstance: deps.loggerInstance}
            : {logger: deps.logger ?? {level: config.logLevel}}),
        bodyLimit: config.bodyLimitBytes,
        genReqId: () => randomUUID(),
        requestIdHeader: "x-request-id",
        return503OnClosing: true,
        ajv: {
            // Bad input is rejected, never silently fixed: no coercion, no dropped fields.
            customOptions: {coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false}
        }
    });

    // JSON only: a text/plain body would otherwise be parsed as a string and fail validation confusingly.
    app.removeContentTypeParser("text/plain");

    app.setErrorHandler((err, request, reply) => {
        const problem = toProblem(err);
        if (problem.status >= 500)
            request.log.error({err, code: problem.code}, "request failed");
        else
            request.log.info({code: problem.code, status: problem.status}, "request rejected");
        if (problem.retryAfterSeconds != null)
            void reply.header("retry-after", String(problem.retryAfterSeconds));
        return reply.status(problem.status).send(errorBodyFor(request.url, problem));
    });
    app.setNotFoundHandler((request, reply) => reply.status(404).send(errorBodyFor(request.url, {
        status: 404, code: "not_found", message: `route ${request.method} ${request.url.split("?")[0]} does not exist`
    })));

    await app.register(chatRoutes, {config, chat: deps.chat});
    await app.register(openAiRoutes, {config, chat: deps.chat});
    return app;
}
