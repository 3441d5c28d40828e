import type {ChatInput, ChatResult, FinishReason, SamplingParams, TokenLogprob, ToolCallEvent, ToolSet} from "../../service/chatService.js";
import {logprobsRequest, toChatInput} from "../../service/requestShaping.js";
import {checkSchemaBounds} from "../../service/schemaBounds.js";
import {logprobEntries} from "../../http/logprobEntries.js";
import {CHAT_COMPLETION_FIELDS} from "./openaiFields.js";
import type {
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChoiceLogprobs, OpenAiFinishReason, ToolCallDelta
} from "./openaiSchemas.js";
import {choicesUsage, sharedParams, type CompletionIdentity, type OpenAiLimits} from "./openaiCommon.js";
import {toChatMessages, toToolSet} from "./openaiMessages.js";
import {refuse} from "../../http/fieldTable.js";

export interface OpenAiChatJob {
    input: ChatInput;
    params: SamplingParams;
    tools: ToolSet | null;
    n: number;
    stream: boolean;
    includeUsage: boolean;
}

/** Maps a request onto the chat service's job, refusing what we cannot honour (never silently). */
export function toOpenAiChatJob(body: ChatCompletionRequest, limits: OpenAiLimits): OpenAiChatJob {
    if (body.max_tokens != null && body.max_completion_tokens != null && body.max_tokens !== body.max_completion_tokens)
        throw refuse("max_tokens", `disagrees with max_completion_tokens (${body.max_tokens} vs ${body.max_completion_tokens}); give one`,
            "invalid_request");
    if (body.grammar != null && body.response_format != null && body.response_format.type !== "text")
        throw refuse("grammar", "give either grammar or a JSON response_format, not both", "invalid_request");
    const tools = toToolSet(body);
    const calling = tools != null && tools.choice !== "none";
    const forced = calling && tools.choice !== "auto";
    if (calling && body.logprobs === true)
        throw refuse("logprobs", "is not supported together with tools (unless tool_choice is \"none\")");
    if (forced && (body.grammar != null || (body.response_format != null && body.response_format.type !== "text")))
        throw refuse("tool_choice", "a forced call is written under its own grammar: it cannot be combined with grammar or a JSON response_format");
    if (forced && body.ignore_eos === true)
        throw refuse("ignore_eos", "a forced call ends when the call is complete");

    const {params, n, stream, includeUsage} = sharedParams(
        {...body, max_tokens: body.max_completion_tokens ?? body.max_tokens}, CHAT_COMPLETION_FIELDS, limits, limits.defaultMaxTokens,
        logprobsRequest(body));
    const format = body.response_format;
    if (format?.type === "json_object")
        params.grammar = {type: "json_object"};
    else if (format?.type === "json_schema") {
        if (format.json_schema == null)
            throw refuse("response_format.json_schema", "is required when type is json_schema", "invalid_request");
        if (format.json_schema.schema != null)
            checkSchemaBounds(format.json_schema.schema, "response_format.json_schema.schema");
        params.grammar = format.json_schema.schema != null
            ? {type: "json_schema", schema: format.json_schema.schema}
            : {type: "json_object"};
    }
    return {input: toChatInput(toChatMessages(body.messages)), params, tools, n, stream, includeUsage};
}

/**
 * OpenAI knows stop, length and tool_calls. A time limit cuts the answer short, which is what
 * `length` tells a client; an aborted generation has no client left to read it.
 */
export function openAiFinishReason(reason: FinishReason): OpenAiFinishReason {
    if (reason === "tool_calls") return "tool_calls";
    return reason === "length" || reason === "timeout" ? "length" : "stop";
}

export function chatCompletion(identity: CompletionIdentity, results: ChatResult[]): ChatCompletion {
    return {
        ...identity,
        object: "chat.completion",
        choices: results.map((result, index) => ({
            index,
            message: {
                role: "assistant",
                // A turn of calls has no content unless the model also wrote some.
                content: result.toolCalls.length > 0 && result.text.trim() === "" ? null : result.text,
                refusal: null,
                ...(result.toolCalls.length > 0 ? {
                    tool_calls: result.toolCalls.map((call) => ({id: call.id, type: "function" as const, function: {name: call.name, arguments: call.arguments}}))
                } : {})
            },
            logprobs: choiceLogprobs(result.logprobs),
            finish_reason: openAiFinishReason(result.finishReason)
        })),
        usage: choicesUsage(results)
    };
}

/** OpenAI's logprobs object, or null when the request did not ask for logprobs. */
export function choiceLogprobs(entries: TokenLogprob[] | null): ChoiceLogprobs | null {
    return entries != null ? {content: logprobEntries(entries), refusal: null} : null;
}

export function chatCompletionChunk(
    identity: CompletionIdentity, choice: number, delta: ChatCompletionChunk["choices"][0]["delta"], finishReason: OpenAiFinishReason | null,
    includeUsage: boolean, logprobs: TokenLogprob[] | null = null
): ChatCompletionChunk {
    return {
        ...identity,
        object: "chat.completion.chunk",
        choices: [{index: choice, delta, logprobs: choiceLogprobs(logprobs), finish_reason: finishReason}],
        ...(includeUsage ? {usage: null} : {})
    };
}

/** A streamed piece of a tool call, as OpenAI streams them: id, type and name first, then the arguments in pieces. */
export function toolCallDelta(event: ToolCallEvent): ToolCallDelta {
    return {
        index: event.index,
        ...(event.id != null ? {id: event.id, type: "function" as const} : {}),
        function: {...(event.name != null ? {name: event.name} : {}), arguments: event.arguments}
    };
}

/** The extra last chunk of `stream_options.include_usage`: no choices, only usage. */
export function usageChunk(identity: CompletionIdentity, results: ChatResult[]): ChatCompletionChunk {
    return {...identity, object: "chat.completion.chunk", choices: [], usage: choicesUsage(results)};
}
