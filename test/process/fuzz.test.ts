import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import fc from "fast-check";
import {startTestWorker, testModelPath, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson, speaksOpenAi} from "../helpers/http.js";
import {ONE_THREAD} from "../helpers/opsHelpers.js";
import {registeredRoutes} from "../../src/http/app.js";

/**
 * Property-based input fuzzing over real HTTP against every POST route. Whatever arrives, the
 * worker answers 2xx or 4xx JSON (errors with a `code`), never 5xx, never hangs, never crashes,
 * and a normal /chat works afterwards. Generation is kept tiny (MAX_TOKENS_LIMIT=4) so the
 * valid cases that do reach the model stay fast.
 */

let server: TestWorker;
let postRoutes: string[] = [];
const RUNS = Number(process.env.FUZZ_RUNS ?? 2500);

before(async () => {
    // A chat model and an embedding model, so that /v1/embeddings is fuzzed past its model check.
    const model = await testModelPath();
    server = await startTestWorker({
        ...ONE_THREAD, MODELS: `chat=${model},embed=${model}?kind=embedding`, PARALLEL: "2", MAX_QUEUE: "1000", MAX_TOKENS_LIMIT: "4", DEFAULT_MAX_TOKENS: "2",
        CONTEXT_SIZE: "512", REQUEST_TIMEOUT_SECONDS: "5"
    });
    postRoutes = [...new Set(registeredRoutes(server.worker.app).filter((route) => route.method === "POST").map((route) => route.url))].sort();
});
after(() => server?.close());

/** A valid body per route, which mutations then break (or keep valid). */
const VALID: Record<string, Record<string, unknown>> = {
    "/chat": {message: "hi", system_prompt: "be brief", conversation_history: [{sender: "user", content: "a"}], max_tokens: 2, stop: ["\n"]},
    "/chat/debug/system-prompt": {message: "hi", system_prompt: "be brief"},
    "/generate": {messages: [{role: "system", content: "s"}, {role: "user", content: "hi"}], max_tokens: 2, frequency_penalty: 0.5},
    "/enhance": {prompt: "a cat", job_type: "image"},
    "/enhance/legacy": {prompt: "a cat", job_type: "image"},
    "/v1/chat/completions": {messages: [{role: "system", content: "s"}, {role: "user", content: "hi"}], max_tokens: 2},
    "/v1/completions": {prompt: "hi", max_tokens: 2},
    "/v1/embeddings": {input: ["hi", "there"], encoding_format: "float"},
    "/v1/responses": {input: [{role: "system", content: "s"}, {role: "user", content: "hi"}], max_output_tokens: 2},
    "/apply-template": {messages: [{role: "user", content: "hi"}]},
    "/memory/load": {},
    "/memory/unload": {force: false}
};

/** Raw JSON number spellings JSON.stringify cannot produce. */
const RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e308", "1e309", "-1", "-0", "0", "2.5", "9007199254740993", "1e-400", "0x10"];

const weird: fc.Arbitrary<unknown> = fc.oneof(
    fc.jsonValue({maxDepth: 3}),
    fc.constantFrom(null, true, false, -1, 0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0.5, "", "\u0000", "\ud800", "\uffff"),
    fc.string({unit: "grapheme", maxLength: 40}),
    fc.integer({min: 1000, max: 300_000}).map((length) => "x".repeat(length)),
    fc.integer({min: 1, max: 200}).map((depth) => JSON.parse("[".repeat(depth) + "]".repeat(depth)) as unknown),
    fc.array(fc.record({sender: fc.constantFrom("user", "assistant", "bot"), content: fc.string()}), {maxLength: 30})
);

type Case = {route: string; contentType: string | null; body: Buffer; label: string};

const FIELDS = ["message", "system_prompt", "conversation_history", "max_tokens", "stop", "temperature", "top_p", "seed", "stream",
    "messages", "prompt", "job_type", "force", "model", "conversation_id", "frequency_penalty", "sfw_mode", "__proto__", "constructor", "extra"];

