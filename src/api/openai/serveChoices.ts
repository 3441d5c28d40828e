import type {FastifyReply, FastifyRequest} from "fastify";
import type {ChatHooks, ChatJob, ChatResult, ChatService} from "../../service/chatService.js";
import {disconnectSignal, SseStream, streamOrThrow} from "../../http/sse.js";
import {openAiErrorBody} from "../../http/openAiErrorBody.js";
import type {CompletionIdentity} from "./openaiCommon.js";

/** How one OpenAI endpoint writes its answer: the JSON body, or the stream's chunks. */
export interface ChoiceWriter<Body> {
    /** Shared by the body and every chunk; its fingerprint is filled in once the model holds a sequence. */
    identity: CompletionIdentity;
    /** The body without `stream`. */
    body(results: ChatResult[]): Body;
    /** Streaming: the chunks that open the stream (each choice's role chunk, an echoed prompt). */
    opening(): unknown[];
    /** Streaming: the chunks of one hook call of the service (text, a tool call piece, a choice's end). */
    hooks(send: (chunk: unknown) => void): Omit<ChatHooks, "onStart">;
    /** Streaming: the chunks after every choice ended (usage, when asked for). */
    closing(results: ChatResult[]): unknown[];
    /** The completion log line's message, and what it says besides the common figures. */
    logMessage: string;
    logDetails(results: ChatResult[]): Record<string, unknown>;
}

/**
 * Runs a job through the chat service and answers OpenAI's way: a JSON body, or (streaming) data-
 * only SSE chunks ending with [DONE]. The stream opens once a sequence is leased, so every error
 * before that gets a real status; one after it is sent as an `error` chunk (which OpenAI's SDKs
 * raise), then [DONE] as vLLM ends it. A choice the worker cut short (a forced unload) gets no
 * finish chunk: "stop" would tell the client the answer was whole.
 */
export async function serveChoices<Body>(
    request: FastifyRequest, reply: FastifyReply, chat: ChatService, job: Omit<ChatJob, "signal">, stream: boolean, writer: ChoiceWriter<Body>,
    promptField: string
): Promise<Body | FastifyReply> {
    const sse = stream ? new SseStream(reply) : null;
    const send = (chunk: unknown) => sse?.send(null, chunk);
    const errors = {event: null, body: openAiErrorBody, trailer: "[DONE]", promptField, openAiWording: true, logMessage: "completion stream failed"};
    return streamOrThrow(request, reply, sse, errors, async () => {
        const hooks = sse != null ? writer.hooks(send) : {};
        const results = await chat.chatChoices({...job, signal: disconnectSignal(reply)}, {
            ...hooks,
            onChoiceEnd: (result, choice) => {
                if (result.interruption == null) hooks.onChoiceEnd?.(result, choice);
            },
            onStart: () => {
                writer.identity.system_fingerprint = chat.engineInfo(job.model).fingerprint;
                if (sse == null) return;
                sse.open();
                for (const chunk of writer.opening()) send(chunk);
            }
        });
        const first = results[0];
        request.log.info({
            choices: results.length, finishReason: first.finishReason,
            ...(results.length > 1 ? {finishReasons: results.map((result) => result.finishReason)} : {}),
            promptTokens: first.usage.promptTokens, cachedTokens: first.usage.cachedTokens,
            completionTokens: results.reduce((sum, result) => sum + result.usage.completionTokens, 0),
            historyDropped: first.historyDropped, grammar: job.params.grammar?.type, queueSeconds: first.queueSeconds,
            generationSeconds: Math.max(...results.map((result) => result.generationSeconds)), stream: sse != null,
            ...writer.logDetails(results)
        }, writer.logMessage);
        // OpenAI has no finish reason for "the server took the model away": that is an error.
        const interruption = results.find((result) => result.interruption != null)?.interruption;
        if (interruption != null)
            throw interruption;
        if (sse == null)
            return writer.body(results);
        for (const chunk of writer.closing(results)) send(chunk);
        send("[DONE]");
        sse.close();
        return reply;
    });
}
