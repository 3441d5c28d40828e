import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";
import type {FastifyInstance} from "fastify";
import type {WorkerMetrics} from "../../service/metrics.js";
import {openApiDocument, type RouteRecord} from "../openapi.js";

export interface ObservabilityRouteDeps {
    metrics: WorkerMetrics;
    routes: readonly RouteRecord[];
    openRoutes: ReadonlySet<string> | null;
}

/** GET /metrics (Prometheus text format) and GET /docs (OpenAPI description of every route). */
export async function observabilityRoutes(app: FastifyInstance, {metrics, routes, openRoutes}: ObservabilityRouteDeps): Promise<void> {
    app.get("/metrics", {schema: {summary: "Prometheus metrics (text exposition format)."}}, async (_request, reply) =>
        reply.type(metrics.contentType).send(await metrics.text()));

    const version = packageVersion();
    app.get("/docs", {schema: {summary: "This OpenAPI 3.1 description, generated from the route schemas."}}, async () =>
        openApiDocument(routes, {title: "chat-worker", version, openRoutes}));
}

/** The worker's own version, from the package.json above this file (src/ in development, dist/src/ when built). */
function packageVersion(): string {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    for (let depth = 0; depth < 6; depth++) {
        try {
            const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {name?: string; version?: string};
            if (pkg.name === "chat-worker" && pkg.version != null) return pkg.version;
        } catch {
            // not here; look one folder up
        }
        dir = path.dirname(dir);
    }
    return "unknown";
}
