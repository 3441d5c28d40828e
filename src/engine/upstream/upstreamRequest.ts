import type {UpstreamGrammarField} from "../../config/config.js";
import type {ChatMessage, RenderedPrompt, SamplingParams, ToolSet} from "../types.js";

/** An OpenAI chat message as we send it: tool calls folded into assistant turns go back out as `tool_calls` and `tool` messages. */
export type WireMessage =
    | {role: ChatMessage["role"]; content: string}
    | {role: "assistant"; content: string | null; tool_calls: Array<{id: string; type: "function"; function: {name: string; arguments: string}}>}
    | {role: "tool"; tool_call_id: string; content: string};

export function wireMessages(messages: ChatMessage[]): WireMessage[] {
    return messages.flatMap((message): WireMessage[] => {
        const calls = message.toolCalls ?? [];
        if (calls.length === 0)
            return [{role: message.role, content: message.content}];
        return [
            {
                role: "assistant", content: message.content === "" ? null : message.content,
                tool_calls: calls.map((call) => ({id: call.id, type: "function", function: {name: call.name, arguments: call.arguments}}))
            },
            ...calls.map((call): WireMessage => ({role: "tool", tool_call_id: call.id, content: call.result}))
        ];
    });
}

/** OpenAI's `tools`, `tool_choice` and `parallel_tool_calls` for a tool set. */
export function wireTools(tools: ToolSet): Record<string, unknown> {
    return {
        tools: tools.functions.map((fn) => ({type: "function", function: fn})),
        tool_choice: typeof tools.choice === "object" ? {type: "function", function: {name: tools.choice.name}} : tools.choice,
        parallel_tool_calls: tools.parallel
    };
}

/**
 * The request we send: a chat completion, or for a raw prompt (/v1/completions) a completion.
 * Sampling extensions (top_k, min_p, repetition_penalty, ignore_eos) are read by vLLM and
 * llama-server; they and OpenAI's penalties and logit bias are sent only when they change the default.
 */
export function upstreamRequestBody(
    model: string, params: SamplingParams, prompt: Pick<RenderedPrompt, "messages" | "tools" | "raw" | "text">, grammarField: UpstreamGrammarField
): Record<string, unknown> {
    const body: Record<string, unknown> = {
        model,
        ...(prompt.raw === true ? {prompt: prompt.text ?? ""} : {messages: wireMessages(prompt.messages)}),
        ...(prompt.tools != null ? wireTools(prompt.tools) : {}),
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
    if (params.frequencyPenalty !== 0) body.frequency_penalty = params.frequencyPenalty;
    if (params.presencePenalty !== 0) body.presence_penalty = params.presencePenalty;
    if (params.logitBias.length > 0) body.logit_bias = Object.fromEntries(params.logitBias.map(([token, bias]) => [String(token), bias]));
    if (params.ignoreEos) body.ignore_eos = true;
    if (params.logprobs != null) {
        // Completions take the number of alternatives in `logprobs`; chat completions a flag and `top_logprobs`.
        if (prompt.raw === true) body.logprobs = params.logprobs.top;
        else {
            body.logprobs = true;
            if (params.logprobs.top > 0) body.top_logprobs = params.logprobs.top;
        }
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
