import type {FastifyInstance, preValidationHookHandler} from "fastify";
import type {ModelLifecycle} from "../../service/modelLifecycle.js";
import type {WorkerStatus} from "../../service/workerStatus.js";
import {WorkerError} from "../../errors.js";
import {
    errorResponseSchema, loadRequestSchema, loadResponseSchema, unloadRequestSchema, unloadResponseSchema,
    type LoadResponseBody, type UnloadRequestBody, type UnloadResponseBody
} from "../../protocol/ops.js";
import {round} from "../adapters/nativeChat.js";

export interface ModelControlRouteDeps {
    lifecycle: ModelLifecycle;
    status: WorkerStatus;
}

const DEFAULT_UNLOAD_TIMEOUT_SECONDS = 30;

/** Every field of these bodies is optional, so `curl -X POST` without a body is a valid request. */
const emptyBodyIsEmptyObject: preValidationHookHandler = (request, _reply, done) => {
    if (request.body === undefined && request.headers["content-type"] == null)
        request.body = {};
    done();
};

/** POST /memory/load and /memory/unload: thin handlers over the model lifecycle. */
export async function modelControlRoutes(app: FastifyInstance, {lifecycle, status}: ModelControlRouteDeps): Promise<void> {
    app.post("/memory/load", {
        preValidation: emptyBodyIsEmptyObject,
        schema: {
            summary: "Load the model (no-op when loaded); answers once it is ready, or 503 with the reason it failed.",
            body: loadRequestSchema,
            response: {200: loadResponseSchema, 503: errorResponseSchema}
        }
    }, async (request): Promise<LoadResponseBody> => {
        const wasLoaded = status.modelLoaded();
        const after = await lifecycle.load();
        if (after.state !== "ready")
            throw new WorkerError("unavailable", after.code ?? "load_failed", `the model failed to load: ${after.reason ?? after.state}`,
                {retryAfterSeconds: 30});
        const info = status.info();
        request.log.info({loadTimeSeconds: info.loadTimeSeconds}, "model load requested");
        return {
            success: true,
            message: wasLoaded ? "Model already loaded"
                : info.loadTimeSeconds != null ? `Model loaded in ${round(info.loadTimeSeconds)} s` : "Model loaded",
            model_loaded: true, model_state: after.state, load_time_seconds: info.loadTimeSeconds
        };
    });

    app.post("/memory/unload", {
        preValidation: emptyBodyIsEmptyObject,
        schema: {
            summary: "Unload the model once running generations end (409 if they outlast timeout_seconds), or at once with force: true, which aborts them. The next request loads it again.",
            body: unloadRequestSchema,
            response: {200: unloadResponseSchema, 409: errorResponseSchema}
        }
    }, async (request): Promise<UnloadResponseBody> => {
        const body = request.body as UnloadRequestBody;
        const result = await lifecycle.unload({
            force: body.force ?? false,
            timeoutSeconds: body.timeout_seconds ?? DEFAULT_UNLOAD_TIMEOUT_SECONDS,
            cause: "request"
        });
        return {
            success: true,
            message: unloadMessage(result.wasLoaded, result.aborted),
            model_loaded: status.modelLoaded(),
            was_loaded: result.wasLoaded,
            aborted_requests: result.aborted,
            waited_seconds: round(result.waitedSeconds)
        };
    });
}

/** The original answered "Model unloaded" every time; this says what happened. */
function unloadMessage(wasLoaded: boolean, aborted: number): string {
    if (!wasLoaded)
        return "Model was not loaded";
    return aborted === 0 ? "Model unloaded" : `Model unloaded; ${aborted} running generation${aborted === 1 ? "" : "s"} aborted`;
}
