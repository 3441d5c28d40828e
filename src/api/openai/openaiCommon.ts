import {randomUUID} from "node:crypto";
import type {Static, TObject} from "@sinclair/typebox";
import {WorkerError} from "../../errors.js";
import type {ChatResult, SamplingParams} from "../../service/chatService.js";
import {checkGrammarComplexity} from "../../engine/grammarComplexity.js";
import {OPENAI_SAMPLING_DEFAULTS, samplingParams} from "../../service/requestShaping.js";
import {refuse, refusedField, type FieldTable} from "../../http/fieldTable.js";
import type {CompletionUsage, sharedRequestFields} from "./openaiSchemas.js";

/** What the two OpenAI endpoints share in the request (sampling, stopping, streaming, extensions). */
export type SharedRequest = Static<TObject<ReturnType<typeof sharedRequestFields>>>;

/** The limits and settings the OpenAI adapters apply beyond the schemas. */
export interface OpenAiLimits {
    defaultMaxTokens: number;
    /** min(MAX_N, PARALLEL): the most choices one request may ask for. */
    maxChoices: number;
}

/**
 * Checks what the schema cannot (refused fields, choices, stream options) and maps the shared
 * fields onto the engine's sampling parameters, with OpenAI's defaults.
 */
export function sharedParams(
    body: SharedRequest & {logprobs?: unknown; top_logprobs?: unknown}, table: FieldTable, limits: OpenAiLimits, defaultMaxTokens: number,
    logprobs: SamplingParams["logprobs"]
): {params: SamplingParams; n: number; stream: boolean; includeUsage: boolean} {
    const refused = refusedField(table, body as Record<string, unknown>);
    if (refused != null)
        throw refuse(refused.field, refused.note);
    const n = body.n ?? 1;
    if (n > limits.maxChoices)
        throw refuse("n", `at most ${limits.maxChoices} choices per request (MAX_N, and not more than PARALLEL sequences), got ${n}`,
            "invalid_request");
    if (body.stream_options != null && body.stream !== true)
        throw refuse("stream_options", "is only allowed with stream: true (as OpenAI answers)", "invalid_request");
    if (body.stream_options?.include_obfuscation === true)
        throw refuse("stream_options.include_obfuscation", "is not supported: streams are not padded");
    const params = samplingParams({
        ...body,
        logprobs: undefined,
        top_logprobs: undefined,
        max_tokens: body.max_tokens ?? defaultMaxTokens,
        stop: body.stop == null ? undefined : typeof body.stop === "string" ? [body.stop] : body.stop
    }, defaultMaxTokens, OPENAI_SAMPLING_DEFAULTS);
    params.logprobs = logprobs;
    params.logitBias = Object.entries(body.logit_bias ?? {}).map(([token, bias]): [number, number] => {
        if (!/^(0|[1-9][0-9]{0,8})$/.test(token))
            throw refuse("logit_bias", `keys must be token ids, got ${JSON.stringify(token.slice(0, 32))}`, "invalid_request");
        return [Number(token), bias];
    });
    if (body.grammar != null) {
        checkGrammarComplexity(body.grammar, "grammar");
        params.grammar = {type: "gbnf", grammar: body.grammar};
    }
    return {params, n, stream: body.stream ?? false, includeUsage: body.stream_options?.include_usage ?? false};
}

/** OpenAI counts the prompt once however many choices; completions add up. */
export function choicesUsage(results: ChatResult[]): CompletionUsage {
    const promptTokens = results[0]?.usage.promptTokens ?? 0;
    const completionTokens = results.reduce((sum, result) => sum + result.usage.completionTokens, 0);
    return {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: {cached_tokens: results[0]?.usage.cachedTokens ?? 0}
    };
}

/** Identity shared by every chunk of one completion. */
export interface CompletionIdentity {
    id: string;
    created: number;
    model: string;
    /** The loaded model's fingerprint (ModelInfo.fingerprint), set once a sequence is leased (the model is loaded then). */
    system_fingerprint: string | null;
}

export function newCompletionIdentity(model: string, prefix = "chatcmpl"): CompletionIdentity {
    return {id: `${prefix}-${randomUUID().replace(/-/g, "")}`, created: Math.floor(Date.now() / 1000), model, system_fingerprint: null};
}
