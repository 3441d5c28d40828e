import type {FastifyInstance} from "fastify";
import type {TypeBoxTypeProvider} from "@fastify/type-provider-typebox";
import {EmbeddingInputError} from "../../errors.js";
import {refuse} from "../../http/fieldTable.js";
import type {EmbeddingService} from "../../service/embeddingService.js";
import {embeddingRequestSchema, embeddingResponseSchema, type EmbeddingRequest, type EmbeddingResponse} from "./embeddingSchemas.js";
import {embeddingInputs, embeddingResponse, inputParam} from "./openaiEmbeddings.js";

/** `POST /v1/embeddings` (registered inside v1Routes, under its prefix and not-found handler). */
export async function embeddingRoutes(app: FastifyInstance, embeddings: EmbeddingService, limits: {maxInputs: number}): Promise<void> {
    const typed = app.withTypeProvider<TypeBoxTypeProvider>();
    typed.post("/embeddings", {
        schema: {summary: "OpenAI embeddings from an embedding model (MODELS' ?kind=embedding); concurrent requests' inputs are batched.",
            body: embeddingRequestSchema(limits), response: {200: embeddingResponseSchema}}
    }, async (request, reply): Promise<EmbeddingResponse> => {
        const body = request.body as EmbeddingRequest;
        const inputs = embeddingInputs(body.input);
        // A client that goes away takes its inputs out of the queue.
        const controller = new AbortController();
        reply.raw.on("close", () => {
            if (!reply.raw.writableFinished) controller.abort();
        });
        const started = performance.now();
        try {
            const result = await embeddings.embed({model: body.model, inputs, dimensions: body.dimensions ?? null, signal: controller.signal});
            request.log.info({model: result.model, user: body.user, inputs: inputs.length, promptTokens: result.promptTokens,
                seconds: Number(((performance.now() - started) / 1000).toFixed(3))}, "embeddings computed");
            return embeddingResponse(result, body.encoding_format ?? "float");
        } catch (err) {
            if (err instanceof EmbeddingInputError)
                throw refuse(inputParam(body.input, err.input), err.reason, "invalid_input");
            throw err;
        }
    });
}
