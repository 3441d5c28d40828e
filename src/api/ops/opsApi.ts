import type {FastifyInstance} from "fastify";
import type {ModelPool} from "../../service/modelPool.js";
import type {WorkerMetrics} from "../../service/metrics.js";
import type {WorkerStatus} from "../../service/workerStatus.js";
import type {RouteRecord} from "../../http/routeList.js";
import {errorHandler, NATIVE_ENVELOPE} from "../../http/errorHandler.js";
import {capabilities} from "./discoveryBodies.js";
import {statusRoutes} from "./statusRoutes.js";
import {modelControlRoutes} from "./modelControlRoutes.js";
import {metricsRoutes} from "./metricsRoutes.js";

export interface OpsApiDeps {
    status: WorkerStatus;
    models: ModelPool;
    metrics: WorkerMetrics;
    /** Every route of the app (filled as plugins register): discovery lists them. */
    routes: readonly RouteRecord[];
    /** Facts the capabilities report besides the routes and models. */
    sfwMode: boolean;
    conversationCache: boolean;
}

/**
 * The operations API (probes, status, model control, metrics, discovery): an encapsulated plugin
 * whose errors use the native envelope. Its routes have no common prefix, so an unknown path falls
 * to the app's not-found handler, which uses the same envelope.
 */
export async function opsApi(app: FastifyInstance, {status, models, metrics, routes, sfwMode, conversationCache}: OpsApiDeps): Promise<void> {
    app.setErrorHandler(errorHandler(NATIVE_ENVELOPE));
    await app.register(statusRoutes, {status, routes, capabilities: () => capabilities({routes, models, sfwMode, conversationCache})});
    await app.register(modelControlRoutes, {models});
    await app.register(metricsRoutes, {metrics});
}
