import {test} from "node:test";
import assert from "node:assert/strict";
import {conversationItems, toChatMessages, toToolSet} from "../../src/api/responses/responsesInput.js";
import {ResponseStore} from "../../src/api/responses/responseStore.js";
import type {InputItem, ResponseObject} from "../../src/api/responses/responsesSchemas.js";
import {WorkerError} from "../../src/errors.js";

/** Responses input items as the engine's messages, the tools, and the store that keeps conversations between turns. */

const items = (list: Array<Record<string, unknown>>) => list as InputItem[];

function refusal(run: () => unknown): {param: string | undefined; code: string} {
    try {
        run();
    } catch (err) {
        assert.ok(err instanceof WorkerError && err.kind === "invalid_request", String(err));
        return {param: err.details.param, code: err.code};
    }
    assert.fail("expected a refusal");
}

test("a string is one user message; instructions come first; developer is system; parts join with newlines", () => {
    assert.deepEqual(toChatMessages(conversationItems("hi"), "be brief"), [{role: "system", content: "be brief"}, {role: "user", content: "hi"}]);
    assert.deepEqual(toChatMessages(conversationItems(items([
        {role: "developer", content: "D"},
        {type: "message", role: "user", content: [{type: "input_text", text: "a"}, {type: "input_text", text: "b"}]},
        {type: "message", role: "assistant", id: "msg_1", status: "completed", content: [{type: "output_text", text: "ok", annotations: []}]}
    ])), null), [{role: "system", content: "D"}, {role: "user", content: "a\nb"}, {role: "assistant", content: "ok"}]);
});

test("calls in a row are one assistant turn (joining the text before them); each output folds into its call", () => {
    const messages = toChatMessages(conversationItems(items([
        {role: "user", content: "weather and time?"},
        {role: "assistant", content: "Let me look."},
        {type: "function_call", call_id: "a", name: "weather", arguments: "{}"},
        {type: "function_call", call_id: "b", name: "time", arguments: "{}"},
        {type: "function_call_output", call_id: "b", output: "noon"},
        {type: "function_call_output", call_id: "a", output: [{type: "input_text", text: "rain"}]},
        {type: "function_call", call_id: "c", name: "time", arguments: "{\"zone\":\"CET\"}"},
        {type: "function_call_output", call_id: "c", output: "13:00"}
    ])), null);
    assert.deepEqual(messages, [
        {role: "user", content: "weather and time?"},
        {role: "assistant", content: "Let me look.", toolCalls: [
            {id: "a", name: "weather", arguments: "{}", result: "rain"}, {id: "b", name: "time", arguments: "{}", result: "noon"}
        ]},
        {role: "assistant", content: "", toolCalls: [{id: "c", name: "time", arguments: "{\"zone\":\"CET\"}", result: "13:00"}]}
    ]);
});

test("an item_reference is the stored item it names, at its own place; an unknown one is a 404 naming it", () => {
    const stored = new Map([["fc_1", {kind: "call" as const, callId: "call_1", name: "f", arguments: "{}", at: "previous_response_id"}]]);
    const lookup = (id: string) => stored.get(id) ?? null;
    assert.deepEqual(toChatMessages(conversationItems(items([
        {role: "user", content: "q"}, {type: "item_reference", id: "fc_1"}, {type: "function_call_output", call_id: "call_1", output: "r"}
    ]), lookup), null), [
        {role: "user", content: "q"}, {role: "assistant", content: "", toolCalls: [{id: "call_1", name: "f", arguments: "{}", result: "r"}]}
    ]);
    try {
        conversationItems(items([{type: "item_reference", id: "fc_2"}]), lookup);
        assert.fail("expected a refusal");
    } catch (err) {
        assert.ok(err instanceof WorkerError && err.kind === "not_found", String(err));
        assert.equal(err.details.param, "input[0].id");
    }
});

test("each malformed input is refused naming the item and field", () => {
    const cases: Array<[Array<Record<string, unknown>>, string, string]> = [
        [[{role: "tool", content: "x"}], "input[0].role", "invalid_request"],
        [[{role: "user"}], "input[0].content", "invalid_request"],
        [[{role: "user", content: [{type: "input_image", image_url: "u"}]}], "input[0].content[0]", "unsupported_parameter"],
        [[{role: "user", content: "x", call_id: "a"}], "input[0].call_id", "invalid_request"],
        [[{type: "function_call", call_id: "a", name: "f"}], "input[0]", "invalid_request"],
        [[{type: "function_call", call_id: "a", name: "f", arguments: "{}"}, {role: "user", content: "x"}], "input[0]", "invalid_request"],
        [[{type: "function_call", call_id: "a", name: "f", arguments: "{}"}, {type: "function_call", call_id: "a", name: "f", arguments: "{}"}],
            "input[1].call_id", "invalid_request"],
        [[{type: "function_call_output", call_id: "zz", output: "r"}], "input[0].call_id", "invalid_request"],
        [[{type: "reasoning", id: "rs_1"}], "input[0].type", "unsupported_parameter"]
    ];
    for (const [input, param, code] of cases)
        assert.deepEqual(refusal(() => toChatMessages(conversationItems(items(input)), null)), {param, code}, JSON.stringify(input));
});

test("toToolSet: function tools only, the choice named or by mode, and every other tool or choice refused by name", () => {
    const fn = {type: "function", name: "f", parameters: {type: "object"}, strict: true};
    assert.deepEqual(toToolSet({tools: [fn], tool_choice: {type: "function", name: "f"}}),
        {functions: [{name: "f", parameters: {type: "object"}}], choice: {name: "f"}, parallel: true});
    assert.equal(toToolSet({tools: [], tool_choice: "auto"}), null);
    assert.deepEqual(refusal(() => toToolSet({tools: [{type: "web_search"}]})), {param: "tools[0].type", code: "unsupported_parameter"});
    assert.deepEqual(refusal(() => toToolSet({tools: [{...fn, defer_loading: true} as typeof fn]})), {param: "tools[0].defer_loading", code: "unsupported_parameter"});
    assert.deepEqual(refusal(() => toToolSet({tools: [fn, fn]})), {param: "tools[1].name", code: "invalid_request"});
    assert.deepEqual(refusal(() => toToolSet({tools: [fn], tool_choice: {type: "function", name: "g"}})), {param: "tool_choice", code: "invalid_request"});
    assert.deepEqual(refusal(() => toToolSet({tools: [fn], tool_choice: {type: "file_search"}})), {param: "tool_choice", code: "unsupported_parameter"});
    assert.deepEqual(refusal(() => toToolSet({tool_choice: "required"})), {param: "tool_choice", code: "invalid_request"});
});

test("the store forgets the oldest past its count, and each response after its TTL", () => {
    let now = 0;
    const store = new ResponseStore({maxResponses: 2, ttlSeconds: 10, maxBytes: 1_000_000}, () => now);
    const put = (id: string) => store.put({
        response: {id} as ResponseObject, items: [], conversationId: `c-${id}`,
        outputItems: new Map([[`msg_${id}`, {kind: "message", role: "assistant", text: id, at: "previous_response_id"}]])
    });
    put("a");
    put("b");
    put("c");
    assert.equal(store.get("a"), null, "the oldest went first");
    assert.equal(store.item("msg_a"), null, "with its items");
    assert.equal(store.get("b")?.conversationId, "c-b");
    assert.deepEqual(store.item("msg_b"), {kind: "message", role: "assistant", text: "b", at: "previous_response_id"});
    now = 10_000;
    assert.equal(store.get("c"), null, "expired");
    assert.equal(store.item("msg_c"), null);
    assert.equal(store.size, 1);
});
