import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {startTestWorker, parseSse, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {toChatInput} from "../../src/service/requestShaping.js";
import {captureLogs} from "../helpers/logs.js";
import {apiError, user, withoutCached} from "../helpers/openaiMessages.js";

// The OpenAI-compatible API, driven by the official `openai` npm client against the real engine.

const logs = captureLogs();

let server: TestWorker;
let client: OpenAI;

before(async () => {
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800"}, logs.logger);
    client = new OpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0});
});
after(() => server.close());


test("a non-streaming chat completion through the openai client", async () => {
    const models = await client.models.list();
    assert.equal(models.data.length, 1);
    const modelId = models.data[0].id;
    assert.equal(modelId, server.worker.engine.info().modelName);
    assert.equal((models.data[0] as unknown as {max_model_len: number}).max_model_len, 1024);
    assert.equal((await client.models.retrieve(modelId)).id, modelId);

    const completion = await client.chat.completions.create({
        model: modelId,
        messages: [{role: "system", content: "You are terse."}, user("Hello"), {role: "assistant", content: "Hi."}, user("Again")],
        max_tokens: 12, seed: 7, user: "user-42"
    });
    assert.equal(completion.object, "chat.completion");
    assert.match(completion.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(completion.model, modelId);
    assert.equal(completion.choices.length, 1);
    const [choice] = completion.choices;
    assert.equal(choice.message.role, "assistant");
    assert.ok((choice.message.content ?? "").length > 0);
    assert.equal(choice.finish_reason, "length");
    assert.equal(completion.usage?.completion_tokens, 12);
    assert.ok((completion.usage?.prompt_tokens ?? 0) > 20);
    assert.equal(completion.usage?.total_tokens, (completion.usage?.prompt_tokens ?? 0) + 12);
    assert.ok(Math.abs(completion.created - Date.now() / 1000) < 60);

    // max_completion_tokens is the newer name for the same limit.
    const newer = await client.chat.completions.create({model: modelId, messages: [user("x")], max_completion_tokens: 3, seed: 1});
    assert.equal(newer.usage?.completion_tokens, 3);
});

test("system and developer messages reach the template's system message; roles and order are kept", async () => {
    const {status, json} = await postJson(`${server.url}/apply-template`, {messages: [
        {role: "developer", content: "Dev rules"}, user("first"), {role: "assistant", content: [{type: "text", text: "an"}, {type: "text", text: "swer"}]},
        user("second")
    ]});
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.prompt,
        "<|im_start|>system\nDev rules<|im_end|>\n<|im_start|>user\nfirst<|im_end|>\n<|im_start|>assistant\nan\nswer<|im_end|>\n" +
        "<|im_start|>user\nsecond<|im_end|>\n<|im_start|>assistant\n");
    assert.ok(json.prompt_tokens > 20);
});

test("streaming: chat.completion.chunk events, usage on request, ending with [DONE]", async () => {
    const body = {model: "any", messages: [user("stream this")], max_tokens: 10, seed: 11, temperature: 0.8};
    const whole = await client.chat.completions.create(body);

    const stream = await client.chat.completions.create({...body, stream: true, stream_options: {include_usage: true}});
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.every((chunk) => chunk.object === "chat.completion.chunk" && chunk.id === chunks[0].id));
    assert.deepEqual(chunks[0].choices[0].delta, {role: "assistant", content: ""});
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, whole.choices[0].message.content, "same seed, same text, streamed or not");
    const finishes = chunks.filter((chunk) => chunk.choices[0]?.finish_reason != null);
    assert.equal(finishes.length, 1);
    assert.equal(finishes[0].choices[0].finish_reason, "length");
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(withoutCached(last.usage), withoutCached(whole.usage), "same counts; cached_tokens differs once the prefix is warm");
    assert.ok(chunks.slice(0, -1).every((chunk) => chunk.usage === null), "usage is null until the last chunk");

    // On the wire: data-only events and the closing [DONE]; without include_usage there is no usage chunk.
    const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({...body, stream: true})
    });
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = parseSse(await response.text());
    assert.ok(events.every((event) => event.event === null));
    assert.equal(events.at(-1)!.data, "[DONE]");
    assert.ok(events.slice(0, -1).every((event) => !("usage" in JSON.parse(event.data))));
});

