// @ts-check
/**
 * Calls to the worker's API from the playground: the key, JSON requests, and the /chat event
 * stream. Every failure becomes an ApiError whose message is the worker's own error text, so the
 * page can show it as it is.
 */

/** Session storage name of the key; playground/docs-key.js reads the same name. */
export const KEY_STORAGE = "chat-worker.api-key";

export class ApiError extends Error {
    /**
     * @param {string} message
     * @param {number | null} status HTTP status; null when the request never got an answer
     * @param {string | null} code the worker's error code
     */
    constructor(message, status, code) {
        super(message);
        this.name = "ApiError";
        this.status = status;
        this.code = code;
    }
}

/** @type {Set<() => void>} */
const unauthorizedListeners = new Set();

/** Calls `listener` whenever the worker answers 401 (no key, or a wrong one). */
export function onUnauthorized(/** @type {() => void} */ listener) {
    unauthorizedListeners.add(listener);
}

export function storedKey() {
    return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(/** @type {string} */ key) {
    sessionStorage.setItem(KEY_STORAGE, key);
}

/**
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
function headers(extra = {}) {
    const key = storedKey();
    return key != null ? {...extra, authorization: `Bearer ${key}`} : {...extra};
}

/**
 * The worker's error text from either envelope: native `{success: false, error, code}` or
 * OpenAI's `{error: {message, code}}`.
 * @param {unknown} body
 * @param {number} status
 */
export function errorFrom(body, status) {
    const record = /** @type {any} */ (body);
    if (record != null && typeof record.error === "string")
        return new ApiError(record.error, status, typeof record.code === "string" ? record.code : null);
    if (record != null && record.error != null && typeof record.error.message === "string")
        return new ApiError(record.error.message, status, typeof record.error.code === "string" ? record.error.code : null);
    return new ApiError(`HTTP ${status}`, status, null);
}

/**
 * One request; resolves with the parsed JSON body (or text, for text answers) of a 2xx answer.
 * @param {string} path
 * @param {{method?: string, body?: unknown, signal?: AbortSignal}} [options]
 * @returns {Promise<any>}
 */
export async function api(path, options = {}) {
    const response = await send(path, options, {});
    const text = await response.text();
    const json = parseJson(text);
    if (!response.ok) throw errorFrom(json, response.status);
    return json !== undefined ? json : text;
}

/**
 * @param {string} path
 * @param {{method?: string, body?: unknown, signal?: AbortSignal}} options
 * @param {Record<string, string>} extraHeaders
 */
async function send(path, options, extraHeaders) {
    const hasBody = options.body !== undefined;
    let response;
    try {
        response = await fetch(path, {
            method: options.method ?? (hasBody ? "POST" : "GET"),
            headers: headers(hasBody ? {...extraHeaders, "content-type": "application/json"} : extraHeaders),
            body: hasBody ? JSON.stringify(options.body) : undefined,
            signal: options.signal
        });
    } catch (err) {
        if (err instanceof DOMException && err.name === "AbortError") throw err;
        throw new ApiError(`the worker did not answer (${err instanceof Error ? err.message : String(err)})`, null, null);
    }
    if (response.status === 401)
        for (const listener of unauthorizedListeners) listener();
    return response;
}

/** @param {string} text */
function parseJson(text) {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

/**
 * POST /chat with `stream: true`: calls `onToken` with each piece of text as it arrives and
 * resolves with the `done` event's body (the same as the non-streaming answer). Aborting `signal`
 * closes the connection, which aborts the generation on the worker.
 * @param {Record<string, unknown>} body
 * @param {AbortSignal} signal
 * @param {(text: string) => void} onToken
 * @returns {Promise<any>}
 */
export async function streamChat(body, signal, onToken) {
    const response = await send("/chat", {body: {...body, stream: true}, signal}, {accept: "text/event-stream"});
    if (!response.ok || response.body == null)
        throw errorFrom(parseJson(await response.text()), response.status);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = parseEvent(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (event.name === "token") onToken(JSON.parse(event.data).text);
            else if (event.name === "done") return JSON.parse(event.data);
            else if (event.name === "error") throw errorFrom(JSON.parse(event.data), response.status);
        }
    }
    throw new ApiError("the stream ended without a done event", response.status, null);
}

/**
 * One Server-Sent Event block: its `event:` name and its `data:` lines joined.
 * @param {string} block
 */
function parseEvent(block) {
    let name = "message";
    /** @type {string[]} */
    const data = [];
    for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
    return {name, data: data.join("\n")};
}
