import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import type {IncomingMessage, ServerResponse} from "node:http";
import OpenAI from "openai";
import {startTestWorker, startUpstreamWorker, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {startFakeUpstream, json, chunk, openStream, streamAnswer, type FakeUpstream} from "../helpers/fakeUpstream.js";
import type {UpstreamEngine} from "../../src/engine/upstream/upstreamEngine.js";
import {upstreamRequestBody} from "../../src/engine/upstream/upstreamRequest.js";
import type {SamplingParams} from "../../src/engine/types.js";
import {captureLogs} from "../helpers/logs.js";
import {user, withoutCached} from "../helpers/openaiMessages.js";

// ENGINE=openai in front of a real embedded worker's /v1 (and of fake vLLM-like upstreams): the
// OpenAI API, grammars, prompt rendering, disconnects and the engine's reports. The /chat contract
// tests run through the same chain in test/process/chatUpstream.test.ts.

const upstreamLogs = captureLogs();

let upstream: TestWorker;
let front: TestWorker<UpstreamEngine>;
let viaFront: OpenAI;
let direct: OpenAI;

before(async () => {
    upstream = await startTestWorker({MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "1024"}, upstreamLogs.logger);
    // The front's own CONTEXT_SIZE is a fallback: the upstream's /models says 1024.
    front = await startUpstreamWorker(`${upstream.url}/v1`, {MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "4096"});
    viaFront = new OpenAI({baseURL: `${front.url}/v1`, apiKey: "x", maxRetries: 0});
    direct = new OpenAI({baseURL: `${upstream.url}/v1`, apiKey: "x", maxRetries: 0});
});
after(async () => {
    await front.close();
    await upstream.close();
});


test("the front reports the upstream's model and context, and null memory figures", async () => {
    const engine = front.worker.engine;
    assert.equal(engine.status().state, "ready");
    assert.equal(engine.contextSize, 1024, "max_model_len from the upstream's /models");
    const upstreamModel = upstream.worker.engine.info().modelName;
    const info = engine.info();
    assert.equal(info.engine, "openai");
    assert.equal(info.modelName, upstreamModel);
    assert.equal(info.parallel, 4);
    assert.equal(info.modelPath, null);
    const models = await viaFront.models.list();
    assert.deepEqual(models.data.map((model) => [model.id, model.owned_by]), [[upstreamModel, "upstream"]]);
    assert.deepEqual(await engine.memory(), {
        deviceType: "upstream", device: null, deviceName: null, memoryKind: null, totalBytes: null, usedBytes: null, freeBytes: null, modelBytes: null
    });
});

test("the openai client through the front gets what the upstream itself answers, streaming and not", async () => {
    const body = {model: "m", messages: [{role: "system" as const, content: "S"}, user("hello there")], max_tokens: 12, seed: 21, temperature: 0.9};
    const [fromFront, fromUpstream] = await Promise.all([viaFront.chat.completions.create(body), direct.chat.completions.create(body)]);
    assert.equal(fromFront.choices[0].message.content, fromUpstream.choices[0].message.content);
    assert.equal(fromFront.choices[0].finish_reason, "length");
    assert.deepEqual(withoutCached(fromFront.usage), withoutCached(fromUpstream.usage));

    const stream = await viaFront.chat.completions.create({...body, stream: true, stream_options: {include_usage: true}});
    let text = "";
    let usage = null;
    for await (const part of stream) {
        text += part.choices[0]?.delta.content ?? "";
        usage = part.usage ?? usage;
    }
    assert.equal(text, fromUpstream.choices[0].message.content);
    assert.deepEqual(withoutCached(usage), withoutCached(fromUpstream.usage));
});

test("json_schema passes through to the upstream's grammar: the output validates, across seeds", async () => {
    const schema = {
        type: "object",
        properties: {answer: {enum: ["yes", "no", "maybe"]}, confidence: {type: "integer"}, note: {type: "string", maxLength: 10}},
        required: ["answer", "confidence", "note"]
    };
    for (const seed of [1, 2, 3]) {
        const completion = await viaFront.chat.completions.create({
            model: "m", messages: [user("answer as JSON")], max_tokens: 120, seed,
            response_format: {type: "json_schema", json_schema: {name: "answer", schema, strict: true}}
        });
        const content = completion.choices[0].message.content ?? "";
        assert.equal(completion.choices[0].finish_reason, "stop", content);
        const value = JSON.parse(content) as {answer: string; confidence: number; note: string};
        assert.deepEqual(Object.keys(value).sort(), ["answer", "confidence", "note"], content);
        assert.ok(["yes", "no", "maybe"].includes(value.answer), content);
        assert.ok(Number.isInteger(value.confidence), content);
        assert.ok(typeof value.note === "string" && value.note.length <= 10, content);
    }
    // The upstream's refusal of a schema it cannot enforce comes back as the 400 it is.
    const refused = await postJson(`${front.url}/v1/chat/completions`, {
        messages: [user("x")], response_format: {type: "json_schema", json_schema: {name: "p", schema: {type: "array", uniqueItems: true}}}
    });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error.message, /uniqueItems: true: a grammar cannot compare/);
});

