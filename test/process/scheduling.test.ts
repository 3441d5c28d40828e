import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import {startTestWorker, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {openStream} from "../helpers/opsHelpers.js";

let server: TestWorker;

before(async () => {
    server = await startTestWorker({PARALLEL: "1", MAX_QUEUE: "1", CONTEXT_SIZE: "16384", MAX_TOKENS_LIMIT: "16000"});
});
after(() => server.close());

/** Starts a long streaming generation and resolves once its first token arrived. */
function startLongStream(): Promise<{request: http.ClientRequest; firstChunk: string}> {
    return new Promise((resolve, reject) => {
        const request = http.request(`${server.url}/chat`, {method: "POST", headers: {"content-type": "application/json"}}, (response) => {
            response.once("data", (chunk: Buffer) => resolve({request, firstChunk: chunk.toString()}));
            response.on("error", () => undefined);
        });
        request.on("error", (err) => {
            if ((err as NodeJS.ErrnoException).code !== "ECONNRESET") reject(err);
        });
        request.end(JSON.stringify({message: "long", max_tokens: 16000, ignore_eos: true, stream: true}));
    });
}

test("a client that disconnects mid-stream frees its sequence at once", async () => {
    const {request} = await startLongStream();
    assert.equal(server.worker.scheduler.running, 1);
    request.destroy();
    await until(() => server.worker.scheduler.running === 0, 2000, "the sequence to be released");
    const started = performance.now();
    const {status, json} = await postJson(`${server.url}/chat`, {message: "next", max_tokens: 4});
    assert.equal(status, 200);
    assert.equal(json.usage.completion_tokens, 4);
    assert.ok(performance.now() - started < 2000, "served without waiting for the abandoned generation");
});

test("a non-streaming client that disconnects frees its sequence too", async () => {
    const request = http.request(`${server.url}/chat`, {method: "POST", headers: {"content-type": "application/json"}});
    request.on("error", () => undefined);
    request.end(JSON.stringify({message: "long", max_tokens: 16000, ignore_eos: true}));
    await until(() => server.worker.scheduler.running === 1, 5000, "the generation to start");
    request.destroy();
    await until(() => server.worker.scheduler.running === 0, 2000, "the sequence to be released");
    assert.equal((await postJson(`${server.url}/chat`, {message: "next", max_tokens: 2})).status, 200);
});

test("beyond PARALLEL requests queue, and beyond MAX_QUEUE they get 429 with Retry-After", async () => {
    const running = await startLongStream();
    const queued = postJson(`${server.url}/chat`, {message: "queued", max_tokens: 3});
    await until(() => server.worker.scheduler.queued === 1, 5000, "the second request to queue");
    const rejected = await postJson(`${server.url}/chat`, {message: "too many", max_tokens: 3});
    assert.equal(rejected.status, 429);
    assert.equal(rejected.json.code, "queue_full");
    assert.equal(rejected.json.success, false);
    assert.match(rejected.headers.get("retry-after") ?? "", /^\d+$/);
    running.request.destroy();
    const served = await queued;
    assert.equal(served.status, 200, "the queued request is served once the sequence frees");
    assert.equal(served.json.usage.completion_tokens, 3);
});

test("a request joining busy sequences is served at once, also when its own sequence must first be erased and spilled", async () => {
    const busy = await startTestWorker({PARALLEL: "3", CONTEXT_SIZE: "8192", MAX_TOKENS_LIMIT: "8000"});
    try {
        // Every sequence holds an earlier conversation: the next request's sequence needs setup work
        // first (its old tokens spilled and erased), which takes the context's lock.
        await Promise.all([0, 1, 2].map((i) =>
            postJson(`${busy.url}/chat`, {message: `warm-up ${i} `.repeat(20), max_tokens: 8, conversation_id: `warm-${i}`})));
        // Two generations at once keep a next token queued at every step, so node-llama-cpp's batch
        // loop never let go of the lock: the short request used to wait for both to end.
        const long = [await openStream(busy.url, {message: "long", max_tokens: 6000, ignore_eos: true}),
            await openStream(busy.url, {message: "longer", max_tokens: 6000, ignore_eos: true})];
        const joined = await postJson(`${busy.url}/chat`, {message: "a short one", max_tokens: 4});
        assert.equal(joined.status, 200);
        assert.equal(joined.json.usage.completion_tokens, 4);
        for (const stream of long) {
            assert.ok(!stream.text().includes("event: done"), "the short request was served while the long ones still ran");
            stream.request.destroy();
        }
    } finally {
        await busy.close();
    }
});
