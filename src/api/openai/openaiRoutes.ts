import type {FastifyInstance} from "fastify";
import type {TypeBoxTypeProvider} from "@fastify/type-provider-typebox";
import type {Config} from "../../config/config.js";
import {WorkerError} from "../../errors.js";
import type {ChatService} from "../../service/chatService.js";
import type {EmbeddingService} from "../../service/embeddingService.js";
import {embeddingRoutes} from "./embeddingRoutes.js";
import {
    applyTemplateRequestSchema, applyTemplateResponseSchema, chatCompletionRequestSchema, chatCompletionSchema, modelListSchema,
    modelObjectSchema, type ApplyTemplateRequest, type ApplyTemplateResponse, type ChatCompletionRequest, type ModelList,
    type ModelObject
} from "./openaiSchemas.js";
import {completionRequestSchema, completionSchema, type CompletionRequest} from "./completionSchemas.js";
import {chatCompletion, chatCompletionChunk, openAiFinishReason, toOpenAiChatJob, toolCallDelta, usageChunk} from "./openaiChat.js";
import {completion, completionChunk, completionLogprobs, completionUsageChunk, toCompletionJob} from "./openaiCompletions.js";
import {newCompletionIdentity, type OpenAiLimits} from "./openaiCommon.js";
import {toChatMessages, toToolSet} from "./openaiMessages.js";
import {serveChoices} from "./serveChoices.js";

export interface OpenAiRouteDeps {
    config: Config;
    chat: ChatService;
    /** Serves POST /v1/embeddings; absent (apps built without one), the route is not there. */
    embeddings?: EmbeddingService;
}

/**
 * The routes under /v1 (registered with that prefix, see openaiApi.ts): a translation layer onto
 * the same ChatService as /chat (as Ollama does it), not a second pipeline.
 */