test("a GBNF grammar passes through to the upstream (llama-server's `grammar` field)", async () => {
    const seen = new Set<string>();
    for (const seed of [1, 2, 3, 4]) {
        const completion = await viaFront.chat.completions.create({
            model: "m", messages: [user("yes or no?")], max_tokens: 10, seed, grammar: 'root ::= "yes" | "no"'
        } as OpenAI.ChatCompletionCreateParamsNonStreaming);
        const content = completion.choices[0].message.content ?? "";
        assert.ok(content === "yes" || content === "no", content);
        assert.equal(completion.choices[0].finish_reason, "stop");
        seen.add(content);
    }
    assert.ok(seen.size >= 1);

    // The field each kind of upstream reads, chosen by UPSTREAM_GRAMMAR_FIELD.
    const params: SamplingParams = {
        maxTokens: 5, temperature: 0, topP: 1, topK: 0, minP: 0, repetitionPenalty: 1, seed: null, stop: [], ignoreEos: false,
        frequencyPenalty: 0, presencePenalty: 0, logitBias: [], grammar: {type: "gbnf", grammar: "root ::= \"a\""}
    };
    const messages = {messages: [{role: "user" as const, content: "x"}], text: null};
    assert.equal(upstreamRequestBody("m", params, messages, "grammar").grammar, "root ::= \"a\"");
    assert.equal(upstreamRequestBody("m", params, messages, "guided_grammar").guided_grammar, "root ::= \"a\"");
    assert.deepEqual(upstreamRequestBody("m", params, messages, "structured_outputs").structured_outputs, {grammar: "root ::= \"a\""});
    assert.deepEqual(upstreamRequestBody("m", {...params, grammar: {type: "json_object"}}, messages, "grammar").response_format,
        {type: "json_object"});
});

test("a client that disconnects from the front cancels the upstream's generation", async () => {
    const controller = new AbortController();
    const stream = await viaFront.chat.completions.create({
        model: "m", messages: [user("a very long answer")], max_tokens: 800, ignore_eos: true, stream: true
    } as OpenAI.ChatCompletionCreateParamsStreaming, {signal: controller.signal});
    let received = 0;
    await (async () => {
        for await (const part of stream)
            if ((part.choices[0]?.delta.content ?? "") !== "" && ++received === 3) controller.abort();
    })().catch(() => undefined);
    // Chunks already read before the abort may still be handed out; the point is that the upstream stops.
    assert.ok(received >= 3, `${received} chunks`);
    await until(() => front.worker.scheduler.running === 0 && upstream.worker.scheduler.running === 0, 10_000,
        "both workers to release their sequences");
    await until(() => upstreamLogs.records().some((line) => line.msg === "chat completion completed" && line.finishReason === "abort"), 10_000,
        "the upstream to log the aborted generation");
    const aborted = upstreamLogs.records().find((line) => line.msg === "chat completion completed" && line.finishReason === "abort")!;
    assert.ok((aborted.completionTokens as number) < 800, `the upstream stopped after ${String(aborted.completionTokens)} tokens`);
});

