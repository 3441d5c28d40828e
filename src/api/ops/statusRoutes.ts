import type {FastifyInstance} from "fastify";
import type {WorkerStatus} from "../../service/workerStatus.js";
import {
    chatHealthResponseSchema, healthResponseSchema, memoryStatusResponseSchema, modelInfoResponseSchema, readyResponseSchema
} from "./opsSchemas.js";
import {chatHealthBody, healthBody, memoryStatusBody, modelInfoBody, readyBody} from "./opsBodies.js";
import type {RouteRecord} from "../../http/routeList.js";
import {debugModelSchema, workerInfoSchema, type Capabilities, type DebugModelBody, type WorkerInfoBody} from "./discoverySchemas.js";
import {debugModelBody, endpointList, workerInfoBody} from "./discoveryBodies.js";

export interface StatusRouteDeps {
    status: WorkerStatus;
    /** Every route of the app (filled as plugins register): /chat/health lists the chat routes that exist. */
    routes: readonly RouteRecord[];
    /** What the worker can do, from its routes, models and settings (read at each call). */
    capabilities: () => Capabilities;
}

/** Retry-After for a probe that failed: the load or the shutdown is usually over by then. */
const PROBE_RETRY_SECONDS = 5;

/** GET /health, /ready, /chat/health, /memory/status, /model/info: read-only views of live state. */
export async function statusRoutes(app: FastifyInstance, {status, routes, capabilities}: StatusRouteDeps): Promise<void> {
    app.get("/health", {
        schema: {
            summary: "Worker health: status with reason, each model, jobs, memory, GPU utilization, uptime, capabilities and endpoints. " +
                "200 in every state the worker can answer in (status says which); /ready is the probe that fails.",
            response: {200: healthResponseSchema}
        }
    }, async () => healthBody(await status.health(), {capabilities: capabilities(), endpoints: endpointList(routes)}));

    app.get("/worker/info", {
        schema: {summary: "Discovery: capabilities, the models and which are loaded, the endpoints, and the message format.", response: {200: workerInfoSchema}}
    }, async (): Promise<WorkerInfoBody> => workerInfoBody(status.models, capabilities(), endpointList(routes)));

    app.get("/debug/model", {
        schema: {summary: "The active (default) model and each model's loaded flag.", response: {200: debugModelSchema}}
    }, async (): Promise<DebugModelBody> => debugModelBody(status.models));

    app.get("/ready", {
        schema: {
            summary: "Readiness probe: 200 when a request would be served now (an unloaded model reloads on demand), else 503.",
            response: {200: readyResponseSchema, 503: readyResponseSchema}
        }
    }, async (_request, reply) => {
        const readiness = status.readiness();
        if (!readiness.ready)
            void reply.status(503).header("retry-after", String(PROBE_RETRY_SECONDS));
        return reply.send(readyBody(readiness, status.engineStatus()));
    });

    app.get("/chat/health", {
        schema: {summary: "Health of the /chat endpoint, as the original worker had it: chat_ready, endpoints, model_info.", response: {200: chatHealthResponseSchema}}
    }, async () => chatHealthBody(await status.health(), routes));

    app.get("/memory/status", {
        schema: {summary: "Memory of the model's device: VRAM on a GPU, RAM (labelled as such) on the CPU, in GiB.", response: {200: memoryStatusResponseSchema}}
    }, async () => memoryStatusBody(await status.memory(), status.modelLoaded(), await status.modelReports()));

    app.get("/model/info", {
        schema: {summary: "The model file, its settings and the llama.cpp build that runs it.", response: {200: modelInfoResponseSchema}}
    }, async () => {
        const models = await Promise.all(status.models.all.map(async (served) => ({
            name: served.name, ...modelInfoBody(served.engine.info(), served.lifecycle.status(), await served.engine.memory())
        })));
        const {name: _, ...first} = models[0];
        return {...first, models};
    });
}
