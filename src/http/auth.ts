import {createHash, timingSafeEqual} from "node:crypto";
import type {FastifyReply, FastifyRequest} from "fastify";
import {WorkerError} from "../errors.js";
import {isPageRoute} from "./pages.js";

/** Routes that answer without the key: probes must work for load balancers that hold no secrets. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(["/health", "/ready"]);

function digest(value: string): Buffer {
    return createHash("sha256").update(value, "utf8").digest();
}

/**
 * An onRequest hook that requires `Authorization: Bearer <key>`, with any of `keys`, on every route
 * except OPEN_ROUTES, the operator's `open` routes (AUTH_OPEN_ROUTES) and the pages' code
 * (isPageRoute: the playground and the docs UI hold no data; they ask for the key and send it).
 * Unknown paths need the key too, so they cannot be probed without it. Every key is compared, in
 * constant time over SHA-256 digests, so neither a key's content, its length, nor which key
 * matched leaks through timing.
 */
export function bearerAuth(keys: readonly string[], open: ReadonlySet<string> = new Set()) {
    const expected = keys.map(digest);
    return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
        const route = request.routeOptions.url;
        if (route != null && (OPEN_ROUTES.has(route) || open.has(route) || isPageRoute(route)))
            return;
        const header = request.headers.authorization;
        const match = typeof header === "string" ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
        const given = match != null ? digest(match[1]) : null;
        let valid = false;
        for (const key of expected)
            valid = (given != null && timingSafeEqual(given, key)) || valid;
        if (!valid) {
            void reply.header("www-authenticate", 'Bearer realm="chat-worker"');
            throw new WorkerError("unauthorized", "unauthorized",
                header == null ? "Authorization: a bearer token is required (Authorization: Bearer <WORKER_API_KEY>)"
                    : "Authorization: the bearer token is not valid", {param: "Authorization"});
        }
    };
}
