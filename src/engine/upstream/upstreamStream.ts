import {MalformedChunkError} from "../../errors.js";
import type {FinishReason, TokenLogprob, ToolCallEvent, TopLogprob} from "../types.js";

/**
 * Reading an OpenAI-style chat completion stream: Server-Sent Events whose data lines carry
 * `chat.completion.chunk` JSON, ending with `data: [DONE]`.
 */

/**
 * Yields the data of each complete event. `onBytes` is called for every network read, so a caller's
 * watchdog measures silence, not the length of the generation. An event cut off by the end of the
 * stream is dropped, as the SSE spec says.
 */
export async function* sseData(body: ReadableStream<Uint8Array>, onBytes: () => void): AsyncGenerator<string> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
        for (;;) {
            const {done, value} = await reader.read();
            if (done) break;
            onBytes();
            buffer = normalizeNewlines(buffer + decoder.decode(value, {stream: true}));
            let end: number;
            while ((end = buffer.indexOf("\n\n")) !== -1) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                const data = block.split("\n")
                    .filter((line) => line.startsWith("data:"))
                    .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5));
                // Comment lines (": ping") and data-less events are keep-alives.
                if (data.length > 0)
                    yield data.join("\n");
            }
        }
    } finally {
        // Cancelling tells fetch to drop the connection if we stop before the end.
        await reader.cancel().catch(() => undefined);
        reader.releaseLock();
    }
}

/** CRLF and CR line ends become LF; a CR at the very end waits, since its LF may be in the next read. */
function normalizeNewlines(text: string): string {
    const held = text.endsWith("\r");
    const body = (held ? text.slice(0, -1) : text).replace(/\r\n?/g, "\n");
    return held ? `${body}\r` : body;
}

export interface UpstreamUsage {
    promptTokens: number;
    completionTokens: number;
    cachedTokens: number;
}

/** What one chunk (or a whole non-streamed completion) says. */
export interface ParsedChunk {
    text: string;
    finishReason: FinishReason | null;
    usage: UpstreamUsage | null;
    /** `choices[0].logprobs.content` (or a completion's token lists), when the upstream sent logprobs. */
    logprobs: TokenLogprob[] | null;
    /** Pieces of tool calls (`delta.tool_calls`, or a whole message's `tool_calls`). */
    toolCalls: ToolCallEvent[];
    /** An `error` object in the stream: the upstream failed after it had started answering. */
    error: {message: string; status: number | null; code: string | null} | null;
}


/** OpenAI's error types and the statuses they stand for (an error sent in a stream has no status of its own). */
const STATUS_BY_ERROR_TYPE: Record<string, number> = {
    invalid_request_error: 400,
    authentication_error: 401,
    permission_error: 403,
    not_found_error: 404,
    rate_limit_error: 429
};

/** Interprets one chunk; throws MalformedChunkError when it is not a chat completion chunk. */
export function parseChunk(data: string, streamed = true): ParsedChunk {
    let json: unknown;
    try {
        json = JSON.parse(data);
    } catch {
        throw new MalformedChunkError(`an event that is not JSON (${JSON.stringify(data.slice(0, 80))})`);
    }
    if (typeof json !== "object" || json == null || Array.isArray(json))
        throw new MalformedChunkError("an event that is not a JSON object");
    const record = json as Record<string, unknown>;
    if (record.error != null) {
        const error = record.error as {message?: unknown; code?: unknown; type?: unknown} | string;
        const message = typeof error === "string" ? error : typeof error.message === "string" ? error.message : JSON.stringify(error);
        // llama-server puts the HTTP status in `code`; OpenAI-style envelopes say it with `type`.
        const status = typeof error === "object" && typeof error.code === "number" ? error.code
            : typeof error === "object" && typeof error.type === "string" ? STATUS_BY_ERROR_TYPE[error.type] ?? null : null;
        const code = typeof error === "object" && typeof error.code === "string" ? error.code : null;
        return {text: "", finishReason: null, usage: null, logprobs: null, toolCalls: [], error: {message, status, code}};
    }
    const choices = record.choices;
    if (!Array.isArray(choices))
        throw new MalformedChunkError("a chunk without a choices array");
    const choice = choices[0] as {
        delta?: {content?: unknown; tool_calls?: unknown}; message?: {content?: unknown; tool_calls?: unknown}; text?: unknown;
        finish_reason?: unknown; logprobs?: {content?: unknown; tokens?: unknown} | null;
    } | undefined;
    // A completion's choice carries `text`; a chat completion's a delta (streamed) or a message.
    const completion = choice != null && typeof choice === "object" && "text" in choice;
    if (choice != null && !completion && (typeof choice !== "object" || (streamed ? choice.delta : choice.message) == null) &&
        choice.finish_reason == null)
        throw new MalformedChunkError(`a choice without ${streamed ? "delta" : "message"}`);
    const part = streamed ? choice?.delta : choice?.message;
    const content = completion ? choice?.text : part?.content;
    if (content != null && typeof content !== "string")
        throw new MalformedChunkError("content that is not a string");
    return {
        text: content ?? "",
        finishReason: finishReasonOf(choice?.finish_reason),
        usage: usageOf(record.usage),
        logprobs: completion ? completionLogprobsOf(choice?.logprobs) : logprobsOf(choice?.logprobs?.content),
        toolCalls: toolCallsOf(part?.tool_calls),
        error: null
    };
}