test("through the front: a forced tool call, n choices and /v1/completions are what the upstream itself answers", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{type: "function", function: {
        name: "pick", parameters: {type: "object", properties: {color: {enum: ["red", "blue"]}, count: {type: "integer"}}, required: ["color", "count"]}
    }}];
    const body: OpenAI.ChatCompletionCreateParamsNonStreaming = {
        model: "m", messages: [user("pick one")], tools, tool_choice: {type: "function", function: {name: "pick"}}, max_tokens: 120, seed: 3
    };
    const [fromFront, fromUpstream] = await Promise.all([viaFront.chat.completions.create(body), direct.chat.completions.create(body)]);
    assert.equal(fromFront.choices[0].finish_reason, "tool_calls");
    const call = (answer: OpenAI.ChatCompletion) => (answer.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function;
    assert.deepEqual(call(fromFront), call(fromUpstream));
    const args = JSON.parse(call(fromFront).arguments);
    assert.ok(["red", "blue"].includes(args.color) && Number.isInteger(args.count), call(fromFront).arguments);
    const streamed = await viaFront.chat.completions.stream({...body, stream: true}).finalChatCompletion();
    assert.deepEqual(call(streamed), call(fromUpstream), "streamed through the front, the pieces assemble to the same call");

    const two = {model: "m", messages: [user("two answers")], max_tokens: 5, seed: 8, n: 2};
    const [frontTwo, upstreamTwo] = await Promise.all([viaFront.chat.completions.create(two), direct.chat.completions.create(two)]);
    assert.deepEqual(frontTwo.choices.map((choice) => choice.message.content), upstreamTwo.choices.map((choice) => choice.message.content));

    const prompt = {model: "m", prompt: "Once upon a time", max_tokens: 6, seed: 2, frequency_penalty: 1};
    const [frontText, upstreamText] = await Promise.all([viaFront.completions.create(prompt), direct.completions.create(prompt)]);
    assert.equal(frontText.choices[0].text, upstreamText.choices[0].text);
    assert.equal(frontText.usage?.completion_tokens, 6);
});

/** A fake upstream that streams forever, one chunk every 20 ms, until the client hangs up. */
function endless(_req: IncomingMessage, res: ServerResponse): void {
    openStream(res);
    const timer = setInterval(() => res.write(chunk("x")), 20);
    res.on("close", () => clearInterval(timer));
}

test("against a fake upstream: /chat disconnects hang up on it, and PARALLEL bounds the requests it gets", async () => {
    const fake = await startFakeUpstream();
    const worker = await startUpstreamWorker(fake.baseUrl, {PARALLEL: "2"});
    try {
        fake.on("POST /v1/chat/completions", endless);
        const controller = new AbortController();
        const response = await fetch(`${worker.url}/chat`, {
            method: "POST", headers: {"content-type": "application/json"}, signal: controller.signal,
            body: JSON.stringify({message: "go", stream: true})
        });
        const reader = response.body!.getReader();
        let seen = "";
        while (!seen.includes("event: token")) {
            const {done, value} = await reader.read();
            assert.ok(!done, `the stream ended before a token: ${seen}`);
            seen += new TextDecoder().decode(value);
        }
        controller.abort();
        await until(() => fake.requests.some((request) => request.path === "/v1/chat/completions" && request.abandoned), 5000,
            "the upstream request to be dropped");
        await until(() => worker.worker.scheduler.running === 0, 5000, "the sequence to be released");

        fake.on("POST /v1/chat/completions", (_req, res) => setTimeout(() => streamAnswer(res, ["ok"]), 50));
        const answers = await Promise.all(Array.from({length: 5}, () => postJson(`${worker.url}/chat`, {message: "hi"})));
        assert.deepEqual(answers.map((answer) => answer.json.response), ["ok", "ok", "ok", "ok", "ok"]);
        assert.equal(fake.maxOpen, 2, "no more than PARALLEL requests reach the upstream at once");
    } finally {
        await worker.close();
        await fake.close();
    }
});

