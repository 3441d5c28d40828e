import type {FastifyInstance} from "fastify";
import type {TypeBoxTypeProvider} from "@fastify/type-provider-typebox";
import type {Config} from "../../config/config.js";
import type {ChatService} from "../../service/chatService.js";
import {
    chatRequestSchema, chatResponseSchema, debugPromptResponseSchema, type ChatRequestBody, type DebugPromptResponseBody
} from "../../protocol/native.js";
import {chatInput, chatResponse, logprobEntries, samplingParams, systemPromptUsed} from "../adapters/nativeChat.js";
import {disconnectSignal, SseStream, wantsStream} from "../adapters/sse.js";
import {nativeErrorBody} from "../adapters/envelopes.js";
import {toProblem} from "../adapters/errorMapping.js";

export interface ChatRouteDeps {
    config: Config;
    chat: ChatService;
}

/** POST /chat and POST /chat/debug/system-prompt: thin handlers over the chat service. */
export async function chatRoutes(app: FastifyInstance, {config, chat}: ChatRouteDeps): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    const body = chatRequestSchema(config);
    const modelInfo = () => ({model_name: chat.engineInfo().modelName, model_loaded: chat.engineStatus().state === "ready"});

    typed.post("/chat", {
        schema: {summary: "Chat with the model: the original contract, JSON or Server-Sent Events (stream: true).", body,
            response: {200: chatResponseSchema}}
    }, async (request, reply) => {
        const received = performance.now();
        const body = request.body as ChatRequestBody;
        const sse = wantsStream(body.stream, request.headers.accept) ? new SseStream(reply) : null;
        try {
            const result = await chat.chat({
                input: chatInput(body),
                params: samplingParams(body, config.defaultMaxTokens),
                conversationId: body.conversation_id ?? null,
                signal: disconnectSignal(reply)
            }, {
                onStart: () => sse?.open(),
                onText: sse != null
                    ? (text, logprobs) => sse.send("token", logprobs != null ? {text, logprobs: {content: logprobEntries(logprobs)}} : {text})
                    : undefined
            });
            const response = chatResponse(body, result, modelInfo(), (performance.now() - received) / 1000);
            request.log.info({
                conversationId: body.conversation_id, finishReason: result.finishReason,
                promptTokens: result.usage.promptTokens, cachedTokens: result.usage.cachedTokens,
                completionTokens: result.usage.completionTokens, historyDropped: result.historyDropped,
                queueSeconds: result.queueSeconds, generationSeconds: result.generationSeconds, stream: sse != null,
                messageChars: body.message.length, responseChars: result.text.length,
                // Prompt and response text only when the operator opted in (LOG_PROMPTS=true).
                ...(config.logPrompts ? {systemPrompt: result.prompt.messages.find((m) => m.role === "system")?.content,
                    message: body.message, response: result.text} : {})
            }, "chat completed");
            if (sse == null)
                return response;
            sse.send("done", response);
            sse.close();
            return reply;
        } catch (err) {
            if (sse?.isOpen) {
                // Headers are gone: the failure becomes an event in the stream.
                const problem = toProblem(err);
                request.log.warn({code: problem.code, status: problem.status}, "chat stream failed");
                sse.send("error", nativeErrorBody(problem));
                sse.close();
                return reply;
            }
            throw err;
        }
    });

    typed.post("/chat/debug/system-prompt", {
        schema: {summary: "The exact prompt /chat would run, rendered by the model's template; no generation.", body,
            response: {200: debugPromptResponseSchema}}
    }, async (request): Promise<DebugPromptResponseBody> => {
        const body = request.body as ChatRequestBody;
        const params = samplingParams(body, config.defaultMaxTokens);
        const prepared = await chat.prepare(chatInput(body), params.maxTokens);
        const used = systemPromptUsed(body);
        const received = body.system_prompt ?? null;
        const upstream = chat.engineInfo().engine === "openai";
        return {
            success: true,
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
            no_override_detected: received === used && await chat.systemPromptInSlot(prepared.prompt, used),
            pure_inference_mode: true
        };
    });
}
