import fs from "node:fs";
import path from "node:path";
import type {FastifyInstance, FastifySchema} from "fastify";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import {packageRoot} from "../../http/packageRoot.js";
import {DOCS_PREFIX} from "../../http/pages.js";

export interface DocsDeps {
    /** When set, every route except these (and the pages) needs the bearer key. */
    openRoutes: ReadonlySet<string> | null;
}

/** Descriptions for the response codes the routes declare; others keep their number. */
const STATUS_TEXT: Readonly<Record<string, string>> = {
    200: "OK", 400: "Invalid request", 401: "Missing or wrong API key", 409: "Conflict", 429: "Queue full",
    503: "Unavailable"
};

/** The script that lets the docs UI send the key the playground keeps (see the file). */
const DOCS_KEY_SCRIPT = "docs-key.js";

/**
 * Registers the OpenAPI document generator. Call before any API route: it collects routes as
 * they are registered, and documents each from its own schemas, so the document cannot drift
 * from what the worker validates.
 */
export async function registerDocsDocument(app: FastifyInstance, {openRoutes}: DocsDeps): Promise<void> {
    await app.register(fastifySwagger, {
        openapi: {
            openapi: "3.1.0",
            info: {
                title: "chat-worker",
                version: packageRoot().version,
                description: "Pure-inference chat worker. Try it in the [playground](/); this document is at /docs/json."
            },
            ...(openRoutes != null
                ? {components: {securitySchemes: {bearerAuth: {type: "http", scheme: "bearer", description: "WORKER_API_KEY"}}}}
                : {})
        },
        transform: ({schema, url}) => ({url, schema: documented(schema, openRoutes != null && !openRoutes.has(url))})
    });
}

/**
 * A copy of a route's schema for the document (the route keeps validating with its own): status
 * descriptions, and the bearer scheme with its 401 on the routes that need the key.
 */
function documented(schema: FastifySchema | undefined, secured: boolean): FastifySchema {
    // @fastify/swagger takes a response's description from "x-response-description"; type "null" documents no body.
    const response: Record<string, unknown> = {};
    for (const [status, body] of Object.entries((schema?.response ?? {}) as Record<string, object>))
        response[status] = STATUS_TEXT[status] != null ? {...body, "x-response-description": STATUS_TEXT[status]} : body;
    if (secured) {
        // Without any response the generator would document a 200 itself; keep it beside the 401.
        if (Object.keys(response).length === 0) response["200"] = {"x-response-description": STATUS_TEXT[200]};
        response["401"] ??= {type: "null", "x-response-description": STATUS_TEXT[401]};
    }
    return {
        ...schema,
        ...(Object.keys(response).length > 0 ? {response} : {}),
        ...(secured ? {security: [{bearerAuth: []}]} : {})
    };
}

/**
 * Swagger UI at /docs with its assets from the package (no CDN), and the document at /docs/json
 * (and /docs/yaml). Register after every API route.
 */
export async function registerDocsUi(app: FastifyInstance): Promise<void> {
    const keyScript = fs.readFileSync(path.join(packageRoot().dir, "playground", DOCS_KEY_SCRIPT), "utf8");
    await app.register(fastifySwaggerUi, {
        routePrefix: DOCS_PREFIX,
        theme: {title: "chat-worker API", js: [{filename: DOCS_KEY_SCRIPT, content: keyScript}]},
        // BaseLayout: no top bar, whose URL box would load other documents and whose logo SVG
        // carries an inline <style> that the pages' CSP refuses.
        uiConfig: {layout: "BaseLayout", deepLinking: true, displayRequestDuration: true}
    });
}
