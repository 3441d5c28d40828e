import {test} from "node:test";
import assert from "node:assert/strict";
import {ToolCallParser, type ParsedPiece} from "../../src/engine/llama/toolCallParser.js";
import type {ToolCallEvent} from "../../src/engine/types.js";

// The parser that reads tool calls out of generated text, in the Qwen template's syntax (what
// toolCallSyntax.ts derives from node-llama-cpp's QwenChatWrapper).

const QWEN = {prefix: "<tool_call>\n{\"name\": \"", paramsPrefix: "\", \"arguments\": ", suffix: "}\n</tool_call>"};

function feed(parser: ToolCallParser, pieces: string[]): {content: string; calls: ToolCallEvent[]; completed: number} {
    const all: ParsedPiece[] = [...pieces.map((piece) => parser.push(piece)), parser.finish()];
    return {
        content: all.map((piece) => piece.content).join(""),
        calls: all.flatMap((piece) => piece.calls),
        completed: all.reduce((sum, piece) => sum + piece.completed, 0)
    };
}

/** Every split of `text` into single characters, as a worst-case token stream. */
const chars = (text: string) => [...text];

test("calls are found however the text is split; content before and between them is kept, markers never leak", () => {
    const text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n" +
        "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
    for (const pieces of [[text], chars(text)]) {
        let id = 0;
        const {content, calls, completed} = feed(new ToolCallParser(QWEN, () => `call_${id++}`), pieces);
        assert.equal(content, "Let me check.", "the separators around calls are not content");
        assert.equal(completed, 2);
        const heads = calls.filter((call) => call.name != null);
        assert.deepEqual(heads.map((call) => [call.index, call.id, call.name]), [[0, "call_0", "get_weather"], [1, "call_1", "get_time"]]);
        for (const index of [0, 1]) {
            const args = calls.filter((call) => call.index === index).map((call) => call.arguments).join("");
            assert.deepEqual(JSON.parse(args), index === 0 ? {city: "Paris"} : {});
        }
        if (pieces.length > 1)
            assert.ok(calls.filter((call) => call.index === 0 && call.name == null).length > 5, "arguments stream in pieces");
    }
});

test("text that only looks like the start of a call is content; a forced call starts inside the call", () => {
    assert.deepEqual(feed(new ToolCallParser(QWEN, () => "x"), chars("a <tool_ caller \n")), {content: "a <tool_ caller \n", calls: [], completed: 0});
    const named = feed(new ToolCallParser(QWEN, () => "call_n", {state: "arguments", name: "f"}), chars("{\"a\": 1}" + QWEN.suffix));
    assert.equal(named.calls[0].name, "f");
    assert.equal(named.calls.map((call) => call.arguments).join(""), "{\"a\": 1}");
    assert.equal(named.completed, 1);
    // Cut short (max_tokens): the arguments so far are the call's, no suffix needed.
    const cut = feed(new ToolCallParser(QWEN, () => "c", {state: "name"}), ["get_x", QWEN.paramsPrefix, "{\"a\""]);
    assert.equal(cut.calls[0].name, "get_x");
    assert.equal(cut.calls.map((call) => call.arguments).join(""), "{\"a\"");
    assert.equal(cut.completed, 0);
});
