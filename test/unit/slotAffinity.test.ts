import {test} from "node:test";
import assert from "node:assert/strict";
import {commonPrefixLength, pickSlot, type SlotView} from "../../src/engine/llama/slotAffinity.js";

const view = (slot: number, tokens: number[], conversationId: string | null = null, lastUsed = 0): SlotView =>
    ({slot, tokens, conversationId, lastUsed});

test("commonPrefixLength counts the shared leading tokens", () => {
    assert.equal(commonPrefixLength([1, 2, 3], [1, 2, 4]), 2);
    assert.equal(commonPrefixLength([1, 2], [1, 2, 3]), 2);
    assert.equal(commonPrefixLength([], [1]), 0);
    assert.equal(commonPrefixLength([5], [6]), 0);
});

test("the slot holding the longest prefix of the prompt wins", () => {
    const prompt = [1, 2, 3, 4, 5, 6];
    assert.equal(pickSlot([view(0, [9, 9]), view(1, [1, 2, 3]), view(2, [1, 2])], prompt, null), 1);
});

test("a slot whose content would be overwritten for little reuse loses to an empty one", () => {
    // Another conversation's 10 held tokens for 1 reused token: cheaper to take the empty slot.
    assert.equal(pickSlot([view(0, [1, 8, 8, 8, 8, 8, 8, 8, 8, 8], "other"), view(1, [])], [1, 2, 3], "mine"), 1);
});

test("the conversation's own slot wins even when its stale reply is long", () => {
    // The sampled reply rarely re-tokenizes the same way as history, so most of it is not reused;
    // it is the conversation's own stale tail, not another conversation's work.
    const held = [1, 2, 3, ...Array.from({length: 50}, (_, i) => 100 + i)];
    assert.equal(pickSlot([view(0, []), view(1, held, "mine")], [1, 2, 3, 7, 7], "mine"), 1);
});

test("ties go to the conversation's own slot, then to the least recently used", () => {
    assert.equal(pickSlot([view(0, [], "other", 5), view(1, [], "mine", 9)], [1], "mine"), 1);
    assert.equal(pickSlot([view(0, [], null, 9), view(1, [], null, 3), view(2, [], null, 7)], [1], null), 1);
    assert.equal(pickSlot([view(0, [], null, 1), view(1, [], null, 3)], null, null), 0);
});
