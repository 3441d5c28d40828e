import type {FastifyReply, FastifyRequest} from "fastify";
import {toProblem, type Problem} from "./errorMapping.js";

/**
 * A Server-Sent Events response. Opening it hijacks the reply, so everything before `open()` can
 * still fail with a normal status; after it, failures must be sent as an error event.
 */
export class SseStream {
    private opened = false;

    constructor(private readonly reply: FastifyReply) {}

    get isOpen(): boolean {
        return this.opened;
    }

    /** False once the client went away; writing then is pointless. */
    get writable(): boolean {
        return !this.reply.raw.destroyed && !this.reply.raw.writableEnded;
    }

    open(): void {
        if (this.opened) return;
        this.opened = true;
        this.reply.hijack();
        const headers: Record<string, string | number | string[]> = {};
        for (const [name, value] of Object.entries(this.reply.getHeaders()))
            if (value != null) headers[name] = value as string | number | string[];
        this.reply.raw.writeHead(200, {
            ...headers,
            "content-type": "text/event-stream; charset=utf-8",
            // No Connection header of our own: Node keeps the connection alive unless the client
            // asked for Connection: close, which must end it with the stream.
            "cache-control": "no-cache, no-transform",
            "x-accel-buffering": "no"
        });
        // Sent headers at once, so the client sees the stream start even before the first token.
        this.reply.raw.flushHeaders();
    }

    /** Writes one event; `event` null writes a data-only event (OpenAI style). */
    send(event: string | null, data: unknown): void {
        if (!this.writable) return;
        const payload = typeof data === "string" ? data : JSON.stringify(data);
        this.reply.raw.write(`${event != null ? `event: ${event}\n` : ""}data: ${payload}\n\n`);
    }

    close(): void {
        if (this.writable) this.reply.raw.end();
    }
}

/** Whether the client asked for a stream, by body flag or by Accept header. */
export function wantsStream(bodyStream: boolean | undefined, accept: string | undefined): boolean {
    if (bodyStream != null) return bodyStream;
    return accept != null && accept.includes("text/event-stream");
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
    const controller = new AbortController();
    reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) controller.abort();
    });
    return controller.signal;
}

/** How an API writes a failure into a stream that is already open (its headers are gone). */
export interface StreamErrorEncoding {
    /** The event's name; null for a data-only event (OpenAI's style). */
    event: string | null;
    body(problem: Problem): unknown;
    /** Sent after the error body, when the protocol ends every stream with a marker (OpenAI's [DONE]). */
    trailer?: unknown;
    /** toProblem's arguments: the field holding the prompt, and OpenAI's wording. */
    promptField?: string;
    openAiWording?: boolean;
    /** The warning logged for it. */
    logMessage: string;
}

/**
 * Runs `work`, which opens `sse` once a sequence is leased: every failure before that propagates
 * and gets a real status; one after it becomes the stream's last event, and the stream ends.
 */
export async function streamOrThrow<T>(
    request: FastifyRequest, reply: FastifyReply, sse: SseStream | null, encoding: StreamErrorEncoding, work: () => Promise<T>
): Promise<T | FastifyReply> {
    try {
        return await work();
    } catch (err) {
        if (sse?.isOpen !== true)
            throw err;
        const problem = toProblem(err, encoding.promptField, encoding.openAiWording);
        request.log.warn({code: problem.code, status: problem.status}, encoding.logMessage);
        sse.send(encoding.event, encoding.body(problem));
        if (encoding.trailer != null) sse.send(encoding.event, encoding.trailer);
        sse.close();
        return reply;
    }
}
