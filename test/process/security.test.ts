import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {ONE_THREAD} from "../helpers/opsHelpers.js";
import {captureLogs} from "../helpers/logs.js";
import {SECURITY_HEADERS} from "../../src/http/security.js";
import {PAGE_CSP} from "../../src/http/pages.js";

const KEY = "sec-key-5c1f9a0d7e";
const ORIGIN = "https://app.example.com";
const PROMPT_MARKER = "zebra-quartz-secret-prompt-8841";
const logs = captureLogs("debug");
let server: TestWorker;
let plain: TestWorker;

before(async () => {
    server = await startTestWorker({
        ...ONE_THREAD, PARALLEL: "1", WORKER_API_KEY: KEY, CORS_ORIGINS: `${ORIGIN}, http://localhost:3000`,
        HEADERS_TIMEOUT_SECONDS: "1", BODY_TIMEOUT_SECONDS: "2", REQUEST_TIMEOUT_SECONDS: "0.5",
        CONTEXT_SIZE: "16384", MAX_TOKENS_LIMIT: "16000", LOG_LEVEL: "debug"
    }, logs.logger);
    plain = await startTestWorker({...ONE_THREAD, PARALLEL: "1"});
});
after(async () => {
    await server?.close();
    await plain?.close();
});

const auth = {authorization: `Bearer ${KEY}`};

function assertSecurityHeaders(headers: Headers | Record<string, unknown>, label: string): void {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        const got = headers instanceof Headers ? headers.get(name) : headers[name];
        assert.equal(got, value, `${label}: ${name}`);
    }
}

test("security headers are on JSON, error, 401, 404 and SSE responses", async () => {
    assertSecurityHeaders((await fetch(`${server.url}/health`)).headers, "/health");
    assertSecurityHeaders((await fetch(`${server.url}/model/info`)).headers, "401");
    assertSecurityHeaders((await fetch(`${server.url}/nope`, {headers: auth})).headers, "404");
    assertSecurityHeaders((await postJson(`${server.url}/chat`, {message: 5}, auth)).headers, "400");
    assertSecurityHeaders((await postJson(`${plain.url}/chat`, {message: "hi", max_tokens: 2})).headers, "200 without CORS or key");
    const sse = await fetch(`${server.url}/chat`, {
        method: "POST", headers: {...auth, "content-type": "application/json", origin: ORIGIN},
        body: JSON.stringify({message: "hi", max_tokens: 2, stream: true})
    });
    assert.match(sse.headers.get("content-type") ?? "", /text\/event-stream/);
    assertSecurityHeaders(sse.headers, "SSE");
    assert.equal(sse.headers.get("access-control-allow-origin"), ORIGIN, "SSE carries CORS for a listed origin");
    assert.match(await sse.text(), /event: done/);
});

test("the pages get a CSP for their own files only, and every other security header; the API keeps its own", async () => {
    // The directives a page must not get: inline or eval'd script, other origins, framing.
    assert.doesNotMatch(PAGE_CSP, /unsafe-inline|unsafe-eval|\*|https?:/);
    assert.match(PAGE_CSP, /default-src 'none'/);
    assert.match(PAGE_CSP, /frame-ancestors 'none'/);
    for (const url of ["/", "/playground", "/playground/main.js", "/docs", "/docs/static/swagger-ui.css"]) {
        const {headers, status} = await fetch(`${server.url}${url}`);
        assert.equal(status, 200, url);
        assert.equal(headers.get("content-security-policy"), PAGE_CSP, url);
        for (const [name, value] of Object.entries(SECURITY_HEADERS))
            if (name !== "content-security-policy") assert.equal(headers.get(name), value, `${url}: ${name}`);
    }
    // The document the docs page reads is data: the API's headers, the key required.
    const document = await fetch(`${server.url}/docs/json`, {headers: auth});
    assert.equal(document.status, 200);
    assertSecurityHeaders(document.headers, "/docs/json");
});