test("stop (a string or a list) ends the answer before the stop text, with finish_reason stop", async () => {
    const body = {model: "any", messages: [user("stop test")], max_tokens: 40, temperature: 0, seed: 1};
    const free = await client.chat.completions.create(body);
    const text = free.choices[0].message.content ?? "";
    const stopAt = text.slice(8, 10);
    for (const stop of [stopAt, [stopAt, "never-appears"]]) {
        const stopped = await client.chat.completions.create({...body, stop});
        assert.equal(stopped.choices[0].finish_reason, "stop");
        assert.equal(stopped.choices[0].message.content, text.slice(0, text.indexOf(stopAt)));
    }
});

const personSchema = {
    type: "object",
    properties: {
        name: {type: "string", minLength: 1, maxLength: 12},
        age: {type: "integer"},
        admin: {type: "boolean"},
        color: {enum: ["red", "green", "blue"]},
        tags: {type: "array", items: {type: "string", maxLength: 6}, maxItems: 3},
        nickname: {anyOf: [{type: "string", maxLength: 8}, {type: "null"}]}
    },
    required: ["name", "age", "admin", "color", "tags"],
    additionalProperties: false
} as const;

/** Checks the output against personSchema, keyword by keyword (every keyword it uses). */
function assertPerson(value: unknown, context: string): void {
    assert.ok(typeof value === "object" && value != null && !Array.isArray(value), context);
    const record = value as Record<string, unknown>;
    for (const key of personSchema.required) assert.ok(key in record, `${context}: ${key} is required`);
    for (const key of Object.keys(record)) assert.ok(key in personSchema.properties, `${context}: unexpected ${key}`);
    assert.equal(typeof record.name, "string", context);
    assert.ok((record.name as string).length >= 1 && (record.name as string).length <= 12, context);
    assert.ok(Number.isInteger(record.age) && Number.isFinite(record.age), context);
    assert.equal(typeof record.admin, "boolean", context);
    assert.ok(["red", "green", "blue"].includes(record.color as string), context);
    assert.ok(Array.isArray(record.tags) && record.tags.length <= 3, context);
    for (const tag of record.tags as unknown[]) assert.ok(typeof tag === "string" && tag.length <= 6, context);
    if ("nickname" in record)
        assert.ok(record.nickname === null || (typeof record.nickname === "string" && record.nickname.length <= 8), context);
}

