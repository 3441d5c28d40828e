import {test} from "node:test";
import assert from "node:assert/strict";
import {
    chatCompletion, chatCompletionChunk, choiceLogprobs, openAiFinishReason, toOpenAiChatJob, toolCallDelta, usageChunk
} from "../../src/api/openai/openaiChat.js";
import {choicesUsage, newCompletionIdentity} from "../../src/api/openai/openaiCommon.js";
import {refuse} from "../../src/http/fieldTable.js";
import {OPENAI_SAMPLING_DEFAULTS} from "../../src/service/requestShaping.js";
import type {ChatCompletionRequest} from "../../src/api/openai/openaiSchemas.js";
import {WorkerError} from "../../src/errors.js";
import type {FinishReason} from "../../src/service/chatService.js";
import {chatResult, tokenLogprob} from "../helpers/chatResults.js";

/** /v1/chat/completions' adapters: the request to the pipeline's job (refusing what cannot be honoured), results to OpenAI's objects. */

const limits = {defaultMaxTokens: 64, maxChoices: 4};
const user = (content: string) => ({role: "user" as const, content});
const job = (fields: Record<string, unknown>) => toOpenAiChatJob({messages: [user("x")], ...fields} as ChatCompletionRequest, limits);
const identity = {id: "chatcmpl-1", created: 1700000000, model: "m", system_fingerprint: "fp_0123456789ab"};

test("a bare request: OpenAI's sampling defaults, the worker's default max_tokens, one choice, no stream, no tools", () => {
    const {params, n, stream, includeUsage, tools, input} = job({});
    assert.deepEqual(params, {
        maxTokens: 64, temperature: OPENAI_SAMPLING_DEFAULTS.temperature, topP: 1, topK: 0, minP: 0, repetitionPenalty: 1, seed: null, stop: [],
        ignoreEos: false, frequencyPenalty: 0, presencePenalty: 0, logitBias: [], logprobs: null
    });
    assert.deepEqual([n, stream, includeUsage, tools], [1, false, false, null]);
    assert.deepEqual(input, {prefix: [], history: [], tail: [user("x")]});
});

test("each honoured field reaches the job", () => {
    const cases: Array<[Record<string, unknown>, (j: ReturnType<typeof job>) => unknown, unknown]> = [
        [{max_tokens: 5}, (j) => j.params.maxTokens, 5],
        [{max_completion_tokens: 7}, (j) => j.params.maxTokens, 7],
        [{max_tokens: 9, max_completion_tokens: 9}, (j) => j.params.maxTokens, 9],
        [{temperature: 0, top_p: 0.3, seed: 4}, (j) => [j.params.temperature, j.params.topP, j.params.seed], [0, 0.3, 4]],
        [{top_k: 5, min_p: 0.1, repetition_penalty: 1.2}, (j) => [j.params.topK, j.params.minP, j.params.repetitionPenalty], [5, 0.1, 1.2]],
        [{stop: "END"}, (j) => j.params.stop, ["END"]],
        [{stop: ["a", "b"]}, (j) => j.params.stop, ["a", "b"]],
        [{stop: null}, (j) => j.params.stop, []],
        [{logit_bias: {"0": -100, "42": 5.5}}, (j) => j.params.logitBias, [[0, -100], [42, 5.5]]],
        [{logprobs: true}, (j) => j.params.logprobs, {top: 0}],
        [{logprobs: true, top_logprobs: 3}, (j) => j.params.logprobs, {top: 3}],
        [{logprobs: false}, (j) => j.params.logprobs, null],
        [{grammar: 'root ::= "ok"'}, (j) => j.params.grammar, {type: "gbnf", grammar: 'root ::= "ok"'}],
        [{response_format: {type: "text"}}, (j) => j.params.grammar, undefined],
        [{response_format: {type: "json_object"}}, (j) => j.params.grammar, {type: "json_object"}],
        [{response_format: {type: "json_schema", json_schema: {name: "p", schema: {type: "object"}}}}, (j) => j.params.grammar,
            {type: "json_schema", schema: {type: "object"}}],
        [{response_format: {type: "json_schema", json_schema: {name: "p"}}}, (j) => j.params.grammar, {type: "json_object"}],
        [{n: 4}, (j) => j.n, 4],
        [{stream: true, stream_options: {include_usage: true}}, (j) => [j.stream, j.includeUsage], [true, true]],
        [{stream: true}, (j) => [j.stream, j.includeUsage], [true, false]],
        [{ignore_eos: true}, (j) => j.params.ignoreEos, true],
        [{tools: [{type: "function", function: {name: "f"}}]}, (j) => j.tools, {functions: [{name: "f"}], choice: "auto", parallel: true}],
        // Metadata fields change nothing.
        [{user: "u", metadata: {a: "b"}, store: false, modalities: ["text"]}, (j) => j.params.maxTokens, 64]
    ];
    for (const [fields, read, expected] of cases)
        assert.deepEqual(read(job(fields)), expected, JSON.stringify(fields));
});

