import Fastify, {LogController, type FastifyInstance, type FastifyServerOptions} from "fastify";
import type {Config} from "../config/config.js";
import type {ChatService} from "../service/chatService.js";
import type {EnhanceService} from "../service/enhanceService.js";
import type {EmbeddingService} from "../service/embeddingService.js";
import type {ModelPool} from "../service/modelPool.js";
import type {WorkerMetrics} from "../service/metrics.js";
import type {WorkerStatus} from "../service/workerStatus.js";
import {ConfigError, SchedulerClosedError} from "../errors.js";
import {errorHandler, NATIVE_ENVELOPE, notFoundHandler} from "./errorHandler.js";
import {bearerAuth, OPEN_ROUTES} from "./auth.js";
import {registerSecurity, serverTimeoutOptions} from "./security.js";
import {clientErrorHandler, registerRequestHygiene, requestId} from "./requestHygiene.js";
import {collectRoutes, type RouteRecord} from "./routeList.js";
import {nativeApi} from "../api/native/nativeApi.js";
import {openAiApi} from "../api/openai/openaiApi.js";
import {responsesApi} from "../api/responses/responsesApi.js";
import {opsApi} from "../api/ops/opsApi.js";
import {registerDocsDocument, registerDocsUi} from "../api/pages/docsRoutes.js";
import {playgroundRoutes} from "../api/pages/playgroundRoutes.js";

export interface OpsDeps {
    status: WorkerStatus;
    models: ModelPool;
    metrics: WorkerMetrics;
}

export interface AppDeps {
    config: Config;
    chat: ChatService;
    /** Optional so that an app for the chat protocols alone (some tests) needs no templates; worker.ts always gives it. */
    enhance?: EnhanceService;
    /** POST /v1/embeddings; optional like `enhance` (worker.ts always gives it). */
    embeddings?: EmbeddingService;
    ops: OpsDeps;
    /** pino options or instance; tests pass a stream to capture logs. */
    logger?: FastifyServerOptions["logger"];
    loggerInstance?: FastifyServerOptions["loggerInstance"];
}

const appRoutes = new WeakMap<FastifyInstance, readonly RouteRecord[]>();

/** Every route of an app built by `buildApp` (method and URL pattern), HEAD routes included. */
export function registeredRoutes(app: FastifyInstance): readonly RouteRecord[] {
    return appRoutes.get(app) ?? [];
}

/** Builds the HTTP app without listening, so tests can inject or listen on port 0. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
    const {config, ops} = deps;
    const app = Fastify({
        ...(deps.loggerInstance != null
            ? {loggerInstance: deps.loggerInstance}
            : {logger: deps.logger ?? {level: config.logLevel}}),
        bodyLimit: config.bodyLimitBytes,
        ...serverTimeoutOptions(config),
        // A client's id only when it looks like one (it is echoed and logged on every line).
        genReqId: requestId,
        requestIdHeader: false,
        // Requests are logged by the onResponse hook below: path without the query (which may hold a key).
        logController: new LogController({disableRequestLogging: true}),
        clientErrorHandler,
        return503OnClosing: true,
        ajv: {
            // Bad input is rejected, never silently fixed: no coercion, no dropped fields.
            customOptions: {coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false}
        }
    });

    // JSON only: a text/plain body would otherwise be parsed as a string and fail validation confusingly.
    app.removeContentTypeParser("text/plain");

    const routes = collectRoutes(app);
    appRoutes.set(app, routes);

    app.addHook("onRequest", async (request, reply) => {
        void reply.header("x-request-id", request.id);
        // While draining for shutdown, new work gets 503; the probes still answer and say why.
        if (ops.models.isShuttingDown && !OPEN_ROUTES.has(request.routeOptions.url ?? "")) {
            void reply.header("connection", "close");
            throw new SchedulerClosedError();
        }
    });
    registerSecurity(app, config);
    if (config.workerApiKey != null)
        app.addHook("onRequest", bearerAuth(config.workerApiKey, new Set(config.authOpenRoutes)));
    registerRequestHygiene(app);
    app.addHook("onResponse", async (request, reply) => {
        const labels = {method: request.method, route: request.routeOptions.url ?? "unmatched"};
        request.log.info({method: request.method, path: request.url.split("?")[0], status: reply.statusCode,
            ms: Math.round(reply.elapsedTime)}, "request completed");
        ops.metrics.httpRequests.inc({...labels, status: String(reply.statusCode)});
        ops.metrics.httpRequestSeconds.observe(labels, reply.elapsedTime / 1000);
    });

    // The app's own handlers answer what no API owns (unknown paths, the pages) in the native
    // envelope; each API plugin sets its own, so Fastify's encapsulation picks the envelope.
    app.setErrorHandler(errorHandler(NATIVE_ENVELOPE));
    app.setNotFoundHandler(notFoundHandler(NATIVE_ENVELOPE));

    // The document generator first: it collects the routes registered after it.
    await registerDocsDocument(app, {openRoutes: config.workerApiKey != null ? new Set([...OPEN_ROUTES, ...config.authOpenRoutes]) : null});
    await app.register(nativeApi, {config, chat: deps.chat, enhance: deps.enhance});
    await app.register(opsApi, {...ops, routes, sfwMode: deps.chat.sfwAvailable, conversationCache: config.conversationCache});
    await app.register(openAiApi, {config, chat: deps.chat, embeddings: deps.embeddings});
    await app.register(responsesApi, {config, chat: deps.chat});
    await app.register(playgroundRoutes);
    await registerDocsUi(app);
    // Checked once every route exists: a typo would otherwise leave a route closed without a word.
    const known = new Set(routes.map((route) => route.url));
    for (const route of config.authOpenRoutes)
        if (!known.has(route))
            throw new ConfigError("AUTH_OPEN_ROUTES", `${JSON.stringify(route)} is not a route of this worker`);
    return app;
}
