import {test} from "node:test";
import assert from "node:assert/strict";
import {
    COMPLETION_DEFAULT_MAX_TOKENS, completion, completionChunk, completionLogprobs, completionUsageChunk, toCompletionJob
} from "../../src/api/openai/openaiCompletions.js";
import type {CompletionRequest} from "../../src/api/openai/completionSchemas.js";
import {WorkerError} from "../../src/errors.js";
import {chatResult, tokenLogprob} from "../helpers/chatResults.js";

/** /v1/completions' adapters: one raw prompt to the pipeline's job, results to the legacy completion shape. */

const limits = {defaultMaxTokens: 64, maxChoices: 2};
const job = (fields: Record<string, unknown>) => toCompletionJob({prompt: "Once", ...fields} as CompletionRequest, limits);
const identity = {id: "cmpl-1", created: 1700000000, model: "m", system_fingerprint: "fp_0123456789ab"};

test("a raw prompt, no chat template; OpenAI's default of 16 tokens; the legacy logprobs count becomes alternatives", () => {
    const plain = job({});
    assert.deepEqual(plain.input, {raw: "Once"});
    assert.equal(plain.params.maxTokens, COMPLETION_DEFAULT_MAX_TOKENS);
    assert.equal(COMPLETION_DEFAULT_MAX_TOKENS, 16);
    assert.deepEqual([plain.n, plain.echo, plain.stream, plain.includeUsage, plain.params.logprobs], [1, false, false, false, null]);
    assert.deepEqual(job({prompt: ["<|im_start|>user"]}).input, {raw: "<|im_start|>user"}, "a list of one text; special-token spellings stay text");
    assert.deepEqual(job({logprobs: 0}).params.logprobs, {top: 0});
    assert.deepEqual(job({logprobs: 5, max_tokens: 3, stop: "."}).params, {...job({}).params, maxTokens: 3, stop: ["."], logprobs: {top: 5}});
    assert.equal(job({echo: true}).echo, true);
    assert.equal(job({best_of: 2, n: 2}).n, 2, "best_of equal to n asks for nothing more");
});

test("what cannot be honoured is a 400 naming the field", () => {
    const cases: Array<[Record<string, unknown>, string, string, RegExp]> = [
        [{prompt: [1, 2, 3]}, "prompt", "unsupported_parameter", /token ids are not supported/],
        [{prompt: ["a", "b"]}, "prompt", "unsupported_parameter", /one prompt per request is supported, got 2/],
        [{prompt: []}, "prompt", "unsupported_parameter", /got 0/],
        [{prompt: ""}, "prompt", "invalid_request", /non-empty text/],
        [{prompt: [""]}, "prompt", "invalid_request", /non-empty text/],
        [{echo: true, logprobs: 1}, "echo", "unsupported_parameter", /not supported together with logprobs/],
        [{best_of: 3}, "best_of", "unsupported_parameter", /may only equal `n`/],
        [{suffix: "end"}, "suffix", "unsupported_parameter", /fill-in-the-middle/],
        [{n: 3}, "n", "invalid_request", /at most 2 choices/]
    ];
    for (const [fields, param, code, pattern] of cases)
        assert.throws(() => job(fields), (err: unknown) => err instanceof WorkerError && err.details.param === param && err.code === code &&
            pattern.test(err.message), JSON.stringify(fields));
});

test("completionLogprobs: tokens, their logprobs, alternatives by token, and each token's text offset from the given start", () => {
    assert.equal(completionLogprobs(null, 0), null);
    assert.deepEqual(completionLogprobs([tokenLogprob("Hé", -0.5, [["Hé", -0.5], ["Ho", -2]]), tokenLogprob("llo", -1), tokenLogprob("!", 0)], 4), {
        tokens: ["Hé", "llo", "!"],
        token_logprobs: [-0.5, -1, 0],
        top_logprobs: [{"Hé": -0.5, "Ho": -2}, {}, {}],
        text_offset: [4, 6, 9]
    });
});

test("completion: echo puts the prompt first and shifts the offsets; finish reasons are stop or length only", () => {
    const echoed = job({echo: true});
    const result = completion(identity, echoed, [
        chatResult({text: " upon", finishReason: "timeout", logprobs: [tokenLogprob(" upon", -0.1)]}),
        chatResult({text: "", finishReason: "tool_calls"}),
        chatResult({text: "x", finishReason: "abort"})
    ]);
    assert.deepEqual([result.object, result.id, result.system_fingerprint], ["text_completion", "cmpl-1", "fp_0123456789ab"]);
    assert.deepEqual(result.choices.map((choice) => [choice.index, choice.text, choice.finish_reason]),
        [[0, "Once upon", "length"], [1, "Once", "stop"], [2, "Oncex", "stop"]]);
    assert.deepEqual(result.choices[0].logprobs?.text_offset, [4]);
    assert.equal(result.choices[1].logprobs, null);
    assert.deepEqual(result.usage, {prompt_tokens: 11, completion_tokens: 15, total_tokens: 26, prompt_tokens_details: {cached_tokens: 3}});
    assert.equal(completion(identity, job({}), [chatResult({text: " upon"})]).choices[0].text, " upon", "no echo: the completion alone");
});

test("completion chunks: text per choice, usage null on each when asked for, then a last chunk of usage alone", () => {
    assert.deepEqual(completionChunk(identity, 1, "tok", null, true), {
        ...identity, object: "text_completion", choices: [{index: 1, text: "tok", logprobs: null, finish_reason: null}], usage: null
    });
    assert.equal("usage" in completionChunk(identity, 0, "", "length", false), false);
    const last = completionUsageChunk(identity, [chatResult()]);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage?.total_tokens, 16);
});