test("what cannot be honoured is a 400 naming the field, with unsupported_parameter or invalid_request", () => {
    const tools = [{type: "function", function: {name: "f", parameters: {type: "object"}}}];
    const cases: Array<[Record<string, unknown>, string, string, RegExp]> = [
        [{max_tokens: 5, max_completion_tokens: 6}, "max_tokens", "invalid_request", /disagrees with max_completion_tokens \(5 vs 6\)/],
        [{grammar: "root ::= x", response_format: {type: "json_object"}}, "grammar", "invalid_request", /not both/],
        [{tools, logprobs: true}, "logprobs", "unsupported_parameter", /not supported together with tools/],
        [{tools, tool_choice: "required", grammar: "root ::= x"}, "tool_choice", "unsupported_parameter", /forced call/],
        [{tools, tool_choice: {type: "function", function: {name: "f"}}, response_format: {type: "json_object"}}, "tool_choice", "unsupported_parameter", /forced call/],
        [{tools, tool_choice: "required", ignore_eos: true}, "ignore_eos", "unsupported_parameter", /ends when the call is complete/],
        [{response_format: {type: "json_schema"}}, "response_format.json_schema", "invalid_request", /is required/],
        [{top_logprobs: 2}, "top_logprobs", "invalid_request", /requires logprobs: true/],
        [{n: 5}, "n", "invalid_request", /at most 4 choices/],
        [{stream_options: {include_usage: true}}, "stream_options", "invalid_request", /only allowed with stream: true/],
        [{stream: true, stream_options: {include_obfuscation: true}}, "stream_options.include_obfuscation", "unsupported_parameter", /not padded/],
        [{logit_bias: {"-1": 1}}, "logit_bias", "invalid_request", /keys must be token ids/],
        [{logit_bias: {"01": 1}}, "logit_bias", "invalid_request", /keys must be token ids/],
        [{audio: {voice: "x"}}, "audio", "unsupported_parameter", /audio output is not supported/],
        [{modalities: ["text", "audio"]}, "modalities", "unsupported_parameter", /only text/],
        [{functions: []}, "functions", "unsupported_parameter", /deprecated/],
        [{reasoning_effort: "low"}, "reasoning_effort", "unsupported_parameter", /reasoning-effort/]
    ];
    for (const [fields, param, code, pattern] of cases)
        assert.throws(() => job(fields), (err: unknown) => err instanceof WorkerError && err.kind === "invalid_request" &&
            err.details.param === param && err.code === code && err.message.startsWith(`${param}: `) && pattern.test(err.message),
        JSON.stringify(fields));
    // tool_choice "none" turns the tools off, so logprobs are fine.
    assert.deepEqual(job({tools, tool_choice: "none", logprobs: true}).params.logprobs, {top: 0});
});

test("refuse: the param prefixes the message and is carried; the code defaults to unsupported_parameter", () => {
    const err = refuse("x.y", "no");
    assert.deepEqual([err.kind, err.code, err.message, err.details.param], ["invalid_request", "unsupported_parameter", "x.y: no", "x.y"]);
    assert.equal(refuse("a", "b", "invalid_request").code, "invalid_request");
});

test("openAiFinishReason: OpenAI's three reasons; a time limit reads as length, an abort as stop", () => {
    const cases: Array<[FinishReason, string]> = [["stop", "stop"], ["length", "length"], ["timeout", "length"], ["abort", "stop"], ["tool_calls", "tool_calls"]];
    for (const [reason, expected] of cases)
        assert.equal(openAiFinishReason(reason), expected, reason);
});

