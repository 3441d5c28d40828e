import {randomUUID} from "node:crypto";
import {logprobEntries, samplingParams} from "./nativeChat.js";
import {WorkerError} from "../../errors.js";
import type {ChatInput, ChatMessage, ChatResult, FinishReason, SamplingParams, TokenLogprob, Usage} from "../../service/chatService.js";
import {
    HANDLED_REQUEST_FIELDS,
    type ChatCompletion, type ChatCompletionChunk, type ChatCompletionRequest, type ChoiceLogprobs, type CompletionUsage,
    type OpenAiFinishReason, type OpenAiMessage
} from "../../protocol/openai.js";

/** OpenAI's own defaults, so a client that omits a field gets what it would get from OpenAI. */
export const OPENAI_SAMPLING_DEFAULTS = {temperature: 1, top_p: 1, top_k: 0, min_p: 0, repetition_penalty: 1} as const;

export interface OpenAiChatJob {
    input: ChatInput;
    params: SamplingParams;
    stream: boolean;
    includeUsage: boolean;
}

function reject(param: string, message: string, code = "unsupported_parameter"): WorkerError {
    return new WorkerError("invalid_request", code, `${param}: ${message}`, {param});
}

/** Message content as text: a string, or text parts joined by newlines (as vLLM joins them). */
function contentText(message: OpenAiMessage, index: number): string {
    const {content} = message;
    if (content == null) {
        if (message.role !== "assistant")
            throw reject(`messages[${index}].content`, "is required for this role", "invalid_request");
        return "";
    }
    if (typeof content === "string")
        return content;
    return content.map((part, partIndex) => {
        if (part.type !== "text" || typeof part.text !== "string")
            throw reject(`messages[${index}].content[${partIndex}]`,
                `only text parts are supported (got ${JSON.stringify(part.type)} without text)`);
        return part.text;
    }).join("\n");
}

/** OpenAI messages as engine messages; `developer` is the system role. */
export function toChatMessages(messages: OpenAiMessage[]): ChatMessage[] {
    return messages.map((message, index): ChatMessage => {
        if (message.tool_calls != null)
            throw reject(`messages[${index}].tool_calls`, "tool calls are not supported; the worker runs no tools");
        return {role: message.role === "developer" ? "system" : message.role, content: contentText(message, index)};
    });
}

/**
 * Splits the conversation the way ChatService fits it: the leading system messages are pinned, the
 * last message is pinned, and everything between is history that may be shortened, oldest first.
 */
export function toChatInput(messages: ChatMessage[]): ChatInput {
    let leading = 0;
    while (leading < messages.length - 1 && messages[leading].role === "system")
        leading++;
    return {
        prefix: messages.slice(0, leading),
        history: messages.slice(leading, -1),
        tail: messages.slice(-1)
    };
}

/** Maps a request onto the chat service's job, refusing what we cannot honour (never silently). */
export function toOpenAiChatJob(body: ChatCompletionRequest, defaultMaxTokens: number): OpenAiChatJob {
    if (body.n != null && body.n > 1)
        throw reject("n", `only one choice per request is supported, got ${body.n}`);
    if (body.tool_choice === "required" || (typeof body.tool_choice === "object" && body.tool_choice != null))
        throw reject("tool_choice", "the worker runs no tools, so it cannot force a tool call");
    if (body.max_tokens != null && body.max_completion_tokens != null && body.max_tokens !== body.max_completion_tokens)
        throw reject("max_tokens", `disagrees with max_completion_tokens (${body.max_tokens} vs ${body.max_completion_tokens}); give one`,
            "invalid_request");
    if (body.grammar != null && body.response_format != null && body.response_format.type !== "text")
        throw reject("grammar", "give either grammar or a JSON response_format, not both", "invalid_request");

    const params: SamplingParams = samplingParams({
        ...body,
        max_tokens: body.max_completion_tokens ?? body.max_tokens,
        stop: body.stop == null ? undefined : typeof body.stop === "string" ? [body.stop] : body.stop
    }, defaultMaxTokens, OPENAI_SAMPLING_DEFAULTS);
    const format = body.response_format;
    if (format?.type === "json_object")
        params.grammar = {type: "json_object"};
    else if (format?.type === "json_schema") {
        if (format.json_schema == null)
            throw reject("response_format.json_schema", "is required when type is json_schema", "invalid_request");
        params.grammar = format.json_schema.schema != null
            ? {type: "json_schema", schema: format.json_schema.schema}
            : {type: "json_object"};
    } else if (body.grammar != null)
        params.grammar = {type: "gbnf", grammar: body.grammar};

    return {
        input: toChatInput(toChatMessages(body.messages)),
        params,
        stream: body.stream ?? false,
        includeUsage: body.stream_options?.include_usage ?? false
    };
}

/** Field names (never values) a request sent that the worker does not act on, for the log. */
export function ignoredFields(body: object): string[] {
    return Object.keys(body).filter((key) => !HANDLED_REQUEST_FIELDS.has(key));
}

/**
 * OpenAI knows only stop and length. A time limit cuts the answer short, which is what `length`
 * tells a client; an aborted generation has no client left to read it.
 */
export function openAiFinishReason(reason: FinishReason): OpenAiFinishReason {
    return reason === "length" || reason === "timeout" ? "length" : "stop";
}

export function completionUsage(usage: Usage): CompletionUsage {
    return {
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        total_tokens: usage.promptTokens + usage.completionTokens,
        prompt_tokens_details: {cached_tokens: usage.cachedTokens}
    };
}

/** Identity shared by every chunk of one completion. */
export interface CompletionIdentity {
    id: string;
    created: number;
    model: string;
}

export function newCompletionIdentity(model: string): CompletionIdentity {
    return {id: `chatcmpl-${randomUUID().replace(/-/g, "")}`, created: Math.floor(Date.now() / 1000), model};
}

export function chatCompletion(identity: CompletionIdentity, result: ChatResult): ChatCompletion {
    return {
        ...identity,
        object: "chat.completion",
        system_fingerprint: null,
        choices: [{
            index: 0,
            message: {role: "assistant", content: result.text, refusal: null},
            logprobs: choiceLogprobs(result.logprobs),
            finish_reason: openAiFinishReason(result.finishReason)
        }],
        usage: completionUsage(result.usage)
    };
}

/** OpenAI's logprobs object, or null when the request did not ask for logprobs. */
export function choiceLogprobs(entries: TokenLogprob[] | null): ChoiceLogprobs | null {
    return entries != null ? {content: logprobEntries(entries), refusal: null} : null;
}

export function chatCompletionChunk(
    identity: CompletionIdentity, delta: ChatCompletionChunk["choices"][0]["delta"], finishReason: OpenAiFinishReason | null,
    includeUsage: boolean, logprobs: TokenLogprob[] | null = null
): ChatCompletionChunk {
    return {
        ...identity,
        object: "chat.completion.chunk",
        system_fingerprint: null,
        choices: [{index: 0, delta, logprobs: choiceLogprobs(logprobs), finish_reason: finishReason}],
        ...(includeUsage ? {usage: null} : {})
    };
}

/** The extra last chunk of `stream_options.include_usage`: no choices, only usage. */
export function usageChunk(identity: CompletionIdentity, usage: Usage): ChatCompletionChunk {
    return {...identity, object: "chat.completion.chunk", system_fingerprint: null, choices: [], usage: completionUsage(usage)};
}