test("CORS is off unless CORS_ORIGINS lists origins", async () => {
    const response = await fetch(`${plain.url}/health`, {headers: {origin: ORIGIN}});
    assert.equal(response.headers.get("access-control-allow-origin"), null);
    const preflight = await fetch(`${plain.url}/chat`, {
        method: "OPTIONS", headers: {origin: ORIGIN, "access-control-request-method": "POST"}
    });
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    assert.ok(preflight.status >= 400 && preflight.status < 500, `preflight without CORS: ${preflight.status}`);
});

test("a listed origin's preflight works without the key; other origins get no CORS headers", async () => {
    const preflight = await fetch(`${server.url}/chat`, {
        method: "OPTIONS",
        headers: {origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type"}
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /authorization/);
    assert.match(preflight.headers.get("vary") ?? "", /origin/i);

    const other = await fetch(`${server.url}/chat`, {
        method: "OPTIONS", headers: {origin: "https://evil.example", "access-control-request-method": "POST"}
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    assert.equal(other.status, 401, "an unlisted origin's preflight is not answered before auth");

    const actual = await fetch(`${server.url}/model/info`, {headers: {...auth, origin: ORIGIN}});
    assert.equal(actual.status, 200);
    assert.equal(actual.headers.get("access-control-allow-origin"), ORIGIN);
    assert.match(actual.headers.get("access-control-expose-headers") ?? "", /retry-after/);
    const noKey = await fetch(`${server.url}/model/info`, {headers: {origin: ORIGIN}});
    assert.equal(noKey.status, 401, "CORS does not bypass the key for real requests");
});

/** Opens a raw socket, writes `head` then drips `drip` one byte per 100 ms; resolves with what the server sent and when it closed. */
function slowClient(port: number, head: string, drip: string): Promise<{reply: string; ms: number}> {
    return new Promise((resolve, reject) => {
        const started = performance.now();
        const socket = net.connect(port, "127.0.0.1");
        let reply = "";
        let index = 0;
        let timer: NodeJS.Timeout | undefined;
        socket.setEncoding("utf8");
        socket.on("connect", () => {
            socket.write(head);
            timer = setInterval(() => {
                if (index < drip.length && socket.writable) socket.write(drip[index++]);
            }, 100);
        });
        socket.on("data", (chunk: string) => reply += chunk);
        socket.on("error", () => undefined);
        socket.on("close", () => {
            clearInterval(timer);
            resolve({reply, ms: performance.now() - started});
        });
        // A safety net only: the assertion below fails if the server never closes.
        setTimeout(() => {
            socket.destroy();
            reject(new Error("the server never closed the slow connection"));
        }, 15_000).unref();
    });
}

test("slow-loris: headers or a body arriving byte by byte are cut off by the server timeouts", async () => {
    const port = Number(new URL(server.url).port);
    const headers = slowClient(port, "POST /chat HTTP/1.1\r\n", `host: x\r\nauthorization: Bearer ${KEY}\r\n`.repeat(20));
    const body = JSON.stringify({message: "x".repeat(400), max_tokens: 2});
    const slowBody = slowClient(port,
        `POST /chat HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
        body);
    const [h, b] = await Promise.all([headers, slowBody]);
    assert.ok(h.ms < 5000, `slow headers cut after ${h.ms.toFixed(0)} ms (HEADERS_TIMEOUT_SECONDS=1)`);
    assert.ok(b.ms < 6000, `slow body cut after ${b.ms.toFixed(0)} ms (BODY_TIMEOUT_SECONDS=2)`);
    assert.ok(b.ms > 1500, `the body had its BODY_TIMEOUT_SECONDS (${b.ms.toFixed(0)} ms)`);
    for (const reply of [h.reply, b.reply])
        assert.ok(reply === "" || /^HTTP\/1\.1 408/.test(reply), `cut with 408 or a plain close: ${reply.slice(0, 40)}`);
    assert.equal((await postJson(`${server.url}/chat`, {message: "after", max_tokens: 2}, auth)).status, 200, "still serving");
});

test("REQUEST_TIMEOUT_SECONDS ends a generation with its partial text and finish_reason timeout", async () => {
    const started = performance.now();
    const {status, json} = await postJson(`${server.url}/chat`, {message: "long", max_tokens: 16000, ignore_eos: true}, auth);
    const ms = performance.now() - started;
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.finish_reason, "timeout");
    assert.ok(json.usage.completion_tokens > 0 && json.usage.completion_tokens < 16000, `partial: ${json.usage.completion_tokens} tokens`);
    assert.ok(json.response.length > 0, "the partial text is returned");
    assert.ok(ms < 5000, `bounded: ${ms.toFixed(0)} ms`);
    assert.equal(server.worker.scheduler.running, 0);
});

test("error bodies never carry stack traces or file paths", async () => {
    const bodies: string[] = [];
    const send = async (path: string, init: RequestInit) => bodies.push(await (await fetch(`${server.url}${path}`, init)).text());
    const json = {...auth, "content-type": "application/json"};
    await send("/chat", {method: "POST", headers: json, body: "{\"message\": "});
    await send("/chat", {method: "POST", headers: json, body: "{\"message\": \"\\ud800\", \"max_tokens\": -1}"});
    await send("/chat", {method: "POST", headers: {...auth, "content-type": "text/plain"}, body: "hi"});
    await send("/chat", {method: "POST", headers: json, body: JSON.stringify({message: "x", max_tokens: 1e308})});
    await send("/v1/chat/completions", {method: "POST", headers: json, body: "[1,2"});
    await send("/enhance", {method: "POST", headers: json, body: JSON.stringify({prompt: 1})});
    await send("/memory/load", {method: "POST", headers: json, body: "{\"force\": \"yes\"}"});
    await send("/../../etc/passwd", {headers: auth});
    await send("/chat", {method: "POST", headers: {"content-type": "application/json"}, body: "{}"});
    await send("/chat", {method: "POST", headers: json, body: JSON.stringify({message: "x".repeat(2_000_000)})});
    assert.equal(bodies.length, 10);
    for (const body of bodies) {
        assert.doesNotMatch(body, /\n\s+at |\bat [\w.<>]+ \(|node_modules|\/work\/|\/src\/|\.ts:\d+|\.js:\d+|stack/i, body);
        assert.doesNotMatch(body, new RegExp(process.cwd().replace(/[/\\.]/g, "\\$&")), body);
        assert.ok(JSON.parse(body).success === false || JSON.parse(body).error != null, body);
    }
});

test("logs never contain the API key or prompt text", async () => {
    await postJson(`${server.url}/chat`, {message: `${PROMPT_MARKER} user`, system_prompt: `${PROMPT_MARKER} system`, max_tokens: 3}, auth);
    await postJson(`${server.url}/chat`, {message: `${PROMPT_MARKER} bad`, max_tokens: "x"}, auth);
    await postJson(`${server.url}/v1/chat/completions`, {messages: [{role: "user", content: `${PROMPT_MARKER} openai`}], max_tokens: 3}, auth);
    await postJson(`${server.url}/chat`, {message: PROMPT_MARKER}, {authorization: `Bearer ${KEY}-wrong`});
    await postJson(`${server.url}/chat`, {message: PROMPT_MARKER}, {authorization: `Bearer ${PROMPT_MARKER}`});
    const text = logs.lines.join("");
    assert.ok(logs.lines.length > 10, `logs were captured (${logs.lines.length} lines)`);
    assert.ok(text.includes("request completed") || text.includes("incoming request"), "request logs are there");
    assert.equal(text.includes(KEY), false, "the API key is not logged");
    assert.equal(text.includes(PROMPT_MARKER), false, "prompt text is not logged");
});