test("response_format json_schema: the output parses and validates against the schema, across seeds", async () => {
    const responseFormat = {type: "json_schema" as const, json_schema: {name: "person", schema: personSchema, strict: true}};
    for (const seed of [1, 2, 3, 4, 5]) {
        const completion = await client.chat.completions.create({
            model: "any", messages: [user("Describe a person as JSON")], max_tokens: 200, seed, temperature: 1, response_format: responseFormat
        } as OpenAI.ChatCompletionCreateParamsNonStreaming);
        const {content} = completion.choices[0].message;
        assert.equal(completion.choices[0].finish_reason, "stop", `seed ${seed}: ${content}`);
        assertPerson(JSON.parse(content ?? ""), `seed ${seed}: ${content}`);
    }
    // Streamed, the concatenated deltas are the same JSON.
    const stream = await client.chat.completions.create({
        model: "any", messages: [user("Describe a person as JSON")], max_tokens: 200, seed: 9, response_format: responseFormat, stream: true
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
    assertPerson(JSON.parse(streamed), `streamed: ${streamed}`);

    // Cut short by max_tokens, it says so, as OpenAI does.
    const cut = await client.chat.completions.create({
        model: "any", messages: [user("Describe a person as JSON")], max_tokens: 4, seed: 1, response_format: responseFormat
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(cut.choices[0].finish_reason, "length");
    assert.throws(() => JSON.parse(cut.choices[0].message.content ?? ""));
});

test("response_format json_object gives a JSON object whenever the answer completes", async () => {
    let completed = 0;
    for (const seed of [1, 2, 3]) {
        const completion = await client.chat.completions.create({
            model: "any", messages: [user("JSON please")], max_tokens: 40, seed, temperature: 1, response_format: {type: "json_object"}
        });
        const content = completion.choices[0].message.content ?? "";
        assert.ok(content.startsWith("{"), content);
        if (completion.choices[0].finish_reason === "stop") {
            completed++;
            const parsed: unknown = JSON.parse(content);
            assert.ok(typeof parsed === "object" && parsed != null && !Array.isArray(parsed), content);
        } else
            assert.equal(completion.choices[0].finish_reason, "length");
    }
    assert.ok(completed >= 1, "seed 1 completes a JSON object within 40 tokens");
});

test("what we cannot honour is refused in OpenAI's error envelope, naming the field", async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{top_logprobs: 2}, "top_logprobs", /requires logprobs: true/],
        [{logprobs: true, top_logprobs: 21}, "top_logprobs", /must be <= 20/],
        [{tool_choice: "required", tools: []}, "tool_choice", /needs tools/],
        [{max_tokens: 5, max_completion_tokens: 6}, "max_tokens", /disagrees/],
        [{max_tokens: 801}, "max_tokens", /must be <= 800/],
        [{temperature: "hot"}, "temperature", /temperature/],
        [{messages: []}, "messages", /messages/],
        [{messages: [{role: "function", name: "f", content: "x"}]}, "messages[0].role", /must be one of/],
        [{messages: [{role: "user", content: [{type: "image_url", image_url: {url: "http://x"}}]}]}, "messages[0].content[0]", /only text parts/],
        [{response_format: {type: "json_schema", json_schema: {name: "p", schema: {type: "array", uniqueItems: true}}}}, "response_format", /uniqueItems: true: a grammar cannot compare/],
        [{response_format: {type: "xml"}}, "response_format.type", /must be one of/]
    ];
    for (const [patch, param, pattern] of cases) {
        const err = await apiError(client.chat.completions.create({model: "any", messages: [user("x")], max_tokens: 2, ...patch} as never));
        assert.equal(err.status, 400, JSON.stringify(patch));
        assert.equal(err.type, "invalid_request_error", JSON.stringify(patch));
        assert.equal(err.param, param, JSON.stringify(patch));
        assert.equal(typeof err.code, "string");
        assert.match(err.message, pattern, JSON.stringify(patch));
    }
    const raw = await postJson(`${server.url}/v1/chat/completions`, {messages: [user("x")], n: 99});
    assert.deepEqual(Object.keys(raw.json), ["error"]);
    assert.deepEqual(Object.keys(raw.json.error).sort(), ["code", "message", "param", "type"]);
    const missing = await postJson(`${server.url}/v1/nope`, {});
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.type, "not_found_error");
    assert.equal((await apiError(client.models.retrieve("other-model"))).status, 404);

    // What a client sends is honoured or changes nothing; none of it is logged as text.
    const secret = "SECRET-PROMPT-TEXT";
    const accepted = await client.chat.completions.create({
        model: "any", messages: [user(secret)], max_tokens: 2, frequency_penalty: 0.5, presence_penalty: 0.1, logit_bias: {"1": 5},
        metadata: {a: "b"}, store: false, n: 1, tools: [{type: "function", function: {name: "f"}}], tool_choice: "auto"
    });
    assert.equal(accepted.choices[0].finish_reason, "length");
    assert.ok(!JSON.stringify(logs.records()).includes(secret), "prompt text never reaches the log");
});

test("a context overflow is a 400 in OpenAI's shape that gives the token counts", async () => {
    const err = await apiError(client.chat.completions.create({model: "any", messages: [user("y".repeat(900))], max_tokens: 200}));
    assert.equal(err.status, 400);
    assert.equal(err.code, "context_length_exceeded");
    assert.equal(err.param, "messages");
    assert.equal(err.type, "invalid_request_error");
    assert.match(err.message, /need \d+ tokens and max_tokens asks for 200, \d+ in all, but the context holds 1024 tokens/);
});

