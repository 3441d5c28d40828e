import type {FastifyInstance, FastifySchema} from "fastify";

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
