import {randomUUID} from "node:crypto";
import type {FastifyInstance} from "fastify";
import type {TypeBoxTypeProvider} from "@fastify/type-provider-typebox";
import {Type} from "@sinclair/typebox";
import type {Config} from "../../config/config.js";
import {WorkerError} from "../../errors.js";
import type {ChatService} from "../../service/chatService.js";
import type {Problem} from "../../http/errorMapping.js";
import {disconnectSignal, SseStream, streamOrThrow} from "../../http/sse.js";
import {ResponseBuilder, newId} from "./responseBuilder.js";
import {ResponseStore} from "./responseStore.js";
import {toResponsesJob} from "./responsesJob.js";
import {responseObjectSchema, responsesRequestSchema, type ResponseObject, type ResponsesRequest} from "./responsesSchemas.js";

export interface ResponsesDeps {
    config: Config;
    chat: ChatService;
}

function notFound(id: string, param: string | null): WorkerError {
    return new WorkerError("not_found", "response_not_found",
        `${param != null ? `${param}: ` : ""}no stored response has the id ${JSON.stringify(id)} (responses are kept in memory for a while, and only with store)`,
        param != null ? {param} : {});
}

/**
 * OpenAI's Responses API under /v1/responses (registered with that prefix): one more adapter onto
 * the same ChatService. A stored response keeps its conversation, and the chain's conversation id,
 * so a follow-up (`previous_response_id`) resumes the sequence the earlier turn left in the cache.
 */
export async function responsesRoutes(app: FastifyInstance, {config, chat}: ResponsesDeps): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    const store = new ResponseStore();

    typed.post("", {
        config: {promptField: "input"},
        schema: {summary: "OpenAI's Responses API (function tools, text.format, previous_response_id), JSON or its SSE events (stream: true).",
            body: responsesRequestSchema(config), response: {200: responseObjectSchema}}
    }, async (request, reply) => {
        const body = request.body as ResponsesRequest;
        const earlier = body.previous_response_id != null ? store.get(body.previous_response_id) : null;
        if (body.previous_response_id != null && earlier == null)
            throw notFound(body.previous_response_id, "previous_response_id");
        const job = toResponsesJob(body, earlier?.items ?? [], config.defaultMaxTokens, (id) => store.item(id));
        const conversationId = earlier?.conversationId ?? (job.store ? randomUUID() : null);
        const response: ResponseObject = {
            id: newId("resp"), object: "response", created_at: Math.floor(Date.now() / 1000), completed_at: null, status: "in_progress",
            error: null, incomplete_details: null, instructions: body.instructions ?? null, max_output_tokens: job.params.maxTokens,
            model: chat.model(body.model).name, output: [], parallel_tool_calls: body.parallel_tool_calls ?? true,
            previous_response_id: body.previous_response_id ?? null, store: job.store, temperature: job.params.temperature,
            top_p: job.params.topP, text: {format: body.text?.format ?? {type: "text"}}, tool_choice: body.tool_choice ?? "auto",
            tools: body.tools ?? [], truncation: "auto", usage: null, user: body.user ?? null, metadata: body.metadata ?? {}
        };
        const sse = job.stream ? new SseStream(reply) : null;
        const builder = new ResponseBuilder(response, sse != null ? (event) => sse.send(event.type, event) : null);
        const errors = {
            event: "error", promptField: "input", openAiWording: true, logMessage: "response stream failed",
            // OpenAI's ResponseErrorEvent: the failure in the stream's order.
            body: (problem: Problem) =>
                ({type: "error", code: problem.code, message: problem.message, param: problem.param ?? null, sequence_number: builder.nextSequence})
        };
        return streamOrThrow(request, reply, sse, errors, async () => {
            const result = await chat.chat({
                model: body.model, input: job.input, params: job.params, tools: job.tools, conversationId, signal: disconnectSignal(reply)
            }, {
                onStart: () => {
                    if (sse == null) return;
                    sse.open();
                    builder.start();
                },
                onText: (text) => builder.text(text),
                onToolCall: (event) => builder.toolCall(event)
            });
            request.log.info({
                responseId: response.id, previousResponseId: body.previous_response_id, user: body.user, requestedModel: body.model,
                finishReason: result.finishReason, promptTokens: result.usage.promptTokens, cachedTokens: result.usage.cachedTokens,
                completionTokens: result.usage.completionTokens, historyDropped: result.historyDropped, grammar: job.params.grammar?.type,
                tools: job.tools?.functions.length ?? 0, toolCalls: result.toolCalls.length, queueSeconds: result.queueSeconds,
                generationSeconds: result.generationSeconds, stream: sse != null
            }, "response completed");
            // The server took the model away: an error, not a finished answer.
            if (result.interruption != null)
                throw result.interruption;
            builder.finish(result);
            if (job.store && conversationId != null) {
                const outputItems = builder.conversationItems();
                store.put({response, items: [...job.items, ...outputItems.values()], conversationId, outputItems});
            }
            if (sse == null)
                return response;
            sse.close();
            return reply;
        });
    });

    typed.get("/:id", {
        schema: {summary: "A stored response by id.", params: Type.Object({id: Type.String({maxLength: 256})}), response: {200: responseObjectSchema}}
    }, async (request): Promise<ResponseObject> => {
        const {id} = request.params as {id: string};
        const stored = store.get(id);
        if (stored == null)
            throw notFound(id, null);
        return stored.response;
    });
}
