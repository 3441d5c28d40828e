import {test} from "node:test";
import assert from "node:assert/strict";
import {IncrementalDetokenizer, StopMatcher} from "../../src/engine/llama/textStream.js";

/** A byte-level "tokenizer": each token is one byte; decoding is UTF-8 with replacement characters. */
const bytes = (text: string) => [...Buffer.from(text, "utf8")];
const decode = (tokens: readonly number[]) => Buffer.from(tokens).toString("utf8");

test("a character split across tokens is released whole, once its last byte arrives", () => {
    const detokenizer = new IncrementalDetokenizer(decode);
    const out = bytes("aé€😀").map((token) => detokenizer.push(token));
    assert.deepEqual(out, ["a", "", "é", "", "", "€", "", "", "", "😀"]);
    assert.equal(detokenizer.flush(), "");
});

test("bytes that never complete a character become U+FFFD after 4 tokens, never a stall", () => {
    const detokenizer = new IncrementalDetokenizer(decode);
    const out = [0xf0, 0x9f, 0x98, 0x41].map((token) => detokenizer.push(token));
    assert.equal(out.slice(0, 3).join(""), "");
    assert.match(out[3], /\uFFFD/);
    assert.ok(out[3].endsWith("A"));
    assert.equal(new IncrementalDetokenizer(decode).push(0xe2) + "", "", "held while it may still complete");
    const tail = new IncrementalDetokenizer(decode);
    tail.push(0xe2);
    assert.equal(tail.flush(), "\uFFFD", "flush gives up on what is held");
});

test("a stop string split across chunks is found, and only the text before it is released", () => {
    const matcher = new StopMatcher(["STOP"]);
    assert.deepEqual(matcher.push("hello S"), {text: "hello ", stopped: false});
    assert.deepEqual(matcher.push("TO"), {text: "", stopped: false});
    assert.deepEqual(matcher.push("P and more"), {text: "", stopped: true, matched: "STOP"});
});

test("held text that turns out not to be a stop string is released; the earliest of several stops wins", () => {
    const matcher = new StopMatcher(["STOP"]);
    assert.deepEqual(matcher.push("ST"), {text: "", stopped: false});
    assert.deepEqual(matcher.push("AY"), {text: "STAY", stopped: false});
    assert.equal(matcher.flush(), "");
    const several = new StopMatcher(["end", "\n"]);
    assert.deepEqual(several.push("a\nb end"), {text: "a", stopped: true, matched: "\n"});
    const none = new StopMatcher([]);
    assert.deepEqual(none.push("anything"), {text: "anything", stopped: false});
    const tail = new StopMatcher(["xyz"]);
    tail.push("abcx");
    assert.equal(tail.flush(), "x", "what was held comes out at the end");
});
