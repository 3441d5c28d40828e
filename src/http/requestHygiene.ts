import {randomUUID} from "node:crypto";
import type {IncomingMessage} from "node:http";
import type {Socket} from "node:net";
import zlib from "node:zlib";
import {Transform} from "node:stream";
import type {FastifyInstance} from "fastify";
import {WorkerError} from "../errors.js";
import {SECURITY_HEADERS} from "./security.js";

/**
 * What a request may carry besides its body, checked before anything reads it: the body's
 * encoding and charset, a client's request id, duplicated credentials, and the replies Node
 * writes itself for requests it cannot parse.
 */

/** A client's x-request-id is kept only when it looks like an id: it is echoed and logged on every line. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(request: IncomingMessage): string {
    const given = request.headers["x-request-id"];
    return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Decoders for the Content-Encodings a body may come in; any other is a 415. */
const DECODERS: Record<string, () => Transform> = {
    gzip: () => zlib.createGunzip(),
    "x-gzip": () => zlib.createGunzip(),
    deflate: () => zlib.createInflate(),
    br: () => zlib.createBrotliDecompress()
};

function unsupportedMediaType(message: string, param: string): WorkerError {
    return new WorkerError("unsupported_media_type", "unsupported_media_type", message, {param});
}

export function registerRequestHygiene(app: FastifyInstance): void {
    app.addHook("onRequest", async (request) => {
        // Node keeps the first of two Authorization headers and drops the other; which credential
        // counts must not depend on that, so the request is refused.
        const raw = request.raw.rawHeaders;
        let authorizations = 0;
        for (let i = 0; i < raw.length; i += 2)
            if (raw[i].toLowerCase() === "authorization") authorizations++;
        if (authorizations > 1)
            throw new WorkerError("invalid_request", "invalid_request", "Authorization: sent more than once", {param: "Authorization"});
    });

    // A body is read as UTF-8 JSON, decoded first when it says it is compressed: a gzip body parsed
    // as JSON, or a plain one labelled gzip and taken as it is, would both be silent fix-ups.
    app.addHook("preParsing", async (request, _reply, payload) => {
        const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers["content-type"] ?? "")?.[1]?.toLowerCase();
        if (charset != null && charset !== "utf-8" && charset !== "utf8")
            throw unsupportedMediaType(`Content-Type: charset ${charset} is not supported; send UTF-8`, "Content-Type");
        const encoding = (request.headers["content-encoding"] ?? "identity").trim().toLowerCase();
        if (encoding === "identity" || encoding === "")
            return payload;
        const decoder = DECODERS[encoding];
        if (decoder == null)
            throw unsupportedMediaType(`Content-Encoding: ${encoding} is not supported (use gzip, deflate, br or none)`, "Content-Encoding");
        let received = 0;
        payload.on("data", (chunk: Buffer) => received += chunk.length);
        const decoded = decoder();
        decoded.on("error", () => undefined);
        const output = payload.pipe(decoded) as Transform & {receivedEncodedLength?: number};
        // Fastify compares Content-Length with the bytes that came over the wire, not the decoded ones.
        Object.defineProperty(output, "receivedEncodedLength", {get: () => received});
        return output;
    });
}

/**
 * What Node answers itself when it cannot parse a request (400), when headers are too large (431)
 * or too slow (408): in our envelope and with the security headers, like every other answer.
 */
export function clientErrorHandler(err: Error & {code?: string}, socket: Socket): void {
    const [status, code, message] =
        err.code === "HPE_HEADER_OVERFLOW" ? [431, "headers_too_large", "request headers are too large"]
            : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "request_timeout", "the request was not received in time"]
                : [400, "bad_request", "the request could not be parsed as HTTP"];
    if (!socket.writable) {
        socket.destroy();
        return;
    }
    const body = JSON.stringify({success: false, error: message, code});
    const headers = Object.entries({...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(body)), connection: "close"}).map(([name, value]) => `${name}: ${value}`).join("\r\n");
    const reason = status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request";
    socket.end(`HTTP/1.1 ${status} ${reason}\r\n${headers}\r\n\r\n${body}`);
}
