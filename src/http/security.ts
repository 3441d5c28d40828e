import type {ServerOptions} from "node:http";
import type {FastifyInstance, FastifyReply, FastifyRequest} from "fastify";
import type {Config} from "../config/config.js";
import {isPageRoute, PAGE_CSP} from "./pages.js";

/**
 * Hardening for a worker that sits on a public URL: server timeouts against slow-loris clients,
 * security headers on every response, and CORS that is off unless origins are listed.
 */

/**
 * Fastify options that cut off clients that send headers or body byte by byte. Node checks every
 * `connectionsCheckingInterval` for requests that are still arriving; a request fully received is
 * never cut, so long generations and streams are unaffected (they have REQUEST_TIMEOUT_SECONDS).
 */
export function serverTimeoutOptions(config: Config): {requestTimeout: number; http: ServerOptions} {
    const headersMs = Math.round(config.headersTimeoutSeconds * 1000);
    const requestMs = Math.round(config.bodyTimeoutSeconds * 1000);
    return {
        requestTimeout: requestMs,
        http: {
            headersTimeout: headersMs,
            // Check often enough that the timeouts hold to within a quarter of the shorter one.
            connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.round(headersMs / 4)))
        }
    };
}

/**
 * Set on every response. They are added in onRequest, before any handler runs, so hijacked SSE
 * replies get them too (SseStream copies reply.getHeaders()). The API serves JSON and SSE only,
 * so nothing may be framed, sniffed as another type, or load sub-resources; the pages (see
 * pages.ts) get PAGE_CSP instead, which lets them load their own files and nothing else.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "x-permitted-cross-domain-policies": "none"
};

const CORS_METHODS = "GET, HEAD, POST, OPTIONS";
const CORS_HEADERS = "authorization, content-type, accept, x-request-id";
const CORS_EXPOSED = "retry-after, retry-after-ms, x-request-id, www-authenticate";
const CORS_MAX_AGE_SECONDS = "600";

function allowedOrigin(request: FastifyRequest, origins: ReadonlySet<string>): string | null {
    const origin = request.headers.origin;
    return typeof origin === "string" && origins.has(origin) ? origin : null;
}

/**
 * Registers the security hooks. Call before the auth hook: a browser's preflight never carries
 * credentials, so a listed origin's preflight must be answered before the key is checked.
 */
export function registerSecurity(app: FastifyInstance, config: Config): void {
    const origins: ReadonlySet<string> = new Set(config.corsOrigins);
    app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
        void reply.headers(SECURITY_HEADERS);
        if (isPageRoute(request.routeOptions.url ?? ""))
            void reply.header("content-security-policy", PAGE_CSP);
        if (origins.size === 0) return;
        // Caches must not serve one origin's answer to another.
        void reply.header("vary", "origin");
        const origin = allowedOrigin(request, origins);
        if (origin == null) return;
        void reply.header("access-control-allow-origin", origin);
        if (request.method === "OPTIONS" && request.headers["access-control-request-method"] != null) {
            return reply.status(204).headers({
                "access-control-allow-methods": CORS_METHODS,
                "access-control-allow-headers": CORS_HEADERS,
                "access-control-max-age": CORS_MAX_AGE_SECONDS
            }).send();
        }
        void reply.header("access-control-expose-headers", CORS_EXPOSED);
    });
}
