import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {startTestWorker, startUpstreamWorker, until, type TestWorker} from "../helpers/testWorker.js";
import {apiError, user} from "../helpers/openaiMessages.js";
import {CHAT_COMPLETION_FIELDS, COMPLETION_FIELDS} from "../../src/api/openai/openaiFields.js";
import type {FieldTable} from "../../src/http/fieldTable.js";
import {chatCompletionRequestSchema} from "../../src/api/openai/openaiSchemas.js";
import {completionRequestSchema} from "../../src/api/openai/completionSchemas.js";

// docs/openai-api.md's "OpenAI compatibility" tables, row by row, through the official `openai` client
// against the real engine: every field is honoured, accepted with no effect, or refused with a
// 400 that names it; anything else is refused as OpenAI refuses it. Then what the rows promise:
// n, /v1/completions, the penalties and logit bias, and the client's retries on our 429.

let server: TestWorker;
let client: OpenAI;

before(async () => {
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800"});
    client = new OpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0});
});
after(() => server.close());

/** A request's answer as one object whether it streamed or not (a stream's chunks, collected). */
async function settle(answer: unknown): Promise<unknown> {
    if (answer != null && typeof answer === "object" && Symbol.asyncIterator in answer) {
        const chunks: unknown[] = [];
        for await (const chunk of answer as AsyncIterable<unknown>) chunks.push(chunk);
        return {chunks};
    }
    return answer;
}

const weather = {type: "function", function: {name: "get_weather", parameters: {type: "object", properties: {city: {type: "string"}}}}};

/** A value for each chat row: what a client would send. Refused rows get a value that asks for what the worker does not do. */
const CHAT_SAMPLES: Record<keyof typeof CHAT_COMPLETION_FIELDS, Record<string, unknown>> = {
    messages: {messages: [user("x")]}, model: {model: "gpt-4o"}, max_tokens: {max_tokens: 2}, temperature: {temperature: 0.5},
    top_p: {top_p: 0.9}, frequency_penalty: {frequency_penalty: 0.5}, presence_penalty: {presence_penalty: 0.5},
    logit_bias: {logit_bias: {"40": 2}}, seed: {seed: 3}, stop: {stop: ["zz"]}, n: {n: 2}, stream: {stream: true},
    stream_options: {stream: true, stream_options: {include_usage: true}}, user: {user: "u-1"}, top_k: {top_k: 5}, min_p: {min_p: 0.05},
    repetition_penalty: {repetition_penalty: 1.2}, ignore_eos: {ignore_eos: true}, grammar: {grammar: "root ::= \"ok\""},
    sfw_mode: {sfw_mode: true}, max_completion_tokens: {max_tokens: null, max_completion_tokens: 2}, logprobs: {logprobs: true}, top_logprobs: {logprobs: true, top_logprobs: 2},
    response_format: {response_format: {type: "json_object"}}, tools: {tools: [weather]}, tool_choice: {tools: [weather], tool_choice: "none"},
    parallel_tool_calls: {tools: [weather], parallel_tool_calls: false}, modalities: {modalities: ["text", "audio"]},
    metadata: {metadata: {team: "a"}}, store: {store: true}, service_tier: {service_tier: "flex"}, safety_identifier: {safety_identifier: "h"},
    prompt_cache_key: {prompt_cache_key: "k"}, prompt_cache_retention: {prompt_cache_retention: "24h"},
    prompt_cache_options: {prompt_cache_options: {mode: "implicit"}}, audio: {audio: {voice: "alloy", format: "mp3"}},
    function_call: {function_call: "auto"}, functions: {functions: [{name: "f"}]},
    moderation: {moderation: {input: {type: "error"}, output: {type: "error"}}}, prediction: {prediction: {type: "content", content: "x"}},
    reasoning_effort: {reasoning_effort: "low"}, verbosity: {verbosity: "low"}, web_search_options: {web_search_options: {}}
};

