import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import type {ServerResponse} from "node:http";
import OpenAI, {APIError} from "openai";
import {startUpstreamWorker, parseSse, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {startFakeUpstream, closedPort, json, chunk, openStream, streamAnswer, type FakeUpstream, type Handler} from "../helpers/fakeUpstream.js";
import type {UpstreamEngine} from "../../src/engine/upstream/upstreamEngine.js";
import {captureLogs} from "../helpers/logs.js";

// ENGINE=openai against an upstream that misbehaves on purpose: every fault becomes a clear 502,
// 503 or 504 (or the 4xx the upstream meant) within UPSTREAM_TIMEOUT_SECONDS, never a hang or a 500.

const API_KEY = "sk-test-very-secret";
const logs = captureLogs();

let fake: FakeUpstream;
let front: TestWorker<UpstreamEngine>;

before(async () => {
    fake = await startFakeUpstream();
    front = await startUpstreamWorker(fake.baseUrl, {UPSTREAM_TIMEOUT_SECONDS: "1", UPSTREAM_API_KEY: API_KEY},
        logs.logger);
    assert.equal(front.worker.engine.status().state, "ready", front.worker.engine.status().reason ?? "");
});
after(async () => {
    await front.close();
    await fake.close();
});

const chat = (body: Record<string, unknown> = {}) => postJson(`${front.url}/chat`, {message: "hello", max_tokens: 8, ...body});

interface Fault {
    name: string;
    handler: Handler;
    status: number;
    code: string;
    message: RegExp;
    retryAfter?: string;
}

const SLOW_MS = 3000;
const stall = (res: ServerResponse) => setTimeout(() => res.destroy(), SLOW_MS * 2).unref();

const faults: Fault[] = [
    {
        name: "connection dropped before answering", handler: (req) => req.socket.destroy(),
        status: 502, code: "upstream_connection_failed", message: /connection to the upstream at http:\/\/127\.0\.0\.1:\d+\/v1 failed/
    },
    {
        name: "no answer within the timeout", handler: (_req, res) => stall(res),
        status: 504, code: "upstream_timeout", message: /did not answer \/v1\/chat\/completions within UPSTREAM_TIMEOUT_SECONDS \(1 s\)/
    },
    {
        name: "500 with OpenAI's error envelope", handler: (_req, res) => json(res, 500, {error: {message: "CUDA error: out of memory", type: "server_error"}}),
        status: 502, code: "upstream_error", message: /failed \(HTTP 500\): CUDA error: out of memory/
    },
    {
        name: "502 with an HTML page", handler: (_req, res) => {
            res.writeHead(502, {"content-type": "text/html"});
            res.end("<html><body><h1>502 Bad Gateway</h1></body></html>");
        },
        status: 502, code: "upstream_error", message: /HTTP 502.*Bad Gateway/
    },
    {
        name: "503 with Retry-After", handler: (_req, res) => json(res, 503, {error: {message: "loading model"}}, {"retry-after": "7"}),
        status: 503, code: "upstream_unavailable", message: /unavailable \(HTTP 503\): loading model/, retryAfter: "7"
    },
    {
        name: "429", handler: (_req, res) => json(res, 429, {error: {message: "too many requests"}}, {"retry-after": "3"}),
        status: 429, code: "upstream_overloaded", message: /overloaded \(HTTP 429\)/, retryAfter: "3"
    },
    {
        name: "401", handler: (_req, res) => json(res, 401, {error: {message: "invalid api key"}}),
        status: 502, code: "upstream_auth", message: /refused our credentials \(HTTP 401\); check UPSTREAM_API_KEY/
    },
    {
        name: "400 context overflow (vLLM's wording)", handler: (_req, res) => json(res, 400, {
            object: "error", type: "BadRequestError", code: 400,
            message: "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (100 in the messages, 2000 in the completion)."
        }),
        status: 400, code: "context_length_exceeded", message: /maximum context length is 2048 tokens.*2100 tokens/
    },
    {
        name: "400 for another reason", handler: (_req, res) => json(res, 400, {error: {message: "temperature out of range", param: "temperature"}}),
        status: 400, code: "upstream_rejected", message: /rejected the request \(HTTP 400\): temperature out of range/
    },
    {
        name: "a malformed stream", handler: (_req, res) => {
            openStream(res);
            res.write(chunk("Hel"));
            res.end("data: {this is not json\n\n");
        },
        status: 502, code: "upstream_malformed_stream", message: /sent a malformed stream: an event that is not JSON/
    },
    {
        name: "a chunk without choices", handler: (_req, res) => {
            openStream(res);
            res.end(`data: ${JSON.stringify({object: "something.else"})}\n\n`);
        },
        status: 502, code: "upstream_malformed_stream", message: /a chunk without a choices array/
    },
    {
        name: "a stream that stalls", handler: (_req, res) => {
            openStream(res);
            res.write(chunk("Hel"));
            stall(res);
        },
        status: 504, code: "upstream_timeout", message: /UPSTREAM_TIMEOUT_SECONDS \(1 s\)/
    },
    {
        name: "a connection that breaks mid-stream", handler: (_req, res) => {
            openStream(res);
            res.write(chunk("Hel"), () => setImmediate(() => res.socket?.destroy()));
        },
        status: 502, code: "upstream_connection_failed", message: /broke mid-stream/
    },
    {
        name: "a stream that ends before finishing", handler: (_req, res) => {
            openStream(res);
            res.write(chunk("Hel"));
            res.end();
        },
        status: 502, code: "upstream_stream_incomplete", message: /closed the stream before the answer was complete/
    },
    {
        name: "an error event mid-stream", handler: (_req, res) => {
            openStream(res);
            res.write(chunk("Hel"));
            res.end(`data: ${JSON.stringify({error: {message: "engine died", code: 500}})}\n\n`);
        },
        status: 502, code: "upstream_stream_error", message: /failed mid-stream: engine died/
    }
];

test("each upstream fault maps to its status with a clear message, within the timeout", async () => {
    for (const fault of faults) {
        fake.on("POST /v1/chat/completions", fault.handler);
        const started = performance.now();
        const {status, headers, json: body} = await chat();
        const seconds = (performance.now() - started) / 1000;
        assert.equal(status, fault.status, `${fault.name}: ${JSON.stringify(body)}`);
        assert.equal(body.success, false, fault.name);
        assert.equal(body.code, fault.code, `${fault.name}: ${JSON.stringify(body)}`);
        assert.match(body.error, fault.message, fault.name);
        assert.doesNotMatch(JSON.stringify(body), /\n\s+at |node:internal|\.ts:\d+/, `${fault.name}: no stack trace`);
        assert.ok(seconds < 2.5, `${fault.name}: answered in ${seconds.toFixed(2)} s`);
        if (fault.retryAfter != null)
            assert.equal(headers.get("retry-after"), fault.retryAfter, fault.name);
        await until(() => front.worker.scheduler.running === 0, 2000, `${fault.name}: the sequence to be released`);
    }
    // The request carried the key; nothing we answered or logged did.
    const forwarded = fake.requests.filter((request) => request.path === "/v1/chat/completions");
    assert.ok(forwarded.length >= faults.length);
    assert.ok(forwarded.every((request) => request.headers.authorization === `Bearer ${API_KEY}`));
    assert.ok(!logs.lines.join("").includes(API_KEY), "the API key is never logged");
});

test("a fault after the stream started becomes an error event; the OpenAI API reports it in its own envelope", async () => {
    fake.on("POST /v1/chat/completions", faults.find((fault) => fault.name === "a stream that stalls")!.handler);
    const response = await fetch(`${front.url}/chat`, {
        method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({message: "hi", stream: true})
    });
    assert.equal(response.status, 200);
    const events = parseSse(await response.text());
    assert.deepEqual(events.map((event) => event.event), ["token", "error"]);
    assert.equal(JSON.parse(events[0].data).text, "Hel");
    assert.equal(JSON.parse(events[1].data).code, "upstream_timeout");

    const client = new OpenAI({baseURL: `${front.url}/v1`, apiKey: "x", maxRetries: 0});
    fake.on("POST /v1/chat/completions", faults.find((fault) => fault.name === "a malformed stream")!.handler);
    const stream = await client.chat.completions.create({model: "m", messages: [{role: "user", content: "hi"}], stream: true});
    let text = "";
    const err = await (async () => {
        for await (const part of stream) text += part.choices[0]?.delta.content ?? "";
    })().then(() => null, (caught: unknown) => caught);
    assert.equal(text, "Hel");
    assert.ok(err instanceof APIError, String(err));
    assert.equal(err.code, "upstream_malformed_stream");
    assert.equal(err.type, "server_error");

    fake.on("POST /v1/chat/completions", faults.find((fault) => fault.name === "500 with OpenAI's error envelope")!.handler);
    const plain = await postJson(`${front.url}/v1/chat/completions`, {messages: [{role: "user", content: "hi"}]});
    assert.equal(plain.status, 502);
    assert.deepEqual(plain.json, {error: {
        message: plain.json.error.message, type: "server_error", param: null, code: "upstream_error"
    }});
});

test("an upstream that refuses connections: 503 naming it, and health says it is unreachable", async () => {
    const port = await closedPort();
    const down = await startUpstreamWorker(`http://127.0.0.1:${port}/v1`, {UPSTREAM_TIMEOUT_SECONDS: "1"});
    try {
        const status = down.worker.engine.status();
        assert.equal(status.state, "failed");
        assert.match(status.reason ?? "", new RegExp(`upstream at http://127\\.0\\.0\\.1:${port}/v1 is unreachable \\(ECONNREFUSED\\)`));
        const started = performance.now();
        const {status: code, headers, json: body} = await postJson(`${down.url}/chat`, {message: "hi"});
        assert.equal(code, 503);
        assert.equal(body.code, "model_not_ready");
        assert.match(body.error, /unreachable \(ECONNREFUSED\)/);
        assert.ok(headers.get("retry-after") != null);
        assert.ok(performance.now() - started < 2000);
    } finally {
        await down.close();
    }
    const named = await startUpstreamWorker(`http://127.0.0.1:${port}/v1`, {UPSTREAM_TIMEOUT_SECONDS: "1", UPSTREAM_MODEL: "m"});
    try {
        const {status, json: body} = await postJson(`${named.url}/chat`, {message: "hi"});
        assert.equal(status, 503);
        assert.equal(body.code, "upstream_unreachable");
    } finally {
        await named.close();
    }
});

test("health follows the upstream: ready, then failed when it goes away, then ready when it is back", async () => {
    const flaky = await startFakeUpstream();
    const port = flaky.port;
    const watcher = await startUpstreamWorker(flaky.baseUrl, {UPSTREAM_TIMEOUT_SECONDS: "1"});
    try {
        const engine = watcher.worker.engine;
        assert.equal(engine.status().state, "ready");
        await flaky.close();
        await until(() => engine.status().state === "failed", 10_000, "the engine to notice the upstream is gone");
        assert.match(engine.status().reason ?? "", /unreachable/);
        const back = await startFakeUpstream(port);
        try {
            await until(() => engine.status().state === "ready", 10_000, "the engine to notice the upstream is back");
        } finally {
            await back.close();
        }
    } finally {
        await watcher.close();
    }
});

test("a well-behaved fake upstream: the request we forward, and answers without [DONE] or without streaming", async () => {
    fake.on("POST /v1/chat/completions", (_req, res) => streamAnswer(res, ["Hel", "lo"]));
    const before = fake.requests.length;
    const {status, json: body} = await chat({
        system_prompt: "SYS", max_tokens: 9, seed: 5, temperature: 0.3, top_k: 12, min_p: 0.05, repetition_penalty: 1.2,
        stop: ["END"], conversation_history: [{sender: "user", content: "earlier"}, {sender: "assistant", content: "reply"}]
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.response, "Hello");
    assert.equal(body.finish_reason, "stop");
    assert.deepEqual(body.usage, {prompt_tokens: 11, completion_tokens: 2, total_tokens: 13, cached_tokens: 0});
    assert.equal(body.model_info.model_name, "fake/model-7b");
    const sent = fake.requests.slice(before).find((request) => request.path === "/v1/chat/completions")!.body;
    assert.deepEqual(sent, {
        model: "fake/model-7b",
        messages: [
            {role: "system", content: "SYS"}, {role: "user", content: "earlier"}, {role: "assistant", content: "reply"},
            {role: "user", content: "hello"}
        ],
        stream: true, stream_options: {include_usage: true}, max_tokens: 9, temperature: 0.3, top_p: 0.9, seed: 5,
        stop: ["END"], top_k: 12, min_p: 0.05, repetition_penalty: 1.2
    });

    // Some upstreams end without [DONE] after the finish chunk, or ignore `stream` altogether.
    fake.on("POST /v1/chat/completions", (_req, res) => {
        openStream(res);
        res.write(chunk("Hi"));
        res.end(chunk(null, "length"));
    });
    const noDone = await chat();
    assert.equal(noDone.json.response, "Hi");
    assert.equal(noDone.json.finish_reason, "length");
    fake.on("POST /v1/chat/completions", (_req, res) => json(res, 200, {
        object: "chat.completion", choices: [{index: 0, message: {role: "assistant", content: "Whole"}, finish_reason: "stop"}],
        usage: {prompt_tokens: 4, completion_tokens: 1, total_tokens: 5}
    }));
    const whole = await chat();
    assert.equal(whole.json.response, "Whole");
    assert.equal(whole.json.usage.completion_tokens, 1);
});
