import type {FastifyInstance, preValidationHookHandler} from "fastify";
import type {ModelPool} from "../../service/modelPool.js";
import {WorkerError} from "../../errors.js";
import {
    errorResponseSchema, loadRequestSchema, loadResponseSchema, modelControlQuerySchema, unloadRequestSchema, unloadResponseSchema,
    type LoadResponseBody, type ModelControlQuery, type UnloadRequestBody, type UnloadResponseBody
} from "./opsSchemas.js";
import {round} from "../../service/rounding.js";

export interface ModelControlRouteDeps {
    models: ModelPool;
}

const DEFAULT_UNLOAD_TIMEOUT_SECONDS = 30;

/** Every field of these bodies is optional, so `curl -X POST` without a body is a valid request. */
const emptyBodyIsEmptyObject: preValidationHookHandler = (request, _reply, done) => {
    if (request.body === undefined && request.headers["content-type"] == null)
        request.body = {};
    done();
};

/** POST /memory/load and /memory/unload (`?which=NAME|all`): thin handlers over the models' lifecycles. */
export async function modelControlRoutes(app: FastifyInstance, {models}: ModelControlRouteDeps): Promise<void> {
    app.post("/memory/load", {
        preValidation: emptyBodyIsEmptyObject,
        schema: {
            summary: "Load the model(s) (no-op when loaded); answers once they are ready, or 503 with the reason one failed.",
            querystring: modelControlQuerySchema,
            body: loadRequestSchema,
            response: {200: loadResponseSchema, 503: errorResponseSchema}
        }
    }, async (request): Promise<LoadResponseBody> => {
        const selected = models.select((request.query as ModelControlQuery).which);
        const wasLoaded = selected.every((served) => served.lifecycle.status().state === "ready");
        const settled = await Promise.all(selected.map(async (served) => ({served, after: await served.lifecycle.load()})));
        const failed = settled.find(({after}) => after.state !== "ready");
        if (failed != null)
            throw new WorkerError("unavailable", failed.after.code ?? "load_failed",
                `${models.routesByName ? `model ${failed.served.name}` : "the model"} failed to load: ${failed.after.reason ?? failed.after.state}`,
                {retryAfterSeconds: 30});
        const states = settled.map(({served, after}) => ({
            name: served.name, model_loaded: after.state === "ready", model_state: after.state, load_time_seconds: served.engine.info().loadTimeSeconds
        }));
        const times = states.map((state) => state.load_time_seconds).filter((seconds): seconds is number => seconds != null);
        const slowest = times.length > 0 ? Math.max(...times) : null;
        request.log.info({models: states.map((state) => state.name), loadTimeSeconds: slowest}, "model load requested");
        return {
            success: true,
            message: wasLoaded ? `${selected.length === 1 ? "Model" : "Models"} already loaded`
                : slowest != null ? `${selected.length === 1 ? "Model" : "Models"} loaded in ${round(slowest)} s` : "Model loaded",
            model_loaded: true, model_state: "ready", load_time_seconds: slowest, models: states
        };
    });

    app.post("/memory/unload", {
        preValidation: emptyBodyIsEmptyObject,
        schema: {
            summary: "Unload the model(s) once running generations end (409 if they outlast timeout_seconds), or at once with force: true, which aborts them. The next request loads a model again.",
            querystring: modelControlQuerySchema,
            body: unloadRequestSchema,
            response: {200: unloadResponseSchema, 409: errorResponseSchema}
        }
    }, async (request): Promise<UnloadResponseBody> => {
        const body = request.body as UnloadRequestBody;
        const selected = models.select((request.query as ModelControlQuery).which);
        const started = performance.now();
        const results = await Promise.all(selected.map(async (served) => ({served, result: await served.lifecycle.unload({
            force: body.force ?? false,
            timeoutSeconds: body.timeout_seconds ?? DEFAULT_UNLOAD_TIMEOUT_SECONDS,
            cause: "request"
        })})));
        const wasLoaded = results.some(({result}) => result.wasLoaded);
        const aborted = results.reduce((sum, {result}) => sum + result.aborted, 0);
        return {
            success: true,
            message: unloadMessage(wasLoaded, aborted),
            model_loaded: selected.some((served) => served.lifecycle.status().state === "ready"),
            was_loaded: wasLoaded,
            aborted_requests: aborted,
            waited_seconds: round((performance.now() - started) / 1000),
            models: results.map(({served, result}) => ({
                name: served.name, was_loaded: result.wasLoaded, model_loaded: served.lifecycle.status().state === "ready", aborted_requests: result.aborted
            }))
        };
    });
}

/** The original answered "Model unloaded" every time; this says what happened. */
function unloadMessage(wasLoaded: boolean, aborted: number): string {
    if (!wasLoaded)
        return "Model was not loaded";
    return aborted === 0 ? "Model unloaded" : `Model unloaded; ${aborted} running generation${aborted === 1 ? "" : "s"} aborted`;
}