export async function v1Routes(app: FastifyInstance, {config, chat, embeddings}: OpenAiRouteDeps): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    const startedAt = Math.floor(Date.now() / 1000);
    const limits: OpenAiLimits = {defaultMaxTokens: config.defaultMaxTokens, maxChoices: Math.min(config.maxN, config.parallel)};

    // Every served model, embedding models included (models of any kind, hence resolve without one).
    const modelObject = (name: string): ModelObject => {
        const info = chat.models.resolve(name).engine.info();
        return {
            id: name, object: "model", created: startedAt,
            owned_by: info.engine === "openai" ? "upstream" : "chat-worker", max_model_len: info.contextSize
        };
    };

    typed.get("/models", {schema: {summary: "Every served model (OpenAI's model list).", response: {200: modelListSchema}}},
        async (): Promise<ModelList> => ({object: "list", data: chat.models.names().map(modelObject)}));

    // A wildcard, because model ids such as "Qwen/Qwen2.5-7B-Instruct" contain slashes.
    typed.get("/models/*", {schema: {summary: "One model by id.", response: {200: modelObjectSchema}}}, async (request): Promise<ModelObject> => {
        const id = decodeURIComponent((request.params as {"*": string})["*"]);
        const names = chat.models.names();
        if (!names.includes(id))
            throw new WorkerError("not_found", "model_not_found",
                `model: ${JSON.stringify(id)} does not exist; this worker serves ${names.map((name) => JSON.stringify(name)).join(", ")}`, {param: "model"});
        return modelObject(id);
    });

    if (embeddings != null)
        await embeddingRoutes(app, embeddings, {maxInputs: config.embeddingMaxInputs});

    typed.post("/chat/completions", {
        schema: {summary: "OpenAI chat completions (tools, n, logprobs) on the same chat service as /chat, JSON or SSE chunks (stream: true).",
            body: chatCompletionRequestSchema(config), response: {200: chatCompletionSchema}}
    }, async (request, reply) => {
        const body = request.body as ChatCompletionRequest;
        const job = toOpenAiChatJob(body, limits);
        const identity = newCompletionIdentity(chat.model(body.model).name);
        const chunk = chatCompletionChunk.bind(null, identity);
        // Each choice's first chunk carries the role, as OpenAI's do: `content: ""` before text,
        // `content: null` with the first piece of a tool call (which has no text to begin).
        const roleSent = new Array<boolean>(job.n).fill(false);
        const role = (choice: number, send: (chunk: unknown) => void) => {
            if (roleSent[choice]) return;
            roleSent[choice] = true;
            send(chunk(choice, {role: "assistant", content: ""}, null, job.includeUsage));
        };
        return serveChoices(request, reply, chat, {model: body.model, input: job.input, params: job.params, tools: job.tools, n: job.n, conversationId: null,
            sfwMode: body.sfw_mode === true},
            job.stream, {
                identity,
                body: (results) => chatCompletion(identity, results),
                opening: () => [],
                hooks: (send) => ({
                    onText: (text, logprobs, choice) => {
                        role(choice, send);
                        send(chunk(choice, {content: text}, null, job.includeUsage, logprobs));
                    },
                    onToolCall: (event, choice) => {
                        const first = !roleSent[choice];
                        roleSent[choice] = true;
                        send(chunk(choice, {...(first ? {role: "assistant" as const, content: null} : {}), tool_calls: [toolCallDelta(event)]}, null,
                            job.includeUsage));
                    },
                    onChoiceEnd: (result, choice) => {
                        role(choice, send);
                        send(chunk(choice, {}, openAiFinishReason(result.finishReason), job.includeUsage));
                    }
                }),
                closing: (results) => job.includeUsage ? [usageChunk(identity, results)] : [],
                logMessage: "chat completion completed",
                logDetails: (results) => ({
                    completionId: identity.id, user: body.user, requestedModel: body.model,
                    tools: job.tools?.functions.length ?? 0, toolCalls: results.reduce((sum, result) => sum + result.toolCalls.length, 0)
                })
            }, "messages");
    });

    typed.post("/completions", {
        // A prompt too long for the context is blamed on `prompt` here (`messages` elsewhere under /v1).
        config: {promptField: "prompt"},
        schema: {summary: "OpenAI's legacy completions: a raw prompt (no chat template), same queue, cache and limits as chat.",
            body: completionRequestSchema(config), response: {200: completionSchema}}
    }, async (request, reply) => {
        const body = request.body as CompletionRequest;
        const job = toCompletionJob(body, limits);
        const identity = newCompletionIdentity(chat.model(body.model).name, "cmpl");
        const chunk = completionChunk.bind(null, identity);
        // Each choice's text offsets count from the start of its text (the echoed prompt included).
        const offsets = new Array<number>(job.n).fill(job.echo ? job.input.raw.length : 0);
        return serveChoices(request, reply, chat, {model: body.model, input: job.input, params: job.params, n: job.n, conversationId: null,
            sfwMode: body.sfw_mode === true}, job.stream, {
            identity,
            body: (results) => completion(identity, job, results),
            opening: () => job.echo ? Array.from({length: job.n}, (_, choice) => chunk(choice, job.input.raw, null, job.includeUsage)) : [],
            hooks: (send) => ({
                onText: (text, logprobs, choice) => {
                    send(chunk(choice, text, null, job.includeUsage, completionLogprobs(logprobs, offsets[choice])));
                    offsets[choice] += text.length;
                },
                onChoiceEnd: (result, choice) =>
                    send(chunk(choice, "", openAiFinishReason(result.finishReason) === "length" ? "length" : "stop", job.includeUsage))
            }),
            closing: (results) => job.includeUsage ? [completionUsageChunk(identity, results)] : [],
            logMessage: "completion completed",
            logDetails: () => ({completionId: identity.id, user: body.user, requestedModel: body.model, echo: job.echo})
        }, "prompt");
    });
}

/**
 * llama-server's template endpoint: a worker with ENGINE=openai in front of this one renders its
 * debug prompt and counts tokens for context fitting with it (tools included). Registered with the
 * prefix /apply-template (hence the empty path), so its errors and 404s are OpenAI's too.
 */
export async function applyTemplateRoute(app: FastifyInstance, {config, chat}: OpenAiRouteDeps): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    typed.post("", {
        schema: {summary: "llama-server's template endpoint: messages rendered with the model's chat template.",
            body: applyTemplateRequestSchema(config), response: {200: applyTemplateResponseSchema}}
    }, async (request): Promise<ApplyTemplateResponse> => {
        const body = request.body as ApplyTemplateRequest;
        const prompt = await chat.render(toChatMessages(body.messages), toToolSet({tools: body.tools, tool_choice: "none"}), undefined, body.model);
        return {prompt: prompt.text, prompt_tokens: prompt.tokenCount};
    });
}
