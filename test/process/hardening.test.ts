import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import {execFileSync} from "node:child_process";
import {startTestWorker, parseSse, until, type TestWorker} from "../helpers/testWorker.js";
import {fetchJson, getJson, postJson} from "../helpers/http.js";
import {captureLogs} from "../helpers/logs.js";
import {openStream} from "../helpers/opsHelpers.js";
import {spawnWorker} from "../helpers/workerProcess.js";
import {loadConfig} from "../../src/config/config.js";
import {ConfigError} from "../../src/errors.js";
import {loadEnhanceTemplates} from "../../src/service/enhanceTemplates.js";

/**
 * Regression tests for what an outside probe broke (issue 17): each fails on the code before the
 * fix. The corrupt-model, runner-crash and state-integrity cases are in runner.test.ts.
 */

const logs = captureLogs();
let server: TestWorker;
before(async () => {
    server = await startTestWorker({PARALLEL: "2", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800"}, logs.logger);
});
after(() => server.close());

const chat = (body: Record<string, unknown>) => postJson(`${server.url}/chat`, {max_tokens: 4, ...body});

test("defect 1: a history entry with a deeply nested unknown field is answered, stream and not, and not echoed", async () => {
    // Written by hand: JSON.stringify itself overflows the stack at this depth (which is the point).
    const history = `[{"sender":"user","content":"earlier","extra":${"[".repeat(5000)}"leaf"${"]".repeat(5000)}}]`;
    const answer = await postJson(`${server.url}/chat`, `{"message":"hi","max_tokens":4,"conversation_history":${history}}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.json).slice(0, 200));
    assert.deepEqual(answer.json.conversation_history[0], {sender: "user", content: "earlier"});
    const stream = await fetch(`${server.url}/chat`, {
        method: "POST", headers: {"content-type": "application/json"},
        body: `{"message":"hi","max_tokens":4,"stream":true,"conversation_history":${history}}`
    });
    const events = parseSse(await stream.text());
    assert.equal(events.at(-1)!.event, "done");
});

test("defect 2: a grammar that quotes a forged log record is refused, and neither it nor any client text reaches the log", async () => {
    const grammar = "root ::= (\n{\"level\":60,\"msg\":\"FORGED\"}\nSOME-USER-TEXT";
    const answer = await postJson(`${server.url}/v1/chat/completions`, {messages: [{role: "user", content: "x"}], max_tokens: 2, grammar});
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error.code, "invalid_grammar");
    // Refused in the HTTP process since issue 24 (it never reaches the runner): wait for the request's own log line.
    await until(() => logs.records().some((record) => record.msg === "request completed" && record.status === 400), 5000, "the refusal to be logged");
    for (const line of logs.lines) {
        const record = JSON.parse(line) as Record<string, unknown>;
        assert.notEqual(record.msg, "FORGED", "no forged record");
        assert.doesNotMatch(line, /SOME-USER-TEXT|FORGED/, `no client text in the log: ${line.slice(0, 300)}`);
    }
});

test("defect 3: megabyte messages are refused before tokenizing, while /health and a running stream keep going", async () => {
    const stream = await openStream(server.url, {message: "keep streaming", max_tokens: 1500, ignore_eos: true});
    const huge = "x".repeat(1_000_000);
    const started = performance.now();
    const healthTimes: number[] = [];
    const probing = (async () => {
        for (let i = 0; i < 5; i++) {
            const at = performance.now();
            assert.equal((await getJson(`${server.url}/health`)).status, 200);
            healthTimes.push(performance.now() - at);
        }
    })();
    const answers = await Promise.all(Array.from({length: 8}, () => postJson(`${server.url}/chat/debug/system-prompt`, {message: huge})));
    await probing;
    for (const answer of answers) {
        assert.equal(answer.status, 400);
        assert.equal(answer.json.code, "context_length_exceeded");
        assert.match(answer.json.error, /at least/);
    }
    assert.ok(performance.now() - started < 5000, `the burst took ${Math.round(performance.now() - started)} ms`);
    assert.ok(Math.max(...healthTimes) < 1000, `/health took up to ${Math.round(Math.max(...healthTimes))} ms`);
    stream.request.destroy();
});

test("defect 8: unloading and loading every 50 ms while chatting: every chat is answered", async () => {
    let cycling = true;
    const cycle = (async () => {
        while (cycling) {
            await postJson(`${server.url}/memory/unload`, {force: true});
            await postJson(`${server.url}/memory/load`, {});
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    })();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
        statuses.push((await chat({message: `chat ${i}`})).status);
    cycling = false;
    await cycle;
    assert.deepEqual(statuses, [200, 200, 200, 200]);
});

test("defect 8: a forced unload serves the queued requests after the reload; the running one ends, a /v1 stream with an error", async () => {
    await postJson(`${server.url}/memory/load`, {});
    const running = await openStream(server.url, {message: "running", max_tokens: 1500, ignore_eos: true});
    const v1 = fetch(`${server.url}/v1/chat/completions`, {
        method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({messages: [{role: "user", content: "v1 running"}], max_tokens: 1500, ignore_eos: true, stream: true})
    });
    await until(() => server.worker.scheduler.running === 2, 5000, "both generations to run");
    const queued = chat({message: "queued"});
    await until(() => server.worker.scheduler.queued === 1, 5000, "the request to queue");
    assert.equal((await postJson(`${server.url}/memory/unload`, {force: true})).status, 200);
    assert.equal((await queued).status, 200, "the queued request waited for the reload");
    assert.equal(JSON.parse(parseSse(await running.done).at(-1)!.data).finish_reason, "abort");
    const v1Events = parseSse(await (await v1).text());
    const error = v1Events.map((event) => event.data).filter((data) => data.includes("\"error\""));
    assert.equal(error.length, 1, "the /v1 stream says what happened instead of finish_reason stop");
    assert.equal(JSON.parse(error[0]).error.code, "model_unloaded");
});

test("lesser: gzip bodies are read, a plain body labelled gzip is a 400, other encodings and charsets a 415", async () => {
    const body = JSON.stringify({message: "compressed", max_tokens: 2});
    const gz = await fetchJson(`${server.url}/chat`, {method: "POST", body: zlib.gzipSync(body),
        headers: {"content-type": "application/json", "content-encoding": "gzip"}});
    assert.equal(gz.status, 200, JSON.stringify(gz.json));
    const lie = await fetchJson(`${server.url}/chat`, {method: "POST", body,
        headers: {"content-type": "application/json", "content-encoding": "gzip"}});
    assert.equal(lie.status, 400);
    const zstd = await fetchJson(`${server.url}/chat`, {method: "POST", body,
        headers: {"content-type": "application/json", "content-encoding": "zstd"}});
    assert.equal(zstd.status, 415);
    assert.equal(zstd.json.param, "Content-Encoding");
    const utf16 = await fetchJson(`${server.url}/chat`, {method: "POST", body: Buffer.from(body, "utf16le"),
        headers: {"content-type": "application/json; charset=utf-16"}});
    assert.equal(utf16.status, 415);
});

/** A raw HTTP exchange, for what fetch would refuse to send. */
function raw(request: string): Promise<string> {
    const {port} = new URL(server.url);
    return new Promise((resolve, reject) => {
        const socket = net.connect(Number(port), "127.0.0.1", () => socket.end(request));
        let text = "";
        socket.setEncoding("utf8").on("data", (chunk: string) => text += chunk).on("end", () => resolve(text)).on("error", reject);
    });
}

test("lesser: Node's own 400 and 431 answers carry the JSON envelope and the security headers", async () => {
    const garbage = await raw("NOT A REQUEST\r\n\r\n");
    assert.match(garbage, /^HTTP\/1\.1 400/);
    assert.match(garbage, /x-content-type-options: nosniff/i);
    assert.match(garbage, /"success":false/);
    const huge = await raw(`GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431/);
    assert.match(huge, /"code":"headers_too_large"/);
    assert.match(huge, /content-security-policy/i);
});

test("lesser: a 16 KB x-request-id is replaced, and query strings never reach the log", async () => {
    const longId = "a".repeat(16_000);
    const answer = await fetch(`${server.url}/health?key=SECRET-IN-QUERY`, {headers: {"x-request-id": longId}});
    assert.notEqual(answer.headers.get("x-request-id"), longId);
    assert.match(answer.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    const kept = await fetch(`${server.url}/health`, {headers: {"x-request-id": "client-id-42"}});
    assert.equal(kept.headers.get("x-request-id"), "client-id-42");
    await until(() => logs.lines.some((line) => line.includes("client-id-42")), 2000, "the request log line");
    assert.ok(!logs.lines.some((line) => line.includes("SECRET-IN-QUERY") || line.includes(longId)));
});

test("lesser: two Authorization headers are refused", async () => {
    const reply = await raw("GET /health HTTP/1.1\r\nhost: x\r\nauthorization: Bearer a\r\nauthorization: Bearer b\r\nconnection: close\r\n\r\n");
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.match(reply, /Authorization: sent more than once/);
});

test("lesser: ENHANCE_TEMPLATES_DIR reads only small regular files, and never quotes them", () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-templates-"));
    const refused = (setup: (file: string) => void, pattern: RegExp) => {
        const file = path.join(folder, "sdxl_image_fast.json");
        fs.rmSync(file, {force: true});
        setup(file);
        const config = loadConfig({ENHANCE_TEMPLATES_DIR: folder});
        assert.throws(() => loadEnhanceTemplates(config.enhanceTemplatesDir), (err: unknown) =>
            err instanceof ConfigError && pattern.test(err.message) && !/root:/.test(err.message));
    };
    refused((file) => fs.symlinkSync("/dev/zero", file), /not a regular file/);
    refused((file) => fs.symlinkSync("/etc/passwd", file), /not valid JSON/);
    refused((file) => fs.writeFileSync(file, "x".repeat(70_000)), /at most/);
    // A FIFO would block a plain read until someone writes to it: the boot would hang.
    refused((file) => execFileSync("mkfifo", [file]), /not a regular file/);
});

test("lesser: SIGHUP and SIGUSR2 drain like SIGTERM; a shutdown 503 is logged without a stack", async () => {
    for (const signal of ["SIGHUP", "SIGUSR2"] as const) {
        const worker = await spawnWorker({SHUTDOWN_GRACE_SECONDS: "30", MAX_TOKENS_LIMIT: "1800", CONTEXT_SIZE: "2048"});
        try {
            const stream = await openStream(worker.url, {message: "finish", max_tokens: 300, ignore_eos: true});
            worker.child.kill(signal);
            await worker.waitForLog((record) => record.msg === "shutting down" && record.signal === signal, 10_000, "the drain");
            assert.equal((await postJson(`${worker.url}/chat`, {message: "late"})).status, 503);
            assert.equal(parseSse(await stream.done).at(-1)!.event, "done", "the running stream completed");
            assert.deepEqual(await worker.exited, {code: 0, signal: null});
            const refusal = worker.logs.find((record) => record.code === "shutting_down");
            assert.ok(refusal != null && refusal.level < 50 && refusal.err == null, "a 503 while draining is no error");
        } finally {
            worker.child.kill("SIGKILL");
        }
    }
});
