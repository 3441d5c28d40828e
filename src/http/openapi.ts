import type {FastifyInstance, FastifySchema} from "fastify";

declare module "fastify" {
    interface FastifySchema {
        /** One line for the OpenAPI description at /docs. */
        summary?: string;
    }
}

export interface RouteRecord {
    method: string;
    url: string;
    schema?: FastifySchema;
}

/** Records every route registered after this call (the list fills as plugins register). */
export function collectRoutes(app: FastifyInstance): RouteRecord[] {
    const routes: RouteRecord[] = [];
    app.addHook("onRoute", (route) => {
        for (const method of [route.method].flat())
            routes.push({method: String(method).toUpperCase(), url: route.url, schema: route.schema});
    });
    return routes;
}

export interface OpenApiOptions {
    title: string;
    version: string;
    /** When set, every route except these needs the bearer key. */
    openRoutes: ReadonlySet<string> | null;
}

const STATUS_TEXT: Record<string, string> = {
    200: "OK", 400: "Invalid request", 401: "Missing or wrong API key", 409: "Conflict", 429: "Queue full",
    503: "Unavailable"
};

/**
 * An OpenAPI 3.1 description built from the routes' own schemas (TypeBox output is JSON Schema,
 * which 3.1 takes as it is), so the document cannot drift from what the worker validates.
 */
export function openApiDocument(routes: readonly RouteRecord[], options: OpenApiOptions): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of routes) {
        if (route.method === "HEAD" || route.method === "OPTIONS")
            continue;
        const schema = route.schema ?? {};
        const operation: Record<string, unknown> = {};
        if (schema.summary != null) operation.summary = schema.summary;
        if (schema.body != null)
            operation.requestBody = {required: true, content: {"application/json": {schema: plain(schema.body)}}};
        const responses: Record<string, unknown> = {};
        for (const [status, body] of Object.entries((schema.response ?? {}) as Record<string, unknown>))
            responses[status] = {description: STATUS_TEXT[status] ?? status, content: {"application/json": {schema: plain(body)}}};
        if (Object.keys(responses).length === 0)
            responses["200"] = {description: "OK"};
        const secured = options.openRoutes != null && !options.openRoutes.has(route.url);
        if (secured) {
            operation.security = [{bearerAuth: []}];
            responses["401"] ??= {description: STATUS_TEXT[401]};
        }
        operation.responses = responses;
        (paths[route.url] ??= {})[route.method.toLowerCase()] = operation;
    }
    return {
        openapi: "3.1.0",
        info: {title: options.title, version: options.version},
        paths,
        ...(options.openRoutes != null
            ? {components: {securitySchemes: {bearerAuth: {type: "http", scheme: "bearer", description: "WORKER_API_KEY"}}}}
            : {})
    };
}

/** TypeBox schemas carry symbol keys; a JSON round trip leaves the plain JSON Schema. */
function plain(schema: unknown): unknown {
    return JSON.parse(JSON.stringify(schema));
}