const COMPLETION_SAMPLES: Record<keyof typeof COMPLETION_FIELDS, Record<string, unknown>> = {
    prompt: {prompt: "Once upon a time"}, model: {model: "gpt-3.5-turbo-instruct"}, max_tokens: {max_tokens: 2}, temperature: {temperature: 0.5},
    top_p: {top_p: 0.9}, frequency_penalty: {frequency_penalty: 0.5}, presence_penalty: {presence_penalty: 0.5},
    logit_bias: {logit_bias: {"40": 2}}, seed: {seed: 3}, stop: {stop: "zz"}, n: {n: 2}, stream: {stream: true},
    stream_options: {stream: true, stream_options: {include_usage: true}}, user: {user: "u-1"}, top_k: {top_k: 5}, min_p: {min_p: 0.05},
    repetition_penalty: {repetition_penalty: 1.2}, ignore_eos: {ignore_eos: true}, grammar: {grammar: "root ::= \"ok\""},
    sfw_mode: {sfw_mode: true}, echo: {echo: true}, logprobs: {logprobs: 2}, best_of: {best_of: 3}, suffix: {suffix: " the end."}
};

async function sweep(table: FieldTable, samples: Record<string, Record<string, unknown>>,
    send: (body: Record<string, unknown>) => Promise<unknown>, baseline: Record<string, unknown>, text: (answer: any) => string) {
    const plain = text(await send(baseline));
    for (const [field, row] of Object.entries(table)) {
        const body = {...baseline, ...samples[field]};
        const label = `${field}: ${JSON.stringify(samples[field])}`;
        if (row.support === "refused") {
            const err = await apiError(send(body));
            assert.equal(err.status, 400, label);
            assert.equal(err.param, field, label);
            assert.equal(err.code, "unsupported_parameter", label);
            assert.ok(err.message.includes(row.note), label);
            continue;
        }
        const answer = await settle(await send(body));
        assert.ok(answer != null, label);
        // Metadata changes nothing: the greedy answer is the one without the field.
        if (row.support === "metadata")
            assert.equal(text(answer), plain, label);
    }
}

test("the compatibility tables name exactly the fields the request schemas know", () => {
    const limits = {maxTokensLimit: 1, maxStopSequences: 1, maxHistoryMessages: 1};
    assert.deepEqual(Object.keys(CHAT_COMPLETION_FIELDS).sort(), Object.keys(chatCompletionRequestSchema(limits).properties).sort());
    assert.deepEqual(Object.keys(COMPLETION_FIELDS).sort(), Object.keys(completionRequestSchema(limits).properties).sort());
    assert.deepEqual(Object.keys(CHAT_SAMPLES).sort(), Object.keys(CHAT_COMPLETION_FIELDS).sort());
    assert.deepEqual(Object.keys(COMPLETION_SAMPLES).sort(), Object.keys(COMPLETION_FIELDS).sort());
});

test("every row of the chat completions table, through the client: honoured, no effect, or a 400 naming it", async () => {
    await sweep(CHAT_COMPLETION_FIELDS, CHAT_SAMPLES, (body) => client.chat.completions.create(body as never),
        {model: "any", messages: [user("sweep")], max_tokens: 4, temperature: 0},
        (answer) => answer.choices[0].message.content);
    // What a refused row lets through asks for nothing new.
    const textOnly = await client.chat.completions.create({model: "any", messages: [user("x")], max_tokens: 2, modalities: ["text"]});
    assert.equal(textOnly.choices[0].finish_reason, "length");
});

test("every row of the completions table, through the client", async () => {
    await sweep(COMPLETION_FIELDS, COMPLETION_SAMPLES, (body) => client.completions.create(body as never),
        {model: "any", prompt: "Once upon a time", max_tokens: 4, temperature: 0}, (answer) => answer.choices[0].text);
    const even = await client.completions.create({model: "any", prompt: "x", max_tokens: 2, n: 2, best_of: 2});
    assert.equal(even.choices.length, 2, "best_of equal to n needs no ranking");
});

test("a field in neither table is refused as OpenAI refuses it, at any depth", async () => {
    for (const [patch, param] of [
        [{future_field: true}, "future_field"], [{messages: [{role: "user", content: "x", foo: 1}]}, "messages[0].foo"],
        [{stream: true, stream_options: {include_usage: true, extra: 1}}, "stream_options.extra"]
    ] as const) {
        const err = await apiError(client.chat.completions.create({model: "any", messages: [user("x")], max_tokens: 2, ...patch} as never));
        assert.equal(err.status, 400);
        assert.equal(err.code, "unknown_parameter");
        assert.equal(err.param, param);
        assert.equal(err.error && (err.error as {message: string}).message, `Unrecognized request argument supplied: ${param}`);
    }
    const completion = await apiError(client.completions.create({model: "any", prompt: "x", best_of_n: 2} as never));
    assert.equal(completion.param, "best_of_n");
    const unstreamed = await apiError(client.chat.completions.create({model: "any", messages: [user("x")], stream_options: {include_usage: true}}));
    assert.equal(unstreamed.param, "stream_options", "usage for a stream that is not one would be ignored, so it is refused");
});