function mutatedObject(route: string): fc.Arbitrary<string> {
    return fc.tuple(
        fc.array(fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(weird, fc.constant(undefined))), {maxLength: 4}),
        fc.option(fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...RAW_NUMBERS)), {nil: undefined})
    ).map(([changes, rawNumber]) => {
        const body: Record<string, unknown> = {...VALID[route]};
        for (const [field, value] of changes) {
            if (value === undefined) delete body[field];
            else body[field] = value;
        }
        let text = JSON.stringify(body);
        if (rawNumber != null)
            text = text.replace(/}$/, `${text === "{}" ? "" : ","}"${rawNumber[0]}":${rawNumber[1]}}`);
        return text;
    });
}

function caseFor(route: string): fc.Arbitrary<Case> {
    const json = (label: string, arbitrary: fc.Arbitrary<string>) =>
        arbitrary.map((text): Case => ({route, contentType: "application/json", body: Buffer.from(text, "utf8"), label}));
    return fc.oneof(
        {weight: 3, arbitrary: json("mutated", mutatedObject(route))},
        {weight: 2, arbitrary: json("random json", fc.jsonValue({maxDepth: 4}).map((value) => JSON.stringify(value) ?? "null"))},
        {weight: 1, arbitrary: json("valid", fc.constant(JSON.stringify(VALID[route])))},
        {weight: 1, arbitrary: json("truncated", fc.tuple(mutatedObject(route), fc.nat()).map(([text, cut]) => text.slice(0, cut % Math.max(1, text.length))))},
        {weight: 1, arbitrary: json("deep nesting", fc.integer({min: 1000, max: 200_000}).map((depth) => `{"message":${"[".repeat(depth)}${"]".repeat(depth)}}`))},
        {weight: 1, arbitrary: fc.tuple(fc.uint8Array({minLength: 1, maxLength: 64}), fc.constantFrom(0x00, 0xc0, 0xff, 0xed, 0x80)).map(([bytes, bad]): Case => {
            // invalid UTF-8 (or a NUL byte) inside a string field
            const prefix = Buffer.from(`{"message":"a`), suffix = Buffer.from(`","prompt":"p","messages":[]}`);
            return {route, contentType: "application/json", body: Buffer.concat([prefix, Buffer.from(bytes), Buffer.from([bad]), suffix]), label: "bad utf-8"};
        })},
        {weight: 1, arbitrary: fc.tuple(fc.constantFrom(null, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
            "application/xml", "application/json; charset=latin1", "application/json; charset=utf-16", "*/*", "application/jsonx"),
        mutatedObject(route)).map(([contentType, text]): Case => ({route, contentType, body: Buffer.from(text), label: `content-type ${contentType}`}))}
    );
}

interface Answer {
    status: number;
    contentType: string;
    text: string;
}

async function send(c: Case): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (c.contentType != null) headers["content-type"] = c.contentType;
    const response = await fetch(`${server.url}${c.route}`, {method: "POST", headers, body: new Uint8Array(c.body), signal: AbortSignal.timeout(15_000)});
    return {status: response.status, contentType: response.headers.get("content-type") ?? "", text: await response.text()};
}

