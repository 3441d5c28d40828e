import type {FastifyInstance} from "fastify";
import type {WorkerMetrics} from "../../service/metrics.js";

export interface MetricsRouteDeps {
    metrics: WorkerMetrics;
}

/** GET /metrics (Prometheus text format). The OpenAPI description is at /docs/json (api/pages/docsRoutes.ts). */
export async function metricsRoutes(app: FastifyInstance, {metrics}: MetricsRouteDeps): Promise<void> {
    app.get("/metrics", {schema: {summary: "Prometheus metrics (text exposition format)."}}, async (_request, reply) =>
        reply.type(metrics.contentType).send(await metrics.text()));
}
