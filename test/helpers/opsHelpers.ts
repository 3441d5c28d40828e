import http from "node:http";
import pino, {type Logger} from "pino";

/**
 * One llama.cpp compute thread. On a small machine shared with other work, two spin-waiting
 * threads collapse when one core is taken (a 60-token generation measured 72 ms with one thread,
 * 11 s with two); these tests check behaviour, not speed.
 */
export const ONE_THREAD = {THREADS: "1"} as const;

export interface OpenStream {
    request: http.ClientRequest;
    /** Everything received so far. */
    text(): string;
    /** Resolves with the whole body once the server ends the response. */
    done: Promise<string>;
}

/** Starts a streaming /chat and resolves once the first bytes of the stream arrived. */
export function openStream(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<OpenStream> {
    return new Promise((resolve, reject) => {
        let received = "";
        let finish: (text: string) => void = () => undefined;
        let fail: (err: Error) => void = () => undefined;
        const done = new Promise<string>((res, rej) => {
            finish = res;
            fail = rej;
        });
        done.catch(() => undefined);
        const request = http.request(`${url}/chat`, {method: "POST", headers: {"content-type": "application/json", ...headers}}, (response) => {
            response.setEncoding("utf8");
            let first = true;
            response.on("data", (chunk: string) => {
                received += chunk;
                if (first && received.includes("event: token")) {
                    first = false;
                    resolve({request, text: () => received, done});
                }
            });
            response.on("end", () => {
                if (first) resolve({request, text: () => received, done});
                finish(received);
            });
            response.on("error", (err) => fail(err));
        });
        request.on("error", (err) => {
            fail(err);
            reject(err);
        });
        request.end(JSON.stringify({...body, stream: true}));
    });
}

/** A small HTTP server on port 0 standing in for an external service; `handler` answers each request. */
export async function stubServer(handler: (request: http.IncomingMessage, body: string, response: http.ServerResponse) => void):
    Promise<{url: string; close(): Promise<void>}> {
    const server = http.createServer((request, response) => {
        let body = "";
        request.setEncoding("utf8");
        request.on("data", (chunk: string) => body += chunk);
        request.on("end", () => handler(request, body, response));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address == null || typeof address === "string") throw new Error("stub did not bind");
    return {
        url: `http://127.0.0.1:${address.port}`,
        close: () => new Promise((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        })
    };
}

/** Reads one Prometheus sample's value from /metrics text; 0 when the series does not exist yet. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
    for (const line of text.split("\n")) {
        if (!line.startsWith(name)) continue;
        const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
        if (match == null || match[1] !== name) continue;
        const found: Record<string, string> = {};
        for (const pair of (match[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)) found[pair[1]] = pair[2];
        if (Object.entries(labels).every(([key, value]) => found[key] === value))
            return Number(match[4]);
    }
    return 0;
}
