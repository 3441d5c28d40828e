import {test} from "node:test";
import assert from "node:assert/strict";
import {embeddingInputs, embeddingResponse, inputParam} from "../../src/api/openai/openaiEmbeddings.js";
import {base64Vector, fromBase64Vector} from "../../src/api/openai/embeddingEncoding.js";
import {unitVector} from "../../src/service/embeddingVectors.js";
import {EmbeddingBatcher} from "../../src/service/embeddingBatcher.js";
import {loadConfig} from "../../src/config/config.js";
import {ClientClosedError, ConfigError, QueueFullError, WorkerError, WrongModelKindError} from "../../src/errors.js";
import {ModelPool} from "../../src/service/modelPool.js";
import {Scheduler} from "../../src/scheduler/scheduler.js";
import {ModelLifecycle} from "../../src/service/modelLifecycle.js";
import {FakeEngine, streams} from "../helpers/fakeEngine.js";

const quiet = {info: () => undefined, warn: () => undefined};
import type {EmbeddingInput, EmbeddingOutcome} from "../../src/engine/types.js";

// The pure parts of POST /v1/embeddings: OpenAI's input shapes, the vector encodings, unit length
// and truncation, the batcher's grouping, and the MODELS syntax that marks an embedding model.

test("OpenAI's four input shapes become a list of inputs, and the refusals name the field", () => {
    assert.deepEqual(embeddingInputs("a cat"), ["a cat"]);
    assert.deepEqual(embeddingInputs(["a", "b"]), ["a", "b"]);
    assert.deepEqual(embeddingInputs([1, 2, 3]), [[1, 2, 3]], "an array of numbers is one tokenized input");
    assert.deepEqual(embeddingInputs([[1], [2, 3]]), [[1], [2, 3]]);
    for (const [input, param] of [["", "input"], [[], "input"], [["a", ""], "input[1]"], [[[1], []], "input[1]"]] as const) {
        assert.throws(() => embeddingInputs(input as never), (err: unknown) =>
            err instanceof WorkerError && err.details.param === param && err.code === "invalid_input", JSON.stringify(input));
    }
    assert.equal(inputParam("text", 0), "input");
    assert.equal(inputParam([5, 6], 0), "input");
    assert.equal(inputParam(["a", "b"], 1), "input[1]");
    assert.equal(inputParam([[1], [2]], 0), "input[0]");
});

test("base64 is little-endian float32, and decodes to the float vector", () => {
    const vector = [0.5, -0.25, 1 / 3, 0];
    const text = base64Vector(vector);
    assert.equal(Buffer.from(text, "base64").length, 16);
    assert.equal(Buffer.from(text, "base64").readFloatLE(4), -0.25);
    assert.deepEqual(fromBase64Vector(text), vector.map((value) => Math.fround(value)));
    const body = embeddingResponse({model: "e", vectors: [vector], promptTokens: 3}, "base64");
    assert.equal(body.data[0].embedding, text);
    assert.deepEqual(body.usage, {prompt_tokens: 3, total_tokens: 3});
    assert.deepEqual(embeddingResponse({model: "e", vectors: [vector], promptTokens: 3}, "float").data[0].embedding, vector);
});

test("vectors are scaled to unit length, after being cut to `dimensions`", () => {
    assert.deepEqual(unitVector(Float32Array.from([3, 4])), [0.6, 0.8]);
    const cut = unitVector(Float32Array.from([3, 4, 12]), 2);
    assert.deepEqual(cut, [0.6, 0.8]);
    assert.deepEqual(unitVector(Float32Array.from([0, 0])), [0, 0], "a zero vector stays zero (no NaN)");
    assert.equal(unitVector(Float32Array.from([1, 2, 3]), 5).length, 3, "dimensions above the size keep the vector whole");
});

/** A runner stand-in whose calls finish when the test says; each input's vector is its length. */
function controlledRun() {
    const calls: EmbeddingInput[][][] = [];
    const finishers: Array<() => void> = [];
    const run = (groups: EmbeddingInput[][]) => new Promise<EmbeddingOutcome[]>((resolve) => {
        calls.push(groups);
        finishers.push(() => resolve(groups.map((group): EmbeddingOutcome => group.some((input) => input === "bad")
            ? {ok: false, input: group.indexOf("bad"), reason: "bad"}
            : {ok: true, vectors: group.map((input) => Float32Array.of(input.length)), promptTokens: group.length})));
    });
    return {calls, run, finish: (index: number) => finishers[index]()};
}