/** The property every answer must hold: 2xx or 4xx, JSON (or an SSE stream for stream: true), errors with a code. */
function checkAnswer(c: Case, answer: Answer): void {
    const label = `${c.label} ${c.route} ${c.body.subarray(0, 120).toString("latin1")} -> ${answer.status} ${answer.text.slice(0, 200)}`;
    assert.ok(answer.status >= 200 && answer.status < 500 && !(answer.status >= 300 && answer.status < 400), label);
    if (answer.contentType.includes("text/event-stream")) {
        assert.equal(answer.status, 200, label);
        assert.match(answer.text, /data: /, label);
        assert.doesNotMatch(answer.text, /"code":"internal/, label);
        return;
    }
    assert.match(answer.contentType, /application\/json/, label);
    const json = JSON.parse(answer.text) as Record<string, any>;
    if (answer.status >= 400) {
        const code = json.code ?? json.error?.code;
        assert.equal(typeof code, "string", label);
        if (!speaksOpenAi(c.route)) assert.equal(json.success, false, label);
    }
}

test(`every POST route answers ${RUNS} fuzzed requests with 2xx/4xx JSON and a code, never 5xx or a hang`, async () => {
    assert.deepEqual(postRoutes, Object.keys(VALID).sort(), "the fuzzer covers every POST route (add new ones to VALID)");
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    // Each served /memory/unload ends the runner, and the next request waits ~2.5 s for a new one
    // (process start, llama.cpp's binary check, load), so the two lifecycle routes get fewer runs.
    const route = fc.oneof(...postRoutes.map((url) => ({weight: url.startsWith("/memory/") ? 1 : 6, arbitrary: fc.constant(url)})));
    await fc.assert(fc.asyncProperty(route.chain(caseFor), async (c) => {
        const answer = await send(c);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        try {
            checkAnswer(c, answer);
        } catch (err) {
            failures.push((err as Error).message);
            throw err;
        }
    }), {numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)}).catch((err: Error) => {
        // fast-check's report shows the input; this adds what the worker answered.
        throw new Error(`${err.message}\nfirst failure: ${failures[0]}`);
    });
    const successes = [...statuses].filter(([status]) => status < 300).reduce((sum, [, count]) => sum + count, 0);
    assert.ok(successes > 0, `some fuzzed requests were valid and served: ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(400) ?? 0) > RUNS / 4, `most were rejected as bad input: ${JSON.stringify([...statuses])}`);
    await until(() => server.worker.scheduler.running === 0 && server.worker.scheduler.queued === 0, 5000, "the scheduler to drain");
    const after = await postJson(`${server.url}/chat`, {message: "after fuzzing", max_tokens: 2});
    assert.equal(after.status, 200, JSON.stringify(after.json));
});

test("a conversation_history of 100k entries is refused with a 4xx naming the limit, and serving goes on", async () => {
    const history = Array.from({length: 100_000}, (_, i) => ({sender: i % 2 === 0 ? "user" : "assistant", content: ""}));
    const big = await postJson(`${server.url}/chat`, {message: "hi", conversation_history: history});
    assert.equal(big.status, 413, "past BODY_LIMIT_BYTES");
    assert.equal(big.json.success, false);
    assert.equal(typeof big.json.code, "string");
    const compact = Array.from({length: 1001}, () => ({sender: "user", content: ""}));
    const many = await postJson(`${server.url}/chat`, {message: "hi", conversation_history: compact});
    assert.equal(many.status, 400);
    assert.match(many.json.error, /conversation_history/);
    const openai = await postJson(`${server.url}/v1/chat/completions`, {messages: Array.from({length: 1001}, () => ({role: "user", content: ""}))});
    assert.equal(openai.status, 400);
    assert.match(JSON.stringify(openai.json.error), /messages/);
    assert.equal((await postJson(`${server.url}/chat`, {message: "still here", max_tokens: 2})).status, 200);
});

test("limits on max_tokens, stop, and prompt length against the context answer 400 naming the field", async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{message: "hi", max_tokens: 5}, /max_tokens/],
        [{message: "hi", max_tokens: 0}, /max_tokens/],
        [{message: "hi", stop: Array.from({length: 17}, () => "x")}, /stop/],
        [{message: "hi", stop: ["x".repeat(257)]}, /stop/],
        [{message: "y".repeat(5000)}, /message|context|prompt/],
        [{message: "hi", system_prompt: "z".repeat(5000)}, /system_prompt|context|prompt/]
    ];
    for (const [body, field] of cases) {
        const {status, json} = await postJson(`${server.url}/chat`, body);
        assert.equal(status, 400, `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(json)}`);
        assert.match(json.error, field);
        assert.equal(typeof json.code, "string");
    }
});

test("a body cut off mid-stream by the client (content-length not reached) leaves the worker serving", async () => {
    const port = Number(new URL(server.url).port);
    await Promise.all(Array.from({length: 20}, () => new Promise<void>((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => {
            socket.write("POST /chat HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"message\":\"trun");
            socket.end();
        });
        socket.on("error", () => undefined);
        socket.on("close", () => resolve());
        socket.resume();
    })));
    assert.equal(server.worker.scheduler.running, 0);
    assert.equal((await postJson(`${server.url}/chat`, {message: "after truncation", max_tokens: 2})).status, 200);
});
