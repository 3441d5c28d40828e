import type {FastifyInstance} from "fastify";
import type {WorkerStatus} from "../../service/workerStatus.js";
import {
    chatHealthResponseSchema, healthResponseSchema, memoryStatusResponseSchema, modelInfoResponseSchema, readyResponseSchema
} from "../../protocol/ops.js";
import {chatHealthBody, healthBody, memoryStatusBody, modelInfoBody, readyBody} from "../adapters/opsBodies.js";
import type {RouteRecord} from "../routeList.js";

export interface StatusRouteDeps {
    status: WorkerStatus;
    /** Every route of the app (filled as plugins register): /chat/health lists the chat routes that exist. */
    routes: readonly RouteRecord[];
}

/** Retry-After for a probe that failed: the load or the shutdown is usually over by then. */
const PROBE_RETRY_SECONDS = 5;

/** GET /health, /ready, /chat/health, /memory/status, /model/info: read-only views of live state. */
export async function statusRoutes(app: FastifyInstance, {status, routes}: StatusRouteDeps): Promise<void> {
    app.get("/health", {
        schema: {
            summary: "Worker health: status with reason, jobs, memory, GPU utilization, uptime. Answers while loading; 503 only while shutting down.",
            response: {200: healthResponseSchema, 503: healthResponseSchema}
        }
    }, async (_request, reply) => {
        const report = await status.health();
        return reply.status(report.shuttingDown ? 503 : 200).send(healthBody(report));
    });

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
    }, async () => memoryStatusBody(await status.memory(), status.modelLoaded()));

    app.get("/model/info", {
        schema: {summary: "The model file, its settings and the llama.cpp build that runs it.", response: {200: modelInfoResponseSchema}}
    }, async () => modelInfoBody(status.info(), status.engineStatus(), await status.memory()));
}