test("choicesUsage: the prompt counted once, completions summed over the choices", () => {
    const usage = (promptTokens: number, completionTokens: number, cachedTokens = 0) => chatResult({usage: {promptTokens, completionTokens, cachedTokens}});
    const cases: Array<[ReturnType<typeof chatResult>[], [number, number, number, number]]> = [
        [[], [0, 0, 0, 0]],
        [[usage(10, 3, 4)], [10, 3, 13, 4]],
        [[usage(10, 3, 4), usage(10, 5, 10), usage(10, 0, 10)], [10, 8, 18, 4]]
    ];
    for (const [results, [prompt, completion, total, cached]] of cases)
        assert.deepEqual(choicesUsage(results),
            {prompt_tokens: prompt, completion_tokens: completion, total_tokens: total, prompt_tokens_details: {cached_tokens: cached}});
});

test("chatCompletion: one choice per result with its index; a turn of only calls has null content", () => {
    const call = {id: "call_1", name: "f", arguments: "{\"a\":1}"};
    const completion = chatCompletion(identity, [
        chatResult({text: "hi", finishReason: "timeout"}),
        chatResult({text: " ", finishReason: "tool_calls", toolCalls: [call]}),
        chatResult({text: "said and called", finishReason: "tool_calls", toolCalls: [call], logprobs: [tokenLogprob("s", -0.1)]})
    ]);
    assert.deepEqual([completion.id, completion.created, completion.model, completion.object, completion.system_fingerprint],
        ["chatcmpl-1", 1700000000, "m", "chat.completion", "fp_0123456789ab"]);
    assert.deepEqual(completion.choices.map((choice) => [choice.index, choice.message.content, choice.finish_reason]),
        [[0, "hi", "length"], [1, null, "tool_calls"], [2, "said and called", "tool_calls"]]);
    assert.equal("tool_calls" in completion.choices[0].message, false);
    assert.deepEqual(completion.choices[1].message.tool_calls, [{id: "call_1", type: "function", function: {name: "f", arguments: "{\"a\":1}"}}]);
    assert.equal(completion.choices[0].logprobs, null);
    assert.deepEqual(completion.choices[2].logprobs, {content: [{token: "s", logprob: -0.1, bytes: [115], top_logprobs: []}], refusal: null});
    assert.equal(completion.usage.completion_tokens, 15);
});

test("choiceLogprobs: null when not asked for; else OpenAI's entries with UTF-8 bytes and alternatives in order", () => {
    assert.equal(choiceLogprobs(null), null);
    assert.deepEqual(choiceLogprobs([]), {content: [], refusal: null});
    assert.deepEqual(choiceLogprobs([tokenLogprob("é", -0.25, [["é", -0.25], ["e", -2]])]), {content: [
        {token: "é", logprob: -0.25, bytes: [195, 169], top_logprobs: [{token: "é", logprob: -0.25, bytes: [195, 169]}, {token: "e", logprob: -2, bytes: [101]}]}
    ], refusal: null});
});

test("chunks: a delta per choice, usage null on each when it was asked for, and an extra last chunk with only usage", () => {
    const chunk = chatCompletionChunk(identity, 2, {content: "x"}, null, true, [tokenLogprob("x", -1)]);
    assert.deepEqual(chunk, {
        ...identity, object: "chat.completion.chunk", system_fingerprint: "fp_0123456789ab",
        choices: [{index: 2, delta: {content: "x"}, logprobs: {content: [{token: "x", logprob: -1, bytes: [120], top_logprobs: []}], refusal: null},
            finish_reason: null}],
        usage: null
    });
    assert.equal("usage" in chatCompletionChunk(identity, 0, {}, "stop", false), false);
    assert.equal(chatCompletionChunk(identity, 0, {}, "stop", false).choices[0].logprobs, null);
    const last = usageChunk(identity, [chatResult(), chatResult()]);
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, {prompt_tokens: 11, completion_tokens: 10, total_tokens: 21, prompt_tokens_details: {cached_tokens: 3}});
});

test("toolCallDelta: id, type and name on the first piece only; arguments always", () => {
    assert.deepEqual(toolCallDelta({type: "tool_call", index: 0, id: "call_a", name: "f", arguments: ""}),
        {index: 0, id: "call_a", type: "function", function: {name: "f", arguments: ""}});
    assert.deepEqual(toolCallDelta({type: "tool_call", index: 1, arguments: "{\"x\":"}), {index: 1, function: {arguments: "{\"x\":"}});
});

test("newCompletionIdentity: a prefixed id without dashes, whole seconds, the model named", () => {
    const made = newCompletionIdentity("m");
    assert.match(made.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.match(newCompletionIdentity("m", "cmpl").id, /^cmpl-[0-9a-f]{32}$/);
    assert.ok(Number.isInteger(made.created) && Math.abs(made.created - Date.now() / 1000) < 5);
    assert.equal(made.model, "m");
});
