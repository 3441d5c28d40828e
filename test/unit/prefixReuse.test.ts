import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {LlamaContextSequence, Token} from "node-llama-cpp";
import {reusePrefix, type SequenceRecord} from "../../src/engine/llama/prefixReuse.js";
import {StateStore} from "../../src/engine/llama/stateStore.js";
import {FakeSequence} from "../helpers/fakeSequence.js";

const quiet = {info: () => undefined, warn: () => undefined, error: () => undefined};
const range = (from: number, to: number) => Array.from({length: to - from}, (_, i) => from + i) as Token[];
const record = (overrides: Partial<SequenceRecord> = {}): SequenceRecord =>
    ({conversationId: null, lastUsed: 0, lastExchange: null, reusableEnd: Number.POSITIVE_INFINITY, ...overrides});

function target(sequence: FakeSequence, overrides: {store?: StateStore | null; record?: SequenceRecord; minEvaluated?: number} = {}) {
    return {
        sequence: sequence as unknown as LlamaContextSequence, record: overrides.record ?? record(), store: overrides.store ?? null,
        conversationCache: true, minEvaluated: overrides.minEvaluated ?? 1, renderHistory: () => [] as Token[]
    };
}

test("the held prefix is reused, the rest erased, and at least the last prompt token is evaluated again", async () => {
    const sequence = new FakeSequence();
    sequence.contextTokens = range(0, 100);
    const result = await reusePrefix(target(sequence), [...range(0, 60), 999, 998] as Token[], null);
    assert.deepEqual(result, {reused: 60, source: "warm"});
    assert.equal(sequence.nextTokenIndex, 60);
    const whole = await reusePrefix(target(sequence), range(0, 60), null);
    assert.equal(whole.reused, 59, "one token is evaluated again for fresh logits");
});

test("deterministic mode reuses only up to reusableEnd and evaluates at least 2 tokens", async () => {
    const sequence = new FakeSequence();
    sequence.contextTokens = range(0, 100);
    const result = await reusePrefix(target(sequence, {record: record({reusableEnd: 70}), minEvaluated: 2}), range(0, 90), null);
    assert.equal(result.reused, 70, "the reply beyond the prompt is not reused");
    const short = await reusePrefix(target(sequence, {minEvaluated: 2}), range(0, 70), null);
    assert.equal(short.reused, 68);
});

test("a stored state that reuses more is restored; the sequence's own content is spilled first", async () => {
    const store = new StateStore(fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-reuse-")), 10_000_000, quiet);
    await store.open();
    const saved = new FakeSequence();
    saved.contextTokens = range(0, 80);
    await store.save(saved as never, "conversation-a");
    const sequence = new FakeSequence();
    sequence.contextTokens = range(500, 560);
    const result = await reusePrefix(target(sequence, {store, record: record({conversationId: "b"})}), [...range(0, 80), 7, 8] as Token[], "conversation-a");
    assert.deepEqual(result, {reused: 80, source: "restored"});
    assert.equal(store.size, 2, "the sequence's own 60 tokens were spilled before the restore");
    assert.ok(store.find(range(500, 600), "b") != null);
});

test("a state whose file is gone is discarded and the prompt is evaluated from scratch", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-reuse-"));
    const store = new StateStore(dir, 10_000_000, quiet);
    await store.open();
    const saved = new FakeSequence();
    saved.contextTokens = range(0, 80);
    await store.save(saved as never, null);
    for (const file of fs.readdirSync(dir).filter((name) => name.endsWith(".state")))
        fs.rmSync(path.join(dir, file));
    const sequence = new FakeSequence();
    const result = await reusePrefix(target(sequence, {store}), range(0, 90), null);
    assert.deepEqual(result, {reused: 0, source: "miss"});
    assert.equal(store.size, 0);
});