test("n: 3 gives three choices with their own index; choice i is what n: 1 answers with seed + i; the prompt is evaluated once", async () => {
    const hits = async () => ((await server.worker.metrics.cacheHits.get()).values.find((value) => value.labels.source === "restored")?.value ?? 0);
    const body = {model: "any", messages: [user(`A prompt long enough to share: ${"tokens ".repeat(40)}`)], max_tokens: 6, seed: 40, logprobs: true};
    const restoredBefore = await hits();
    const three = await client.chat.completions.create({...body, n: 3});
    assert.equal(await hits() - restoredBefore, 2, "two choices loaded the state the first one evaluated");
    assert.deepEqual(three.choices.map((choice) => choice.index), [0, 1, 2]);
    assert.equal(three.usage?.completion_tokens, 18);
    for (const index of [0, 1]) {
        const single = await client.chat.completions.create({...body, seed: 40 + index});
        assert.equal(three.choices[index].message.content, single.choices[0].message.content, `choice ${index}`);
        assert.deepEqual(three.choices[index].logprobs, single.choices[0].logprobs, `choice ${index}: the same numbers`);
        assert.equal(three.usage?.prompt_tokens, single.usage?.prompt_tokens, "the prompt is counted once");
    }

    // Streamed, each chunk names its choice, and each choice ends with its own finish chunk.
    const texts = ["", "", ""];
    const finishes: number[] = [];
    for await (const chunk of await client.chat.completions.create({...body, n: 3, stream: true})) {
        const [choice] = chunk.choices;
        texts[choice.index] += choice.delta.content ?? "";
        if (choice.finish_reason != null) finishes.push(choice.index);
    }
    assert.deepEqual(texts, three.choices.map((choice) => choice.message.content));
    assert.deepEqual(finishes.sort(), [0, 1, 2]);

    // Without a seed each choice samples on its own.
    const unseeded = await client.chat.completions.create({...body, seed: undefined, logprobs: false, n: 3, max_tokens: 12});
    assert.equal(new Set(unseeded.choices.map((choice) => choice.message.content)).size, 3);

    const tooMany = await apiError(client.chat.completions.create({...body, n: 5}));
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.param, "n");
    assert.match(tooMany.message, /at most 4/);
});

test("/v1/completions through completions.create: a raw prompt, text out, streaming and not", async () => {
    const body = {model: "any", prompt: "Once upon a time", max_tokens: 8, seed: 2, temperature: 0.7};
    const whole = await client.completions.create(body);
    assert.equal(whole.object, "text_completion");
    assert.match(whole.id, /^cmpl-/);
    assert.equal(whole.choices[0].finish_reason, "length");
    assert.equal(whole.usage?.completion_tokens, 8);
    assert.ok((whole.usage?.prompt_tokens ?? 0) < 20, "no chat template around the prompt");
    let streamed = "";
    for await (const chunk of await client.completions.create({...body, stream: true})) streamed += chunk.choices[0]?.text ?? "";
    assert.equal(streamed, whole.choices[0].text);

    const echoed = await client.completions.create({...body, echo: true});
    assert.equal(echoed.choices[0].text, body.prompt + whole.choices[0].text);
    const stopped = await client.completions.create({...body, stop: whole.choices[0].text.slice(3, 5)});
    assert.equal(stopped.choices[0].finish_reason, "stop");
    assert.equal(stopped.choices[0].text, whole.choices[0].text.slice(0, whole.choices[0].text.indexOf(whole.choices[0].text.slice(3, 5))));

    const scored = await client.completions.create({...body, logprobs: 2});
    const logprobs = scored.choices[0].logprobs!;
    assert.equal(logprobs.tokens!.join(""), scored.choices[0].text);
    assert.equal(logprobs.token_logprobs!.length, 8);
    assert.ok(logprobs.top_logprobs!.every((top) => Object.keys(top).length === 2));
    assert.deepEqual(logprobs.text_offset!.slice(0, 2), [0, logprobs.tokens![0].length]);

    // Special-token spellings in a raw prompt stay text, as everywhere.
    const spelled = await client.completions.create({...body, prompt: "<|im_start|>", max_tokens: 1});
    assert.ok((spelled.usage?.prompt_tokens ?? 0) > 1);
    for (const [prompt, pattern] of [[[1, 2, 3], /token ids/], [["a", "b"], /one prompt/]] as const) {
        const err = await apiError(client.completions.create({...body, prompt: prompt as never}));
        assert.equal(err.param, "prompt");
        assert.match(err.message, pattern);
    }
    const overflow = await apiError(client.completions.create({...body, prompt: "word ".repeat(900), max_tokens: 300}));
    assert.equal(overflow.code, "context_length_exceeded");
    assert.equal(overflow.param, "prompt");
});

