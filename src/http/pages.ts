/**
 * The web pages the worker serves: the playground (at / and /playground) and the API docs UI (at
 * /docs). Their routes serve code and styles only, never data, so they answer without the API key
 * (the page then asks for the key and sends it with every API call it makes) and get a content
 * security policy that lets them load their own files from this origin and nothing else.
 */

export const PLAYGROUND_PREFIX = "/playground";
export const DOCS_PREFIX = "/docs";

/** The documents /docs describes the API with: data, so they stay behind the key like every API route. */
export const DOCS_DOCUMENT_ROUTES: ReadonlySet<string> = new Set([`${DOCS_PREFIX}/json`, `${DOCS_PREFIX}/yaml`]);

/** Whether a route pattern serves a page or one of its static files. */
export function isPageRoute(url: string): boolean {
    if (url === "/" || url === PLAYGROUND_PREFIX || url.startsWith(`${PLAYGROUND_PREFIX}/`))
        return true;
    return (url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`)) && !DOCS_DOCUMENT_ROUTES.has(url);
}

/**
 * For the pages: scripts, styles, images and fetches from this origin only (data: images are
 * Swagger UI's icons); no inline script, no plugins, no framing, no form posts elsewhere.
 */
export const PAGE_CSP = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
].join("; ");
