import {Type, type Static} from "@sinclair/typebox";
import {Nullable, StringEnum} from "../../http/schemaTypes.js";

/**
 * Wire types of OpenAI's `POST /v1/embeddings`. Closed like the other /v1 requests: an unknown
 * field is refused with a 400 naming it.
 */

export const EMBEDDING_ENCODINGS = ["float", "base64"] as const;

export function embeddingRequestSchema(limits: {maxInputs: number}) {
    return Type.Object({
        /** One text, texts, one token array, or token arrays (OpenAI's four shapes). */
        input: Type.Union([
            Type.String(),
            Type.Array(Type.String(), {maxItems: limits.maxInputs}),
            Type.Array(Type.Integer()),
            Type.Array(Type.Array(Type.Integer()), {maxItems: limits.maxInputs})
        ]),
        model: Type.Optional(Type.String({maxLength: 256})),
        encoding_format: Type.Optional(Nullable(StringEnum(EMBEDDING_ENCODINGS))),
        dimensions: Type.Optional(Nullable(Type.Integer({minimum: 1}))),
        user: Type.Optional(Nullable(Type.String()))
    }, {additionalProperties: false});
}

export type EmbeddingRequest = Static<ReturnType<typeof embeddingRequestSchema>>;

export const embeddingResponseSchema = Type.Object({
    object: Type.Literal("list"),
    data: Type.Array(Type.Object({
        object: Type.Literal("embedding"),
        index: Type.Integer(),
        /** Numbers, or with `encoding_format: "base64"` their little-endian float32 bytes in base64. */
        embedding: Type.Union([Type.Array(Type.Number()), Type.String()])
    })),
    model: Type.String(),
    usage: Type.Object({prompt_tokens: Type.Integer(), total_tokens: Type.Integer()})
});

export type EmbeddingResponse = Static<typeof embeddingResponseSchema>;