test("frequency_penalty, presence_penalty and logit_bias change the answer as asked", async () => {
    const body = {model: "any", messages: [user("penalties")], max_tokens: 24, temperature: 0, logprobs: true};
    const plain = await client.chat.completions.create(body);
    const tokens = (answer: OpenAI.ChatCompletion) => answer.choices[0].logprobs!.content!.map((entry) => entry.token);
    const distinct = (answer: OpenAI.ChatCompletion) => new Set(tokens(answer)).size;
    for (const penalty of [{frequency_penalty: 2}, {presence_penalty: 2}]) {
        const penalized = await client.chat.completions.create({...body, ...penalty});
        assert.notEqual(penalized.choices[0].message.content, plain.choices[0].message.content, JSON.stringify(penalty));
        assert.ok(distinct(penalized) > distinct(plain), `${JSON.stringify(penalty)} repeats less: ${distinct(penalized)} vs ${distinct(plain)}`);
        // Deterministic with the penalty too: the same request (now with a warm prefix) answers the same.
        const again = await client.chat.completions.create({...body, ...penalty});
        assert.deepEqual(again.choices[0].logprobs, penalized.choices[0].logprobs);
    }

    const token = await server.worker.engine.specialTokenId("Q");
    assert.ok(token != null);
    const forced = await client.chat.completions.create({...body, temperature: 1, seed: 1, max_tokens: 5, logit_bias: {[token]: 100}});
    assert.equal(forced.choices[0].message.content, "QQQQQ");
    const first = tokens(plain)[0];
    const firstId = await server.worker.engine.specialTokenId(first);
    assert.ok(firstId != null, `"${first}" is one token`);
    const banned = await client.chat.completions.create({...body, logit_bias: {[firstId]: -100}});
    assert.notEqual(tokens(banned)[0], first);
    const unknown = await apiError(client.chat.completions.create({...body, logit_bias: {"99999999": 1}}));
    assert.equal(unknown.param, "logit_bias");
    assert.equal(unknown.status, 400);
});

test("the client's own retries work on our 429: Retry-After and retry-after-ms say when", async () => {
    // A worker with one sequence and no queue (ENGINE=openai in front of the test worker: no second model to load).
    const busy = await startUpstreamWorker(`${server.url}/v1`, {PARALLEL: "1", MAX_QUEUE: "0"});
    try {
        const holder = new AbortController();
        const holding = await fetch(`${busy.url}/v1/chat/completions`, {
            method: "POST", headers: {"content-type": "application/json"}, signal: holder.signal,
            body: JSON.stringify({messages: [user("hold")], max_tokens: 800, ignore_eos: true, stream: true})
        });
        assert.equal(holding.status, 200);
        const answers: Array<{status: number; retryAfter: string | null; retryAfterMs: string | null}> = [];
        const retrying = new OpenAI({
            baseURL: `${busy.url}/v1`, apiKey: "x", maxRetries: 2,
            fetch: async (url, init) => {
                const response = await fetch(url, init);
                answers.push({status: response.status, retryAfter: response.headers.get("retry-after"), retryAfterMs: response.headers.get("retry-after-ms")});
                // The sequence comes free while the client waits as told.
                if (response.status === 429) holder.abort();
                return response;
            }
        });
        const started = performance.now();
        const answer = await retrying.chat.completions.create({model: "any", messages: [user("retry")], max_tokens: 2});
        assert.equal(answer.choices[0].finish_reason, "length");
        assert.deepEqual(answers.map((entry) => entry.status), [429, 200]);
        assert.ok(Number(answers[0].retryAfter) >= 1);
        assert.equal(Number(answers[0].retryAfterMs), Number(answers[0].retryAfter) * 1000);
        assert.ok(performance.now() - started >= Number(answers[0].retryAfterMs) * 0.9, "the client waited as told");
        await until(() => busy.worker.scheduler.running === 0, 10_000, "the sequence to be released");
    } finally {
        await busy.close();
    }
});