test("the debug endpoint renders with the upstream's template when it has one, and says plainly when it does not", async () => {
    // vLLM: POST /tokenize with messages, POST /detokenize of the tokens.
    const vllm = await startFakeUpstream();
    vllm.on("POST /tokenize", (_req, res, body) => json(res, 200, {
        count: 3 + body.messages.length, max_model_len: 2048, tokens: body.messages.map((_: unknown, index: number) => index)
    }));
    vllm.on("POST /detokenize", (_req, res, body) => json(res, 200, {prompt: `<rendered ${body.tokens.length} messages>`}));
    const overVllm = await startUpstreamWorker(vllm.baseUrl);
    // An upstream with neither endpoint (Ollama, TGI).
    const opaque = await startFakeUpstream();
    opaque.on("POST /v1/chat/completions", (_req, res) => streamAnswer(res, ["fine"]));
    const overOpaque = await startUpstreamWorker(opaque.baseUrl);
    try {
        const request = {message: "test message", system_prompt: "You are a helpful assistant."};
        const rendered = await postJson(`${overVllm.url}/chat/debug/system-prompt`, request);
        assert.equal(rendered.status, 200, JSON.stringify(rendered.json));
        assert.equal(rendered.json.rendered_prompt, "<rendered 2 messages>");
        assert.equal(rendered.json.prompt_tokens, 5);
        assert.equal(rendered.json.rendered_by, "upstream");
        assert.equal(rendered.json.rendering_note, null);
        assert.equal(overVllm.worker.engine.templateSource, "tokenize");
        assert.equal(overVllm.worker.engine.contextSize, 2048);

        const unknown = await postJson(`${overOpaque.url}/chat/debug/system-prompt`, request);
        assert.equal(unknown.status, 200, JSON.stringify(unknown.json));
        assert.equal(unknown.json.rendered_prompt, null);
        assert.equal(unknown.json.prompt_tokens, null);
        assert.equal(unknown.json.rendered_by, "upstream");
        assert.match(unknown.json.rendering_note, /Rendering is the upstream's/);
        assert.equal(unknown.json.no_override_detected, false, "what cannot be checked is not claimed");
        assert.equal(unknown.json.system_prompt_used, "You are a helpful assistant.");
        assert.deepEqual(unknown.json.messages_built, [
            {role: "system", content: "You are a helpful assistant."}, {role: "user", content: "test message"}
        ]);
        // Without a token count the front cannot fit, so it forwards; the chat itself still works.
        const answer = await postJson(`${overOpaque.url}/chat`, request);
        assert.equal(answer.json.response, "fine");
    } finally {
        await Promise.all([overVllm.close(), overOpaque.close()]);
        await Promise.all([vllm.close(), opaque.close()]);
    }
});

test("unload stops forwarding until the next request loads it again, as with the embedded engine", async () => {
    const engine = front.worker.engine;
    await postJson(`${front.url}/memory/unload`, {});
    assert.equal(engine.status().state, "unloaded");
    const health = await (await fetch(`${front.url}/health`)).json() as any;
    assert.equal(health.model_loaded, false);
    assert.equal(engine.status().state, "unloaded", "background probes do not undo an unload");
    const lazy = await postJson(`${front.url}/chat`, {message: "hi", max_tokens: 2});
    assert.equal(lazy.status, 200, "the next request loads (probes) the upstream again");
    assert.equal(engine.status().state, "ready");
});

/** Usage without the cache figure, which depends on what earlier requests left in the sequences. */