test("a client that drops a stream stops its generation and frees the sequence", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create({
        model: "any", messages: [user("a long answer")], max_tokens: 800, ignore_eos: true, stream: true
    } as OpenAI.ChatCompletionCreateParamsStreaming, {signal: controller.signal});
    let received = 0;
    // The client ends the iteration quietly (or throws) once aborted; either way the connection is gone.
    await (async () => {
        for await (const chunk of stream)
            if ((chunk.choices[0]?.delta.content ?? "") !== "" && ++received === 3) controller.abort();
    })().catch(() => undefined);
    // Chunks the client had already read may still be handed out after the abort.
    assert.ok(received >= 3, `${received} chunks`);
    await until(() => server.worker.scheduler.running === 0, 10_000, "the sequence to be released");
    const line = logs.records().find((entry) => entry.msg === "chat completion completed" && entry.finishReason === "abort");
    assert.ok(line, "the generation ended as aborted");
    assert.ok((line.completionTokens as number) < 800, `stopped after ${String(line.completionTokens)} tokens`);
});

test("messages split like /chat's input: leading system pinned, last message pinned, the rest droppable history", async () => {
    const m = (role: "system" | "user" | "assistant", content: string) => ({role, content});
    assert.deepEqual(toChatInput([m("system", "a"), m("system", "b"), m("user", "1"), m("assistant", "2"), m("user", "3")]), {
        prefix: [m("system", "a"), m("system", "b")], history: [m("user", "1"), m("assistant", "2")], tail: [m("user", "3")]
    });
    assert.deepEqual(toChatInput([m("user", "only")]), {prefix: [], history: [], tail: [m("user", "only")]});
    assert.deepEqual(toChatInput([m("system", "s")]), {prefix: [], history: [], tail: [m("system", "s")]});

    // A conversation longer than the context loses its oldest turns instead of failing.
    const turns = Array.from({length: 12}, (_, i) => m(i % 2 === 0 ? "user" : "assistant", `turn ${i} ` + "x".repeat(90)));
    const completion = await client.chat.completions.create({
        model: "any", messages: [m("system", "SYSTEM"), ...turns, m("user", "latest")], max_tokens: 500,
        grammar: 'root ::= "ok"'
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(completion.choices[0].message.content, "ok");
    const promptTokens = completion.usage?.prompt_tokens ?? 0;
    assert.ok(promptTokens > 100 && promptTokens + 500 <= 1024, `prompt_tokens ${promptTokens}`);
});

/** Usage without the cache figure, which depends on what earlier requests left in the sequences. */

test("logprobs and top_logprobs come back in OpenAI's shape, streaming and not, one entry per token", async () => {
    const request = {model: "any", messages: [user("logprobs please")], max_tokens: 12, temperature: 0, seed: 5, logprobs: true, top_logprobs: 3};
    const answer = await client.chat.completions.create(request);
    const content = answer.choices[0].logprobs?.content ?? [];
    assert.equal(content.length, answer.usage?.completion_tokens);
    assert.equal(content.map((entry) => entry.token).join(""), answer.choices[0].message.content);
    for (const entry of content) {
        assert.ok(entry.logprob <= 0);
        assert.deepEqual(entry.bytes, [...Buffer.from(entry.token, "utf8")]);
        assert.equal(entry.top_logprobs.length, 3);
        // Greedy: the chosen token is the most likely one.
        assert.equal(entry.top_logprobs[0].logprob, entry.logprob);
        assert.ok(entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob);
    }
    const streamed = [];
    for await (const chunk of await client.chat.completions.create({...request, stream: true}))
        for (const item of chunk.choices[0]?.logprobs?.content ?? []) streamed.push(item);
    assert.deepEqual(streamed, content, "the stream carries the same entries");
    const plain = await client.chat.completions.create({...request, logprobs: false, top_logprobs: undefined});
    assert.equal(plain.choices[0].logprobs, null);
});

