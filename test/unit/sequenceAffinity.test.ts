import {test} from "node:test";
import assert from "node:assert/strict";
import {commonPrefixLength, consecutiveRuns, pickSequence, prefixDigest, sharedPrefix, SPLIT_COST_TOKENS, type SequenceView} from "../../src/engine/llama/sequenceAffinity.js";

// Digests at every token, so these small cases are decided token by token.
const digest = (tokens: number[]) => prefixDigest(tokens, 1);
const view = (sequence: number, tokens: number[], conversationId: string | null = null, lastUsed = 0): SequenceView =>
    ({sequence, held: digest(tokens), conversationId, lastUsed});

test("commonPrefixLength counts the shared leading tokens", () => {
    assert.equal(commonPrefixLength([1, 2, 3], [1, 2, 4]), 2);
    assert.equal(commonPrefixLength([1, 2], [1, 2, 3]), 2);
    assert.equal(commonPrefixLength([], [1]), 0);
    assert.equal(commonPrefixLength([5], [6]), 0);
});

test("the sequence holding the longest prefix of the prompt wins", () => {
    const prompt = [1, 2, 3, 4, 5, 6];
    assert.equal(pickSequence([view(0, [9, 9]), view(1, [1, 2, 3]), view(2, [1, 2])], digest(prompt), null), 1);
});

test("a sequence whose content would be overwritten for little reuse loses to an empty one", () => {
    // Another conversation's 10 held tokens for 1 reused token: cheaper to take the empty sequence.
    assert.equal(pickSequence([view(0, [1, 8, 8, 8, 8, 8, 8, 8, 8, 8], "other"), view(1, [])], digest([1, 2, 3]), "mine"), 1);
});

test("the conversation's own sequence wins even when its stale reply is long", () => {
    // The sampled reply rarely re-tokenizes the same way as history, so most of it is not reused;
    // it is the conversation's own stale tail, not another conversation's work.
    const held = [1, 2, 3, ...Array.from({length: 50}, (_, i) => 100 + i)];
    assert.equal(pickSequence([view(0, []), view(1, held, "mine")], digest([1, 2, 3, 7, 7]), "mine"), 1);
});

test("ties go to the conversation's own sequence, then to the least recently used", () => {
    assert.equal(pickSequence([view(0, [], "other", 5), view(1, [], "mine", 9)], digest([1]), "mine"), 1);
    assert.equal(pickSequence([view(0, [], null, 9), view(1, [], null, 3), view(2, [], null, 7)], digest([1]), null), 1);
    assert.equal(pickSequence([view(0, [], null, 1), view(1, [], null, 3)], null, null), 0);
});

test("prefix digests share whole blocks of equal tokens, and differ from the first differing block on", () => {
    const tokens = Array.from({length: 100}, (_, i) => i * 7);
    const same = prefixDigest(tokens.slice(0, 70));
    assert.equal(prefixDigest(tokens).hashes.length, 6);
    assert.equal(sharedPrefix(prefixDigest(tokens), same), 64);
    const changed = [...tokens];
    changed[40] = 1;
    assert.equal(sharedPrefix(prefixDigest(tokens), prefixDigest(changed)), 32);
    assert.equal(sharedPrefix(prefixDigest([5, ...tokens]), prefixDigest(tokens)), 0);
    assert.equal(sharedPrefix(prefixDigest(tokens, 4), prefixDigest(tokens, 16)), 0, "digests of different blocks are not compared");
});

test("with 16-token blocks the sequence holding the conversation's prefix still wins", () => {
    const prompt = Array.from({length: 200}, (_, i) => i);
    const held = {sequence: 1, held: prefixDigest([...prompt.slice(0, 150), 9, 9, 9]), conversationId: null, lastUsed: 5};
    const other = {sequence: 0, held: prefixDigest(prompt.slice(0, 20)), conversationId: null, lastUsed: 0};
    assert.equal(pickSequence([other, held], prefixDigest(prompt), null), 1);
});

test("consecutiveRuns counts the sub-batches llama.cpp cuts a multi-sequence batch into", () => {
    assert.equal(consecutiveRuns([]), 0);
    assert.equal(consecutiveRuns([3]), 1);
    assert.equal(consecutiveRuns([6, 5, 2, 1]), 2);
    assert.equal(consecutiveRuns([0, 1, 2, 3]), 1);
    assert.equal(consecutiveRuns([0, 2, 4]), 3);
});

test("next to the busy sequences beats a free one apart, unless a long shared prefix pays for the extra pass", () => {
    // Sequences 1 and 2 are busy (not free); 0 and 3 touch them, 5 does not.
    const free = [view(0, [], null, 5), view(3, [], null, 5), view(4, [], null, 1), view(5, [], null, 1), view(6, [], null, 1), view(7, [], null, 1)];
    assert.equal(pickSequence(free, digest([1, 2, 3]), null, 8), 0, "adjacent, though 4 to 7 were used less recently");
    // Sequences 0-3 and 5 busy: 4 joins the two runs into one.
    assert.equal(pickSequence([view(4, [], null, 9), view(6, [], null, 9), view(7, [], null, 1)], null, null, 8), 4);
    // A prefix worth more than a pass per step wins anyway.
    const long = Array.from({length: SPLIT_COST_TOKENS}, (_, i) => i + 1);
    assert.equal(pickSequence([view(0, []), view(5, long)], digest([...long, 7]), null, 8), 5);
    // Nothing busy: no sequence splits anything, the least recently used wins as before.
    assert.equal(pickSequence([view(0, [], null, 5), view(4, [], null, 1)], null, null, 8), 4);
});