function toolCallsOf(calls: unknown): ToolCallEvent[] {
    if (calls == null) return [];
    if (!Array.isArray(calls)) throw new MalformedChunkError("tool_calls that is not an array");
    return calls.map((call, position): ToolCallEvent => {
        const {index, id, function: fn} = (call ?? {}) as {index?: unknown; id?: unknown; function?: {name?: unknown; arguments?: unknown}};
        const name = fn?.name;
        const args = fn?.arguments;
        if ((name != null && typeof name !== "string") || (args != null && typeof args !== "string") || (id != null && typeof id !== "string"))
            throw new MalformedChunkError("a tool call whose id, name or arguments is not a string");
        return {
            type: "tool_call", index: typeof index === "number" ? index : position,
            ...(typeof id === "string" ? {id} : {}), ...(typeof name === "string" ? {name} : {}), arguments: args ?? ""
        };
    });
}

/** A completion's logprobs: parallel lists of tokens, their logprobs and {token: logprob} alternatives. */
function completionLogprobsOf(logprobs: unknown): TokenLogprob[] | null {
    const {tokens, token_logprobs: values, top_logprobs: tops} = (logprobs ?? {}) as {tokens?: unknown; token_logprobs?: unknown; top_logprobs?: unknown};
    if (!Array.isArray(tokens) || !Array.isArray(values)) return null;
    return tokens.map((token, index): TokenLogprob => {
        const logprob = values[index];
        if (typeof token !== "string" || typeof logprob !== "number")
            throw new MalformedChunkError("a logprobs entry without token and logprob");
        const top = Array.isArray(tops) ? tops[index] as Record<string, unknown> | null : null;
        return {
            token, logprob, bytes: [...Buffer.from(token, "utf8")],
            topLogprobs: Object.entries(top ?? {}).filter((entry): entry is [string, number] => typeof entry[1] === "number")
                .map(([alternative, value]) => ({token: alternative, logprob: value, bytes: [...Buffer.from(alternative, "utf8")]}))
        };
    });
}

function logprobsOf(content: unknown): TokenLogprob[] | null {
    if (!Array.isArray(content)) return null;
    return content.map((item): TokenLogprob => {
        const entry = topLogprobOf(item);
        const top = (item as {top_logprobs?: unknown}).top_logprobs;
        return {...entry, topLogprobs: Array.isArray(top) ? top.map(topLogprobOf) : []};
    });
}

function topLogprobOf(item: unknown): TopLogprob {
    const {token, logprob, bytes} = (item ?? {}) as {token?: unknown; logprob?: unknown; bytes?: unknown};
    if (typeof token !== "string" || typeof logprob !== "number")
        throw new MalformedChunkError("a logprobs entry without token and logprob");
    return {
        token, logprob,
        bytes: Array.isArray(bytes) && bytes.every((byte) => typeof byte === "number") ? bytes as number[] : [...Buffer.from(token, "utf8")]
    };
}

function finishReasonOf(value: unknown): FinishReason | null {
    if (value == null) return null;
    if (value === "length") return "length";
    if (value === "abort") return "abort";
    if (value === "tool_calls") return "tool_calls";
    // "stop", "eos", "content_filter": the model (or the upstream) ended the answer.
    return "stop";
}

function usageOf(value: unknown): UpstreamUsage | null {
    if (typeof value !== "object" || value == null) return null;
    const usage = value as {prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: {cached_tokens?: unknown} | null};
    if (typeof usage.prompt_tokens !== "number" || typeof usage.completion_tokens !== "number") return null;
    const cached = usage.prompt_tokens_details?.cached_tokens;
    return {
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
        cachedTokens: typeof cached === "number" ? cached : 0
    };
}
