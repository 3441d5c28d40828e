import type {ChatResult, RawInput, SamplingParams, TokenLogprob} from "../../service/chatService.js";
import {COMPLETION_FIELDS} from "./openaiFields.js";
import type {Completion, CompletionChunk, CompletionLogprobs, CompletionRequest} from "./completionSchemas.js";
import {choicesUsage, sharedParams, type CompletionIdentity, type OpenAiLimits} from "./openaiCommon.js";
import {openAiFinishReason} from "./openaiChat.js";
import {refuse} from "../../http/fieldTable.js";

/** OpenAI's default `max_tokens` for completions (vLLM's too). */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export interface OpenAiCompletionJob {
    input: RawInput;
    params: SamplingParams;
    n: number;
    echo: boolean;
    stream: boolean;
    includeUsage: boolean;
}

/** The one prompt of the request, refusing the shapes the worker does not take. */
function promptText(prompt: CompletionRequest["prompt"]): string {
    let text: unknown = prompt;
    if (Array.isArray(prompt)) {
        if (prompt.some((item) => typeof item !== "string"))
            throw refuse("prompt", "token ids are not supported; send the prompt as text");
        if (prompt.length !== 1)
            throw refuse("prompt", `one prompt per request is supported, got ${prompt.length}; use n for several completions of one prompt`);
        text = prompt[0];
    }
    if (typeof text !== "string" || text === "")
        throw refuse("prompt", "must be a non-empty text", "invalid_request");
    return text;
}

/** Maps a /v1/completions request onto the chat service's job (a raw prompt), refusing what we cannot honour. */
export function toCompletionJob(body: CompletionRequest, limits: OpenAiLimits): OpenAiCompletionJob {
    const text = promptText(body.prompt);
    if (body.echo === true && body.logprobs != null)
        throw refuse("echo", "is not supported together with logprobs: the prompt's tokens have no logprobs here (the engine computes logits for a prompt's last token only)");
    const {params, n, stream, includeUsage} = sharedParams(body, COMPLETION_FIELDS, limits, COMPLETION_DEFAULT_MAX_TOKENS,
        body.logprobs != null ? {top: body.logprobs} : null);
    return {input: {raw: text}, params, n, echo: body.echo ?? false, stream, includeUsage};
}

/** The legacy logprobs shape; `offset` is where the first token's text starts in the choice's text. */
export function completionLogprobs(entries: TokenLogprob[] | null, offset: number): CompletionLogprobs | null {
    if (entries == null) return null;
    const textOffset: number[] = [];
    let at = offset;
    for (const entry of entries) {
        textOffset.push(at);
        at += entry.token.length;
    }
    return {
        tokens: entries.map((entry) => entry.token),
        token_logprobs: entries.map((entry) => entry.logprob),
        top_logprobs: entries.map((entry) => Object.fromEntries(entry.topLogprobs.map((top) => [top.token, top.logprob]))),
        text_offset: textOffset
    };
}

export function completion(identity: CompletionIdentity, job: OpenAiCompletionJob, results: ChatResult[]): Completion {
    const echoed = job.echo ? job.input.raw : "";
    return {
        ...identity,
        object: "text_completion",
        choices: results.map((result, index) => ({
            index,
            text: echoed + result.text,
            logprobs: completionLogprobs(result.logprobs, echoed.length),
            finish_reason: openAiFinishReason(result.finishReason) === "length" ? "length" : "stop"
        })),
        usage: choicesUsage(results)
    };
}

export function completionChunk(
    identity: CompletionIdentity, choice: number, text: string, finishReason: "stop" | "length" | null, includeUsage: boolean,
    logprobs: CompletionLogprobs | null = null
): CompletionChunk {
    return {
        ...identity,
        object: "text_completion",
        choices: [{index: choice, text, logprobs, finish_reason: finishReason}],
        ...(includeUsage ? {usage: null} : {})
    };
}

/** The extra last chunk of `stream_options.include_usage`: no choices, only usage. */
export function completionUsageChunk(identity: CompletionIdentity, results: ChatResult[]): CompletionChunk {
    return {...identity, object: "text_completion", choices: [], usage: choicesUsage(results)};
}
