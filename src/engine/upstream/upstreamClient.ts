import {ContextOverflowError, WorkerError} from "../../errors.js";
import {sseData} from "./upstreamStream.js";

/**
 * HTTP plumbing for the upstream engine: where its endpoints are, how long we wait for it, and the
 * one place where an upstream failure becomes a WorkerError (502, 503 or 504 with a clear message;
 * never a 500 and never a hang).
 */

export interface UpstreamClientSettings {
    /** The OpenAI base URL, e.g. http://vllm:8000/v1 (no trailing slash). */
    baseUrl: string;
    apiKey: string | null;
    timeoutSeconds: number;
}

/** How much of an upstream error body we read and quote; bodies can be large HTML pages. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_QUOTED_CHARS = 300;
/** Network failures that mean nothing is listening there (or the name does not resolve). */
const UNREACHABLE_CODES = new Set([
    "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "UND_ERR_CONNECT_TIMEOUT"
]);
const CONTEXT_OVERFLOW = /context[ _-]?(length|window|size)|maximum context|exceeds? the available context|too many tokens|prompt is too long/i;

/** Fires `onFire` unless kicked at least every `ms`; the upstream deadline for headers and for each chunk. */
export class Watchdog {
    private timer: NodeJS.Timeout | null = null;
    fired = false;

    constructor(private readonly ms: number, private readonly onFire: () => void) {
        this.kick();
    }

    kick(): void {
        if (this.fired) return;
        if (this.timer != null) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
            this.fired = true;
            this.onFire();
        }, this.ms);
        this.timer.unref();
    }

    stop(): void {
        if (this.timer != null) clearTimeout(this.timer);
        this.timer = null;
    }
}

export interface JsonResponse {
    status: number;
    headers: Headers;
    /** The parsed body, or null when it was not JSON. */
    body: unknown;
    text: string;
}

/** An open streamed answer of the upstream (see `UpstreamClient.stream`). */
export interface UpstreamStream {
    /** Each event's data; a non-streamed answer (an upstream that ignored `stream: true`) is one item. */
    data: AsyncIterable<string>;
    streamed: boolean;
    /** Whether the silence watchdog cut the connection. */
    timedOut(): boolean;
    kick(): void;
    /** Stops the watchdog; without `finished`, drops the connection so the upstream cancels. */
    close(finished: boolean): void;
}

export class UpstreamClient {
    /** The server root (the base URL without `/v1`), where llama-server and vLLM keep their template endpoints. */
    readonly rootUrl: string;
    /** The base URL without credentials, for messages and logs. */
    readonly displayUrl: string;
    private readonly controllers = new Set<AbortController>();

    constructor(private readonly settings: UpstreamClientSettings) {
        this.rootUrl = settings.baseUrl.replace(/\/v1$/, "");
        const parsed = new URL(settings.baseUrl);
        this.displayUrl = `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/$/, "")}`;
    }

    get timeoutMs(): number {
        return this.settings.timeoutSeconds * 1000;
    }

    url(path: string, root = false): string {
        return `${root ? this.rootUrl : this.settings.baseUrl}${path}`;
    }

    headers(stream: boolean): Record<string, string> {
        return {
            "content-type": "application/json",
            accept: stream ? "text/event-stream" : "application/json",
            ...(this.settings.apiKey != null ? {authorization: `Bearer ${this.settings.apiKey}`} : {})
        };
    }

    /** A controller that `abortAll` (shutdown) also aborts. Call the returned release when done. */
    track(controller: AbortController): () => void {
        this.controllers.add(controller);
        return () => this.controllers.delete(controller);
    }

    abortAll(): void {
        for (const controller of this.controllers) controller.abort();
        this.controllers.clear();
    }

    /** A JSON request bounded by the timeout; network failures and timeouts throw mapped WorkerErrors. */
    async json(method: "GET" | "POST", url: string, body?: unknown): Promise<JsonResponse> {
        const controller = new AbortController();
        const release = this.track(controller);
        const watchdog = new Watchdog(this.timeoutMs, () => controller.abort());
        try {
            const response = await fetch(url, {
                method, headers: this.headers(false), signal: controller.signal,
                ...(body !== undefined ? {body: JSON.stringify(body)} : {})
            });
            const text = await readLimited(response, MAX_ERROR_BODY_BYTES * 16);
            let parsed: unknown = null;
            try {
                parsed = JSON.parse(text);
            } catch {
                parsed = null;
            }
            return {status: response.status, headers: response.headers, body: parsed, text};
        } catch (err) {
            throw watchdog.fired ? this.timeoutError(url) : this.connectionError(err, url);
        } finally {
            watchdog.stop();
            release();
        }
    }

