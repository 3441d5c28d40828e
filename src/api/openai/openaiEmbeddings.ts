import {refuse} from "../../http/fieldTable.js";
import type {EmbeddingInput} from "../../engine/types.js";
import type {EmbeddingResult} from "../../service/embeddingService.js";
import type {EmbeddingRequest, EmbeddingResponse} from "./embeddingSchemas.js";
import {base64Vector} from "./embeddingEncoding.js";

/**
 * The adapter of `POST /v1/embeddings`: OpenAI's four input shapes to a list of inputs, and the
 * service's vectors to OpenAI's list (numbers, or base64).
 */

/** The inputs of a request, one per vector to return; an empty input (or none) is a 400 naming it. */
export function embeddingInputs(input: EmbeddingRequest["input"]): EmbeddingInput[] {
    if (typeof input === "string") {
        if (input === "") throw refuse("input", "is empty; give the text to embed", "invalid_input");
        return [input];
    }
    if (input.length === 0)
        throw refuse("input", "is an empty list; give at least one input", "invalid_input");
    // An array of numbers is one input, already tokenized.
    if (input.every((item) => typeof item === "number"))
        return [input as number[]];
    const inputs = input as Array<string | number[]>;
    const empty = inputs.findIndex((item) => item.length === 0);
    if (empty !== -1)
        throw refuse(`input[${empty}]`, "is empty; every input needs at least one token", "invalid_input");
    return inputs;
}

/** How a request names the input at `index` of embeddingInputs' list: `input` when it sent one, `input[i]` otherwise. */
export function inputParam(input: EmbeddingRequest["input"], index: number): string {
    return typeof input === "string" || input.every((item) => typeof item === "number") ? "input" : `input[${index}]`;
}

export function embeddingResponse(result: EmbeddingResult, encoding: "float" | "base64"): EmbeddingResponse {
    return {
        object: "list",
        data: result.vectors.map((vector, index) => ({object: "embedding", index, embedding: encoding === "base64" ? base64Vector(vector) : vector})),
        model: result.model,
        usage: {prompt_tokens: result.promptTokens, total_tokens: result.promptTokens}
    };
}
