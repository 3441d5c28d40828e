import type {FastifyInstance} from "fastify";
import type {TypeBoxTypeProvider} from "@fastify/type-provider-typebox";
import type {Config} from "../../config/config.js";
import {WorkerError} from "../../errors.js";
import type {ChatService} from "../../service/chatService.js";
import {
    applyTemplateRequestSchema, applyTemplateResponseSchema, chatCompletionRequestSchema, chatCompletionSchema, modelListSchema,
    modelObjectSchema, type ApplyTemplateRequest, type ApplyTemplateResponse, type ChatCompletionRequest, type ModelList,
    type ModelObject
} from "../../protocol/openai.js";
import {
    chatCompletion, chatCompletionChunk, ignoredFields, newCompletionIdentity, openAiFinishReason, toChatMessages,
    toOpenAiChatJob, usageChunk
} from "../adapters/openaiChat.js";
import {disconnectSignal, SseStream} from "../adapters/sse.js";
import {openAiErrorBody} from "../adapters/envelopes.js";
import {toProblem} from "../adapters/errorMapping.js";

export interface OpenAiRouteDeps {
    config: Config;
    chat: ChatService;
}

/**
 * The OpenAI-compatible API: a translation layer onto the same ChatService as /chat (as Ollama
 * does it), not a second pipeline. Errors use OpenAI's envelope (see app.ts).
 */
export async function openAiRoutes(app: FastifyInstance, {config, chat}: OpenAiRouteDeps): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    const startedAt = Math.floor(Date.now() / 1000);

    const modelObject = (name: string): ModelObject => {
        const info = chat.engineInfo(name);
        return {
            id: name, object: "model", created: startedAt,
            owned_by: info.engine === "openai" ? "upstream" : "chat-worker", max_model_len: info.contextSize
        };
    };

    typed.get("/v1/models", {schema: {summary: "Every served model (OpenAI's model list).", response: {200: modelListSchema}}},
        async (): Promise<ModelList> => ({object: "list", data: chat.models.names().map(modelObject)}));

    // A wildcard, because model ids such as "Qwen/Qwen2.5-7B-Instruct" contain slashes.
    typed.get("/v1/models/*", {schema: {summary: "One model by id.", response: {200: modelObjectSchema}}}, async (request): Promise<ModelObject> => {
        const id = decodeURIComponent((request.params as {"*": string})["*"]);
        const names = chat.models.names();
        if (!names.includes(id))
            throw new WorkerError("not_found", "model_not_found",
                `model: ${JSON.stringify(id)} does not exist; this worker serves ${names.map((name) => JSON.stringify(name)).join(", ")}`, {param: "model"});
        return modelObject(id);
    });

    typed.post("/v1/chat/completions", {
        schema: {summary: "OpenAI chat completions on the same chat service as /chat, JSON or SSE chunks (stream: true).",
            body: chatCompletionRequestSchema(config), response: {200: chatCompletionSchema}}
    }, async (request, reply) => {
        const body = request.body as ChatCompletionRequest;
        const job = toOpenAiChatJob(body, config.defaultMaxTokens);
        const ignored = ignoredFields(body);
        if (ignored.length > 0)
            request.log.info({ignoredFields: ignored}, "accepted OpenAI fields the worker does not act on");
        const identity = newCompletionIdentity(chat.model(body.model).name);
        const sse = job.stream ? new SseStream(reply) : null;
        const send = (data: unknown) => sse?.send(null, data);
        try {
            const result = await chat.chat({
                model: body.model, input: job.input, params: job.params, conversationId: null, signal: disconnectSignal(reply)
            }, {
                onStart: sse != null ? () => {
                    sse.open();
                    send(chatCompletionChunk(identity, {role: "assistant", content: ""}, null, job.includeUsage));
                } : undefined,
                onText: sse != null
                    ? (text, logprobs) => send(chatCompletionChunk(identity, {content: text}, null, job.includeUsage, logprobs))
                    : undefined
            });
            request.log.info({
                completionId: identity.id, user: body.user, requestedModel: body.model, finishReason: result.finishReason,
                promptTokens: result.usage.promptTokens, cachedTokens: result.usage.cachedTokens,
                completionTokens: result.usage.completionTokens, historyDropped: result.historyDropped,
                grammar: job.params.grammar?.type, queueSeconds: result.queueSeconds,
                generationSeconds: result.generationSeconds, stream: sse != null
            }, "chat completion completed");
            // OpenAI has no finish reason for "the server took the model away": that is an error.
            if (result.interruption != null)
                throw result.interruption;
            if (sse == null)
                return chatCompletion(identity, result);
            send(chatCompletionChunk(identity, {}, openAiFinishReason(result.finishReason), job.includeUsage));
            if (job.includeUsage)
                send(usageChunk(identity, result.usage));
            send("[DONE]");
            sse.close();
            return reply;
        } catch (err) {
            if (sse?.isOpen) {
                // Headers are gone: OpenAI's SDKs read an `error` object in a data event as the failure.
                const problem = toProblem(err, "messages");
                request.log.warn({code: problem.code, status: problem.status}, "chat completion stream failed");
                send(openAiErrorBody(problem));
                sse.close();
                return reply;
            }
            throw err;
        }
    });

    // llama-server's template endpoint: a worker with ENGINE=openai in front of this one renders its
    // debug prompt and counts tokens for context fitting with it.
    typed.post("/apply-template", {
        schema: {summary: "llama-server's template endpoint: messages rendered with the model's chat template.",
            body: applyTemplateRequestSchema(config), response: {200: applyTemplateResponseSchema}}
    }, async (request): Promise<ApplyTemplateResponse> => {
        const body = request.body as ApplyTemplateRequest;
        const prompt = await chat.render(toChatMessages(body.messages));
        return {prompt: prompt.text, prompt_tokens: prompt.tokenCount};
    });
}