    /**
     * Opens a streamed POST (the chat completion): resolves once the upstream answered with a 2xx
     * and its headers, within the timeout; the returned stream's `data` yields each event's data,
     * and its watchdog then bounds the silence between chunks. Resolves null when `signal` (the
     * client) aborted first. Throws mapped WorkerErrors otherwise. Call `close` when done.
     */
    async stream(url: string, body: unknown, signal: AbortSignal): Promise<UpstreamStream | null> {
        const controller = new AbortController();
        const release = this.track(controller);
        const onAbort = () => controller.abort();
        signal.addEventListener("abort", onAbort, {once: true});
        const watchdog = new Watchdog(this.timeoutMs, () => controller.abort());
        const close = (finished: boolean) => {
            watchdog.stop();
            signal.removeEventListener("abort", onAbort);
            // Not finished (a disconnect, an error, a consumer that stopped): drop the connection,
            // which makes the upstream cancel the generation.
            if (!finished) controller.abort();
            release();
        };
        let response: Response;
        try {
            response = await fetch(url, {method: "POST", headers: this.headers(true), signal: controller.signal, body: JSON.stringify(body)});
            watchdog.kick();
            if (!response.ok)
                throw await this.errorFromResponse(response, url);
        } catch (err) {
            close(false);
            if (signal.aborted) return null;
            if (err instanceof WorkerError) throw err;
            throw watchdog.fired ? this.timeoutError(url) : this.connectionError(err, url);
        }
        // An upstream that ignores `stream: true` answers with one completion object.
        const streamed = !(response.headers.get("content-type") ?? "").includes("application/json");
        const data: AsyncIterable<string> = streamed
            ? sseData(response.body ?? emptyStream(), () => watchdog.kick())
            : (async function* () {
                yield await response.text();
            })();
        return {data, streamed, timedOut: () => watchdog.fired, kick: () => watchdog.kick(), close};
    }

    timeoutError(url: string): WorkerError {
        return new WorkerError("gateway_timeout", "upstream_timeout",
            `The upstream at ${this.displayUrl} did not answer ${describePath(url, this)} within ` +
            `UPSTREAM_TIMEOUT_SECONDS (${this.settings.timeoutSeconds} s)`);
    }

    /** A fetch that failed without an HTTP answer: refused (503) or broken (502). */
    connectionError(err: unknown, url: string): WorkerError {
        const code = networkCode(err);
        if (code != null && UNREACHABLE_CODES.has(code))
            return new WorkerError("unavailable", "upstream_unreachable",
                `The upstream at ${this.displayUrl} is unreachable (${code})`, {retryAfterSeconds: 5});
        return new WorkerError("bad_gateway", "upstream_connection_failed",
            `The connection to the upstream at ${this.displayUrl} failed on ${describePath(url, this)} (${code ?? describe(err)})`);
    }

    /** Maps an upstream HTTP error status and body to the status we answer with. */
    async errorFromResponse(response: Response, url: string): Promise<WorkerError> {
        let text = "";
        try {
            text = await readLimited(response, MAX_ERROR_BODY_BYTES);
        } catch {
            // The status alone still says what happened.
        }
        let body: unknown = null;
        try {
            body = JSON.parse(text);
        } catch {
            body = null;
        }
        return this.errorFromStatus(response.status, body, text, response.headers.get("retry-after"), url);
    }

