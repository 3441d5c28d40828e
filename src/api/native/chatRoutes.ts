import type {FastifyInstance, FastifyReply, FastifyRequest} from "fastify";
import {Type} from "@sinclair/typebox";
import type {TypeBoxTypeProvider} from "@fastify/type-provider-typebox";
import type {Config} from "../../config/config.js";
import type {ChatService} from "../../service/chatService.js";
import {
    chatRequestSchema, chatResponseSchema, debugPromptResponseSchema, messagesChatResponseSchema, type ChatRequestBody, type DebugPromptResponseBody
} from "./chatSchemas.js";
import {samplingParams} from "../../service/requestShaping.js";
import {logprobEntries} from "../../http/logprobEntries.js";
import {disconnectSignal, SseStream, streamOrThrow, wantsStream, type StreamErrorEncoding} from "../../http/sse.js";
import {nativeErrorBody} from "../../http/errorHandler.js";
import {chatInput, chatResponse, systemPromptUsed} from "./nativeChat.js";
import {callerModelInfo, chatShape, messagesChatResponse, messagesInput, systemMessage} from "./messagesShapeAdapter.js";

/** A failure after the stream opened: an `error` event with the native envelope. */
const STREAM_ERRORS: StreamErrorEncoding = {event: "error", body: nativeErrorBody, logMessage: "chat stream failed"};

export interface ChatRouteDeps {
    config: Config;
    chat: ChatService;
}

/**
 * POST /chat, POST /generate (the later callers' name for it) and POST /chat/debug/system-prompt:
 * thin handlers over the chat service, for the v2.0 shape and the `messages` shape alike.
 */
export async function chatRoutes(app: FastifyInstance, {config, chat}: ChatRouteDeps): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    const body = chatRequestSchema(config);

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const received = performance.now();
        const body = request.body as ChatRequestBody;
        const shape = chatShape(body);
        const sse = wantsStream(body.stream, request.headers.accept) ? new SseStream(reply) : null;
        return streamOrThrow(request, reply, sse, STREAM_ERRORS, async () => {
            const result = await chat.chat({
                model: body.model ?? null,
                input: shape.kind === "v2" ? chatInput(shape.body) : messagesInput(shape.body.messages),
                params: samplingParams(body, config.defaultMaxTokens),
                conversationId: body.conversation_id ?? null,
                signal: disconnectSignal(reply),
                sfwMode: body.sfw_mode === true
            }, {
                onStart: () => sse?.open(),
                onText: sse != null
                    ? (text, logprobs) => sse.send("token", logprobs != null ? {text, logprobs: {content: logprobEntries(logprobs)}} : {text})
                    : undefined
            });
            const seconds = (performance.now() - received) / 1000;
            const loaded = chat.engineStatus(result.model).state === "ready";
            const response = shape.kind === "v2"
                ? chatResponse(shape.body, result, {model_name: result.model, model_loaded: loaded}, seconds)
                : messagesChatResponse(shape.body, result, callerModelInfo(chat.engineInfo(result.model), loaded), seconds);
            request.log.info({
                shape: shape.kind, model: result.model, conversationId: body.conversation_id, finishReason: result.finishReason,
                promptTokens: result.usage.promptTokens, cachedTokens: result.usage.cachedTokens,
                completionTokens: result.usage.completionTokens, historyDropped: result.historyDropped,
                queueSeconds: result.queueSeconds, generationSeconds: result.generationSeconds, stream: sse != null,
                messageChars: shape.kind === "v2" ? shape.body.message.length : shape.body.messages.reduce((sum, m) => sum + m.content.length, 0),
                responseChars: result.text.length, sfwMode: body.sfw_mode === true,
                // Prompt and response text only when the operator opted in (LOG_PROMPTS=true).
                ...(config.logPrompts ? {
                    ...(shape.kind === "v2" ? {systemPrompt: systemPromptUsed(shape.body), message: shape.body.message} : {messages: shape.body.messages}),
                    response: result.text
                } : {})
            }, "chat completed");
            if (sse == null)
                return response;
            sse.send("done", response);
            sse.close();
            return reply;
        });
    };
    const response = {200: Type.Union([chatResponseSchema, messagesChatResponseSchema])};
    typed.post("/chat", {
        schema: {summary: "Chat with the model: the v2.0 shape (message, system_prompt, conversation_history) or the messages shape; JSON or Server-Sent Events (stream: true).",
            body, response}
    }, handler);
    typed.post("/generate", {
        schema: {summary: "The later callers' name for /chat: the same handler, either shape.", body, response}
    }, handler);

    typed.post("/chat/debug/system-prompt", {
        schema: {summary: "The exact prompt /chat would run (either shape, with `model`), rendered by the model's template; no generation.", body,
            response: {200: debugPromptResponseSchema}}
    }, async (request): Promise<DebugPromptResponseBody> => {
        const body = request.body as ChatRequestBody;
        const shape = chatShape(body);
        const params = samplingParams(body, config.defaultMaxTokens);
        const model = body.model ?? null;
        const input = shape.kind === "v2" ? chatInput(shape.body) : messagesInput(shape.body.messages);
        const prepared = await chat.prepare(input, params.maxTokens, undefined, model);
        const received = shape.kind === "v2" ? shape.body.system_prompt ?? null : systemMessage(shape.body.messages);
        const used = shape.kind === "v2" ? systemPromptUsed(shape.body) : received;
        const info = chat.engineInfo(model);
        const upstream = info.engine === "openai";
        return {
            success: true,
            model: info.modelName,
            system_prompt_received: received,
            system_prompt_used: used,
            messages_built: prepared.prompt.messages.map(({role, content}) => ({role, content})),
            rendered_prompt: prepared.prompt.text,
            prompt_tokens: prepared.prompt.tokenCount,
            rendered_by: upstream ? "upstream" : "embedded_engine",
            rendering_note: prepared.prompt.text != null ? null
                : "Rendering is the upstream's: it applies its own chat template to messages_built and exposes no " +
                  "template endpoint (POST /apply-template or /tokenize), so the exact prompt and its token count are not known here.",
            history_truncated: prepared.historyDropped,
            // Without a system message nothing may appear in the system message that the caller did not send.
            no_override_detected: used == null
                ? prepared.prompt.messages.every((message) => message.role !== "system")
                : received === used && await chat.systemPromptInTemplate(prepared.prompt, used, model),
            pure_inference_mode: true
        };
    });
}