test("the batcher starts at once, gathers the requests that arrive meanwhile into one call, and answers each its own", async () => {
    const {calls, run, finish} = controlledRun();
    const batcher = new EmbeddingBatcher(run, {maxQueued: 10, maxBatchInputs: 4});
    const first = batcher.submit(["a"]);
    assert.equal(calls.length, 1, "a request that finds nothing running is not held back");
    const second = batcher.submit(["bb", "ccc"]);
    const third = batcher.submit(["bad"]);
    const fourth = batcher.submit(["dddd", "e", "f"]);
    assert.equal(batcher.queued, 3);
    finish(0);
    assert.deepEqual(await first, {ok: true, vectors: [Float32Array.of(1)], promptTokens: 1});
    assert.deepEqual(calls[1], [["bb", "ccc"], ["bad"]], "the waiting requests go together, up to maxBatchInputs");
    finish(1);
    assert.deepEqual((await second as {vectors: Float32Array[]}).vectors, [Float32Array.of(2), Float32Array.of(3)]);
    assert.deepEqual(await third, {ok: false, input: 0, reason: "bad"}, "one request's bad input is its own refusal");
    assert.deepEqual(calls[2], [["dddd", "e", "f"]]);
    finish(2);
    assert.equal((await fourth).ok, true);
});

test("the batcher's queue is bounded (429 with Retry-After), a queued request leaves on abort, and a failed call fails its batch", async () => {
    const {run, finish} = controlledRun();
    const batcher = new EmbeddingBatcher(run, {maxQueued: 1, maxBatchInputs: 8});
    const running = batcher.submit(["a"]);
    const controller = new AbortController();
    const queued = batcher.submit(["b"], controller.signal);
    await assert.rejects(batcher.submit(["c"]), (err: unknown) => err instanceof QueueFullError && err.details.retryAfterSeconds! >= 1);
    controller.abort();
    await assert.rejects(queued, ClientClosedError);
    assert.equal(batcher.queued, 0);
    finish(0);
    await running;

    const failing = new EmbeddingBatcher(() => Promise.reject(new Error("runner died")), {maxQueued: 4, maxBatchInputs: 8});
    await assert.rejects(failing.submit(["a"]), /runner died/);
});

test("MODELS marks embedding models with ?kind=embedding; a bad option refuses to boot naming MODELS", () => {
    const config = loadConfig({MODELS: "chat=/m/a.gguf,embed=/m/e.gguf?kind=embedding,mrl=/m/n.gguf?kind=embedding&matryoshka=true"});
    assert.deepEqual(config.models.map(({name, kind, matryoshka, source}) => ({name, kind, matryoshka, path: source.kind === "file" ? source.path : null})), [
        {name: "chat", kind: "chat", matryoshka: false, path: "/m/a.gguf"},
        {name: "embed", kind: "embedding", matryoshka: false, path: "/m/e.gguf"},
        {name: "mrl", kind: "embedding", matryoshka: true, path: "/m/n.gguf"}
    ]);
    assert.equal(loadConfig({MODELS: "u=https://host/m.gguf?download=true"}).models[0].source.kind, "reference",
        "a URL's own query stays part of it");
    for (const [value, message] of [
        ["e=/m/e.gguf?kind=vector", /kind must be chat or embedding/],
        ["e=/m/e.gguf?kind=embedding&pooling=mean", /unknown option "pooling"/],
        ["e=/m/e.gguf?kind=chat&matryoshka=true", /matryoshka is for kind=embedding/],
        ["e=/m/e.gguf?kind=embedding&matryoshka=yes", /matryoshka must be true or false/]
    ] as const)
        assert.throws(() => loadConfig({MODELS: value}), (err: unknown) => err instanceof ConfigError && err.variable === "MODELS" && message.test(err.message), value);
    assert.throws(() => loadConfig({EMBEDDING_MAX_INPUTS: "0"}), (err: unknown) => err instanceof ConfigError && err.variable === "EMBEDDING_MAX_INPUTS");
});

test("ModelPool resolves by kind: a request naming none gets the first model of its kind, one of the other kind is a 400", () => {
    const entry = (key: string, kind: "chat" | "embedding") => {
        const engine = new FakeEngine(streams([]));
        return {key, engine, scheduler: new Scheduler(engine.sequences, 1), lifecycle: new ModelLifecycle(engine, {idleUnloadSeconds: 0}, quiet), kind};
    };
    const pool = new ModelPool([entry("embed", "embedding"), entry("chat", "chat")]);
    assert.equal(pool.resolve(null, "model", "chat").name, "chat");
    assert.equal(pool.resolve(null, "model", "embedding").name, "embed");
    assert.equal(pool.resolve("embed").name, "embed", "without a kind (ops routes), any model");
    assert.throws(() => pool.resolve("embed", "model", "chat"), (err: unknown) =>
        err instanceof WrongModelKindError && err.details.param === "model" && /"embed" is an embedding model/.test(err.message));
    assert.throws(() => pool.resolve("chat", "model", "embedding"), (err: unknown) =>
        err instanceof WrongModelKindError && /"chat" is a chat model/.test(err.message));
    const chatOnly = new ModelPool([entry("only", "chat")]);
    assert.throws(() => chatOnly.resolve("text-embedding-3-small", "model", "embedding"), (err: unknown) =>
        err instanceof WrongModelKindError && /"only" is a chat model/.test(err.message), "a one-model worker names its own model");
});