    errorFromStatus(status: number, body: unknown, text: string, retryAfter: string | null, url: string): WorkerError {
        const detail = quote(upstreamMessage(body) ?? text);
        const code = upstreamCode(body);
        const said = detail !== "" ? `: ${detail}` : "";
        const where = `The upstream at ${this.displayUrl}`;
        const retry = retryAfterSeconds(retryAfter);
        if (status >= 400 && status < 500 && (code === "context_length_exceeded" || CONTEXT_OVERFLOW.test(detail)))
            return new ContextOverflowError({
                promptTokens: null, maxTokens: null, contextSize: null, culprit: "max_tokens", upstreamDetail: detail
            });
        if (status === 401 || status === 403)
            return new WorkerError("bad_gateway", "upstream_auth",
                `${where} refused our credentials (HTTP ${status}); check UPSTREAM_API_KEY${said}`);
        if (status === 404)
            return new WorkerError("bad_gateway", "upstream_not_found",
                `${where} has no ${describePath(url, this)} or does not serve the model (HTTP 404); check UPSTREAM_URL and UPSTREAM_MODEL${said}`);
        if (status === 408 || status === 504)
            return new WorkerError("gateway_timeout", "upstream_timeout", `${where} timed out (HTTP ${status})${said}`);
        if (status === 429)
            return new WorkerError("overloaded", "upstream_overloaded", `${where} is overloaded (HTTP 429)${said}`,
                {retryAfterSeconds: retry ?? 5});
        if (status === 503)
            return new WorkerError("unavailable", "upstream_unavailable", `${where} is unavailable (HTTP 503)${said}`,
                {retryAfterSeconds: retry ?? 5});
        if (status >= 400 && status < 500)
            return new WorkerError("invalid_request", "upstream_rejected", `${where} rejected the request (HTTP ${status})${said}`,
                upstreamParam(body) != null ? {param: upstreamParam(body)!} : {});
        return new WorkerError("bad_gateway", "upstream_error", `${where} failed (HTTP ${status})${said}`);
    }
}

/** Reads a body up to `limit` bytes (the rest is cancelled, not buffered). */
async function readLimited(response: Response, limit: number): Promise<string> {
    if (response.body == null)
        return "";
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let bytes = 0;
    try {
        for (;;) {
            const {done, value} = await reader.read();
            if (done) break;
            bytes += value.byteLength;
            text += decoder.decode(value, {stream: true});
            if (bytes >= limit) {
                await reader.cancel();
                break;
            }
        }
        return text + decoder.decode();
    } finally {
        reader.releaseLock();
    }
}

function describePath(url: string, client: UpstreamClient): string {
    const path = url.startsWith(client.rootUrl) ? url.slice(client.rootUrl.length) : url;
    return path === "" ? "the request" : path;
}

function networkCode(err: unknown): string | null {
    let current: unknown = err;
    for (let depth = 0; depth < 4 && current != null; depth++) {
        const candidate = current as {code?: unknown; errors?: unknown[]; cause?: unknown};
        if (typeof candidate.code === "string") return candidate.code;
        if (Array.isArray(candidate.errors) && candidate.errors.length > 0) {
            const inner = candidate.errors[0] as {code?: unknown};
            if (typeof inner?.code === "string") return inner.code;
        }
        current = candidate.cause;
    }
    return null;
}

function describe(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}

/** The message in OpenAI's `{error: {message}}`, llama-server's, TGI's `{error: "..."}` or FastAPI's `{detail}`. */
export function upstreamMessage(body: unknown): string | null {
    if (typeof body !== "object" || body == null) return null;
    const record = body as Record<string, unknown>;
    const error = record.error;
    if (typeof error === "string") return error;
    if (typeof error === "object" && error != null && typeof (error as {message?: unknown}).message === "string")
        return (error as {message: string}).message;
    if (typeof record.message === "string") return record.message;
    if (record.detail != null) return typeof record.detail === "string" ? record.detail : JSON.stringify(record.detail);
    return null;
}

function upstreamCode(body: unknown): string | null {
    const error = (body as {error?: {code?: unknown}} | null)?.error;
    return typeof error === "object" && error != null && typeof error.code === "string" ? error.code : null;
}

function upstreamParam(body: unknown): string | null {
    const error = (body as {error?: {param?: unknown}} | null)?.error;
    return typeof error === "object" && error != null && typeof error.param === "string" ? error.param : null;
}

function quote(text: string): string {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > MAX_QUOTED_CHARS ? `${flat.slice(0, MAX_QUOTED_CHARS)}…` : flat;
}

function retryAfterSeconds(header: string | null): number | null {
    if (header == null) return null;
    const seconds = Number(header);
    return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : null;
}

function emptyStream(): ReadableStream<Uint8Array> {
    return new ReadableStream({start: (controller) => controller.close()});
}
