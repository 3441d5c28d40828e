import {test} from "node:test";
import assert from "node:assert/strict";
import {ModelPool} from "../../src/service/modelPool.js";
import {ChatService, type ChatJob} from "../../src/service/chatService.js";
import {ModelLifecycle} from "../../src/service/modelLifecycle.js";
import {Scheduler} from "../../src/scheduler/scheduler.js";
import {ClientClosedError, ContextOverflowError, ModelNotReadyError, WorkerError} from "../../src/errors.js";
import type {SamplingParams} from "../../src/engine/types.js";
import {FakeEngine, streams} from "../helpers/fakeEngine.js";

/**
 * The chat pipeline's rare paths, driven through a scripted engine: what the real engine almost
 * never does (ending without an end event, failing mid-stream, failing to load) must still end in a
 * clear error and a released sequence.
 */

const quiet = {info: () => undefined, warn: () => undefined};

/** Resolves once `condition` holds, checking after each turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
    for (let turn = 0; !condition(); turn++) {
        if (turn > 10_000) throw new Error("condition never held");
        await new Promise((resolve) => setImmediate(resolve));
    }
}
const params: SamplingParams = {
    maxTokens: 16, temperature: 0, topP: 1, topK: 0, minP: 0, repetitionPenalty: 1, seed: 1, stop: [], ignoreEos: false,
    frequencyPenalty: 0, presencePenalty: 0, logitBias: []
};

function setup(engine: FakeEngine) {
    const scheduler = new Scheduler(engine.sequences, 4);
    const lifecycle = new ModelLifecycle(engine, {idleUnloadSeconds: 0}, quiet);
    const chat = new ChatService(new ModelPool([{key: null, engine, scheduler, lifecycle}]), {requestTimeoutSeconds: 0});
    return {scheduler, lifecycle, chat};
}

function job(message: string, signal = new AbortController().signal): ChatJob {
    return {input: {prefix: [{role: "system", content: "s"}], history: [], tail: [{role: "user", content: message}]}, params, conversationId: null, signal};
}

test("an unloaded engine is loaded on the first request, and the text and usage come through", async () => {
    const engine = new FakeEngine(streams(["Hel", "lo"]));
    const {chat, scheduler} = setup(engine);
    const pieces: string[] = [];
    const result = await chat.chat(job("hi"), {onText: (text) => pieces.push(text)});
    assert.equal(engine.loads, 1);
    assert.equal(result.text, "Hello");
    assert.deepEqual(pieces, ["Hel", "lo"]);
    assert.equal(result.usage.completionTokens, 5);
    assert.equal(scheduler.running, 0);
});

test("an engine that stops without an end event is an internal error, and the sequence is released", async () => {
    const engine = new FakeEngine(async function* () {
        yield {type: "text", text: "partial"};
    });
    const {chat, scheduler} = setup(engine);
    await assert.rejects(chat.chat(job("hi")), (err: unknown) => err instanceof WorkerError && err.code === "engine_no_end" && err.kind === "internal");
    assert.equal(scheduler.running, 0);
});

test("a failure mid-stream reaches the caller after the text already sent, and the sequence is released", async () => {
    const engine = new FakeEngine(async function* () {
        yield {type: "text", text: "before "};
        throw new WorkerError("bad_gateway", "upstream_stream_error", "broke");
    });
    const {chat, scheduler} = setup(engine);
    const pieces: string[] = [];
    let started = false;
    await assert.rejects(chat.chat(job("hi"), {onStart: () => started = true, onText: (text) => pieces.push(text)}),
        (err: unknown) => err instanceof WorkerError && err.code === "upstream_stream_error");
    assert.ok(started, "the failure came after the stream had started");
    assert.deepEqual(pieces, ["before "]);
    assert.equal(scheduler.running, 0);
});

test("a model that fails to load is a 503-kind error naming the reason, and nothing is generated", async () => {
    const engine = new FakeEngine(streams(["x"]));
    engine.loadOutcome = {state: "failed", reason: "model file not found", loadProgress: null, code: "model_file_not_found"};
    const {chat} = setup(engine);
    await assert.rejects(chat.chat(job("hi")), (err: unknown) =>
        err instanceof ModelNotReadyError && err.kind === "unavailable" && /model file not found/.test(err.message));
    assert.equal(engine.generations, 0);
});

test("a prompt that cannot fit carries its facts, not a field name", async () => {
    const engine = new FakeEngine(streams(["x"]), {contextSize: 40});
    const {chat} = setup(engine);
    await assert.rejects(chat.chat(job("a message far too long for a forty-token context")), (err: unknown) => {
        assert.ok(err instanceof ContextOverflowError);
        assert.equal(err.facts.culprit, "prompt");
        assert.equal(err.facts.contextSize, 40);
        assert.equal(err.facts.maxTokens, 16);
        assert.ok((err.facts.promptTokens ?? 0) > 24);
        assert.equal(err.details.param, undefined, "the adapters name the field");
        return true;
    });
});

test("a client that leaves while queued gets ClientClosedError and frees its place in the queue", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    const engine = new FakeEngine(async function* (request) {
        await held;
        yield {type: "end", finishReason: "stop", usage: {promptTokens: request.prompt.tokenCount ?? 0, completionTokens: 0, cachedTokens: 0}};
    }, {sequences: 1});
    const {chat, scheduler} = setup(engine);
    const first = chat.chat(job("first"));
    await until(() => engine.generations === 1);
    const controller = new AbortController();
    const second = chat.chat(job("second", controller.signal));
    await until(() => scheduler.queued === 1);
    controller.abort();
    await assert.rejects(second, (err: unknown) => err instanceof ClientClosedError && err.during === "queue");
    assert.equal(scheduler.queued, 0);
    release();
    await first;
    assert.equal(scheduler.running, 0);
});
