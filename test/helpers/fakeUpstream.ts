import http, {type IncomingMessage, type ServerResponse} from "node:http";
import type {AddressInfo} from "node:net";

/**
 * A real local HTTP server that plays an OpenAI-compatible upstream, and misbehaves on purpose when
 * told to. It records every request, and whether the client hung up before the answer was complete.
 */

export interface RecordedRequest {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    body: any;
    /** True once the client closed the connection before the response ended. */
    abandoned: boolean;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: any) => void;

export interface FakeUpstream {
    /** The server root, e.g. http://127.0.0.1:1234 */
    url: string;
    /** The OpenAI base URL: url + "/v1". */
    baseUrl: string;
    port: number;
    requests: RecordedRequest[];
    /** Replaces the handler for "METHOD /path". */
    on(route: string, handler: Handler): void;
    /** Requests currently open. */
    readonly open: number;
    maxOpen: number;
    close(): Promise<void>;
}

export const FAKE_MODEL = "fake/model-7b";

/** Serves GET /v1/models; everything else is 404 until a test sets a handler. */
export async function startFakeUpstream(port = 0): Promise<FakeUpstream> {
    const handlers = new Map<string, Handler>();
    handlers.set("GET /v1/models", (_req, res) => json(res, 200, {
        object: "list", data: [{id: FAKE_MODEL, object: "model", created: 0, owned_by: "fake", max_model_len: 2048}]
    }));
    const requests: RecordedRequest[] = [];
    const sockets = new Set<import("node:net").Socket>();
    let open = 0;
    const fake: FakeUpstream = {
        url: "", baseUrl: "", port: 0, requests, maxOpen: 0,
        get open() {
            return open;
        },
        on: (route, handler) => handlers.set(route, handler),
        close: () => new Promise<void>((resolve) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => resolve());
        })
    };
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let body: unknown = null;
            try {
                body = text === "" ? null : JSON.parse(text);
            } catch {
                body = text;
            }
            const path = (req.url ?? "/").split("?")[0];
            const record: RecordedRequest = {method: req.method ?? "GET", path, headers: req.headers, body, abandoned: false};
            requests.push(record);
            open++;
            fake.maxOpen = Math.max(fake.maxOpen, open);
            res.on("close", () => {
                open--;
                if (!res.writableFinished) record.abandoned = true;
            });
            const handler = handlers.get(`${record.method} ${path}`);
            if (handler == null)
                json(res, 404, {error: {message: `no route ${record.method} ${path}`, type: "not_found_error"}});
            else
                handler(req, res, body);
        });
    });
    server.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    fake.port = (server.address() as AddressInfo).port;
    fake.url = `http://127.0.0.1:${fake.port}`;
    fake.baseUrl = `${fake.url}/v1`;
    return fake;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, {"content-type": "application/json", ...headers});
    res.end(JSON.stringify(body));
}

export function chunk(content: string | null, finishReason: string | null = null, usage: unknown = undefined): string {
    return `data: ${JSON.stringify({
        id: "chatcmpl-fake", object: "chat.completion.chunk", created: 0, model: FAKE_MODEL,
        choices: [{index: 0, delta: content == null ? {} : {content}, finish_reason: finishReason}],
        ...(usage !== undefined ? {usage} : {})
    })}\n\n`;
}

export function openStream(res: ServerResponse): void {
    res.writeHead(200, {"content-type": "text/event-stream", "cache-control": "no-cache"});
    res.flushHeaders();
}

/** A well-behaved streamed answer: `parts` as chunks, a finish chunk, usage, [DONE]. */
export function streamAnswer(res: ServerResponse, parts: string[], finishReason = "stop"): void {
    openStream(res);
    for (const part of parts) res.write(chunk(part));
    res.write(chunk(null, finishReason));
    res.write(`data: ${JSON.stringify({
        id: "chatcmpl-fake", object: "chat.completion.chunk", created: 0, model: FAKE_MODEL, choices: [],
        usage: {prompt_tokens: 11, completion_tokens: parts.length, total_tokens: 11 + parts.length}
    })}\n\n`);
    res.end("data: [DONE]\n\n");
}

/** A port with nothing listening on it (bound, then released). */
export async function closedPort(): Promise<number> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const {port} = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
}
