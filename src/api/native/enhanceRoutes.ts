import type {FastifyInstance, FastifyReply, FastifyRequest} from "fastify";
import type {TypeBoxTypeProvider} from "@fastify/type-provider-typebox";
import type {Config} from "../../config/config.js";
import type {ChatService} from "../../service/chatService.js";
import type {EnhanceService, ResolvedJob} from "../../service/enhanceService.js";
import {Type} from "@sinclair/typebox";
import {
    enhanceRequestSchema, enhanceResponseSchema, MESSAGES_ENHANCE_MAX_TOKENS, messagesEnhanceResponseSchema,
    type EnhanceRequestBody, type EnhancementInfoBody
} from "./enhanceSchemas.js";
import {samplingParams} from "../../service/requestShaping.js";
import {disconnectSignal} from "../../http/sse.js";
import {retryHeaders, toProblem} from "../../http/errorMapping.js";
import {callerModelInfo, enhanceShape, messagesEnhanceResponse, messagesInput, type MessagesEnhanceBody} from "./messagesShapeAdapter.js";
import {enhanceFailure, enhancementInfo, enhanceResponse, enhanceSampling} from "./nativeEnhance.js";

export interface EnhanceRouteDeps {
    config: Config;
    chat: ChatService;
    enhance: EnhanceService;
}

/** POST /enhance, POST /enhance/legacy (the same handler) and GET /enhancement/info. */
export async function enhanceRoutes(app: FastifyInstance, {config, chat, enhance}: EnhanceRouteDeps): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    const schema = {
        summary: "Rewrite a short image or video prompt into a richer one for the job type (grammar-constrained); or, in the messages shape, run the caller's own instruction.",
        body: enhanceRequestSchema({
            jobTypes: enhance.jobTypes().map((template) => template.jobType),
            maxPromptChars: config.enhanceMaxPromptChars,
            maxTokensLimit: config.maxTokensLimit,
            maxHistoryMessages: config.maxHistoryMessages
        }),
        response: {200: Type.Union([enhanceResponseSchema, messagesEnhanceResponseSchema])}
    };

    /** The messages shape: the caller's messages as given (its system message is the instruction), no template, no grammar. */
    const messagesHandler = async (request: FastifyRequest, reply: FastifyReply, body: MessagesEnhanceBody) => {
        const received = performance.now();
        const result = await chat.chat({
            model: body.model ?? null,
            input: messagesInput(body.messages),
            params: samplingParams(body, Math.min(MESSAGES_ENHANCE_MAX_TOKENS, config.maxTokensLimit)),
            conversationId: null,
            signal: disconnectSignal(reply),
            sfwMode: body.sfw_mode === true
        });
        request.log.info({
            shape: "messages", model: result.model, enhancedChars: result.text.length, finishReason: result.finishReason,
            promptTokens: result.usage.promptTokens, completionTokens: result.usage.completionTokens,
            queueSeconds: result.queueSeconds, generationSeconds: result.generationSeconds
        }, "enhance completed");
        const loaded = chat.engineStatus(result.model).state === "ready";
        return messagesEnhanceResponse(result, body, callerModelInfo(chat.engineInfo(result.model), loaded), (performance.now() - received) / 1000);
    };

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const received = performance.now();
        const shape = enhanceShape(request.body as EnhanceRequestBody);
        if (shape.kind === "messages")
            return messagesHandler(request, reply, shape.body);
        const body = shape.body;
        // Input problems (unknown job type, contradicting quality...) throw here: plain 400s.
        const job: ResolvedJob = enhance.resolve(body.job_type ?? null, body.quality ?? null);
        try {
            const result = await enhance.enhance({
                prompt: body.prompt,
                jobType: job.jobType,
                quality: body.quality ?? null,
                maxTokens: body.max_tokens ?? null,
                sampling: enhanceSampling(body),
                signal: disconnectSignal(reply),
                model: body.model ?? null,
                sfwMode: body.sfw_mode === true
            }, job);
            request.log.info({
                jobType: result.jobType, promptChars: body.prompt.length, enhancedChars: result.enhancedPrompt.length,
                enhancedTokens: result.enhancedTokens, tokenBudget: result.tokenBudget, finishReason: result.finishReason,
                promptTokens: result.usage.promptTokens, cachedTokens: result.usage.cachedTokens,
                completionTokens: result.usage.completionTokens, queueSeconds: result.queueSeconds,
                generationSeconds: result.generationSeconds
            }, "enhance completed");
            return enhanceResponse(body, result);
        } catch (err) {
            const problem = toProblem(err, "prompt");
            if (problem.status < 500 && problem.status !== 429)
                throw err; // the client's input: the normal error envelope naming the field
            // The model could not do it: the original's body (prompt handed back unchanged), with a
            // real status: 429 when overloaded, else 503. An upstream's 502/504 keeps its code; a bug
            // (500) is logged as one and its details stay in the log.
            if (problem.status === 500) {
                request.log.error({err, code: problem.code}, "enhance failed");
                problem.code = "enhancement_failed";
                problem.message = "the model failed to enhance the prompt; see the worker log for the request id";
            } else
                request.log.warn({code: problem.code, status: problem.status}, "enhance failed");
            if (problem.status >= 500)
                problem.status = 503;
            void reply.headers(retryHeaders(problem));
            return reply.status(problem.status).send(enhanceFailure(body, job, problem, (performance.now() - received) / 1000));
        }
    };
    // A prompt too long for the context is blamed on `prompt` (or `messages`, see nativeApi.ts).
    const routeConfig = {promptField: "prompt"};
    typed.post("/enhance", {schema, config: routeConfig}, handler);
    typed.post("/enhance/legacy", {schema, config: routeConfig}, handler);

    typed.get("/enhancement/info", async (): Promise<EnhancementInfoBody> =>
        enhancementInfo(enhance, chat.engineInfo(), chat.engineStatus()));
}
