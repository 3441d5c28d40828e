// @ts-check
/**
 * Loaded by the API docs page (/docs, Swagger UI from @fastify/swagger-ui) after its initializer
 * and before the page's load event, when the initializer starts Swagger UI. When the worker has
 * WORKER_API_KEY, the document (/docs/json) and every "Try it out" request need the key: this
 * wraps SwaggerUIBundle so each request carries the key the playground keeps in this tab's
 * session storage, and asks for the key when the document is refused. A classic script (the docs
 * page loads no modules), so the storage name is repeated from playground/api.js.
 */
(function () {
    const KEY_STORAGE = "chat-worker.api-key";
    const win = /** @type {any} */ (window);
    const bundle = win.SwaggerUIBundle;
    if (typeof bundle !== "function") return;

    /** @param {{headers: Record<string, string>}} request */
    function withKey(request) {
        const key = sessionStorage.getItem(KEY_STORAGE);
        if (key != null && request.headers.Authorization == null && request.headers.authorization == null)
            request.headers.Authorization = `Bearer ${key}`;
        return request;
    }

    /** @param {{status: number, url: string}} response */
    function askOnRefusal(response) {
        if (response.status === 401 && /\/docs\/json$/.test(response.url)) {
            const key = window.prompt("This worker needs its API key (WORKER_API_KEY) to show its API document:");
            if (key != null && key.trim() !== "") {
                sessionStorage.setItem(KEY_STORAGE, key.trim());
                window.location.reload();
            }
        }
        return response;
    }

    /** @param {Record<string, unknown>} config */
    function withAuth(config) {
        return bundle({...config, requestInterceptor: withKey, responseInterceptor: askOnRefusal});
    }
    win.SwaggerUIBundle = Object.assign(withAuth, bundle);
})();
