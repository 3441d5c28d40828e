import type {UpstreamGrammarField} from "../../config/config.js";
import type {ChatMessage, SamplingParams} from "../types.js";

/**
 * The chat completion request we send. Sampling extensions (top_k, min_p, repetition_penalty,
 * ignore_eos) are read by vLLM and llama-server; they are sent only when they change the default.
 */
export function upstreamRequestBody(
    model: string, params: SamplingParams, messages: ChatMessage[], grammarField: UpstreamGrammarField
): Record<string, unknown> {
    const body: Record<string, unknown> = {
        model,
        messages: messages.map(({role, content}) => ({role, content})),
        stream: true,
        stream_options: {include_usage: true},
        max_tokens: params.maxTokens,
        temperature: params.temperature,
        top_p: params.topP
    };
    if (params.seed != null) body.seed = params.seed;
    if (params.stop.length > 0) body.stop = params.stop;
    if (params.topK > 0) body.top_k = params.topK;
    if (params.minP > 0) body.min_p = params.minP;
    if (params.repetitionPenalty !== 1) body.repetition_penalty = params.repetitionPenalty;
    if (params.ignoreEos) body.ignore_eos = true;
    if (params.logprobs != null) {
        body.logprobs = true;
        if (params.logprobs.top > 0) body.top_logprobs = params.logprobs.top;
    }
    const grammar = params.grammar;
    if (grammar?.type === "json_schema")
        body.response_format = {type: "json_schema", json_schema: {name: "response", schema: grammar.schema, strict: true}};
    else if (grammar?.type === "json_object")
        body.response_format = {type: "json_object"};
    else if (grammar?.type === "gbnf") {
        if (grammarField === "structured_outputs") body.structured_outputs = {grammar: grammar.grammar};
        else body[grammarField] = grammar.grammar;
    }
    return body;
}
