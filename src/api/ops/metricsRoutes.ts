import type {FastifyInstance} from "fastify";
import type {WorkerMetrics} from "../../service/metrics.js";

export interface ObservabilityRouteDeps {
    metrics: WorkerMetrics;
}

/** GET /metrics (Prometheus text format). The OpenAPI description is at /docs/json (routes/docs.ts). */
export async function observabilityRoutes(app: FastifyInstance, {metrics}: ObservabilityRouteDeps): Promise<void> {
    app.get("/metrics", {schema: {summary: "Prometheus metrics (text exposition format)."}}, async (_request, reply) =>
        reply.type(metrics.contentType).send(await metrics.text()));
}
