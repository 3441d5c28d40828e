import {test} from "node:test";
import assert from "node:assert/strict";
import {parseChunk, sseData} from "../../src/engine/upstream/upstreamStream.js";
import {MalformedChunkError} from "../../src/errors.js";

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
    const encoder = new TextEncoder();
    return new ReadableStream({
        start(controller) {
            for (const part of parts) controller.enqueue(encoder.encode(part));
            controller.close();
        }
    });
}

async function collect(parts: string[]): Promise<{data: string[]; reads: number}> {
    const data: string[] = [];
    let reads = 0;
    for await (const item of sseData(streamOf(parts), () => reads++)) data.push(item);
    return {data, reads};
}

test("SSE events split anywhere, with CRLF or CR line ends, comments and multi-line data, come out whole", async () => {
    const {data, reads} = await collect(["data: {\"a\"", ":1}\r\n\r", "\n: ping\n\n", "data: x\ndata: y\n\ndata: [DONE]\n\n", "data: cut off"]);
    assert.deepEqual(data, ["{\"a\":1}", "x\ny", "[DONE]"], "keep-alives yield nothing; an unfinished event is dropped");
    assert.equal(reads, 5, "every network read counts for the watchdog");
});

test("a chunk's text, finish reason, usage and logprobs are read; an error object is reported, not thrown", () => {
    const chunk = parseChunk(JSON.stringify({
        choices: [{delta: {content: "hi"}, finish_reason: "length", logprobs: {content: [{token: "hi", logprob: -0.5, top_logprobs: []}]}}],
        usage: {prompt_tokens: 3, completion_tokens: 1, prompt_tokens_details: {cached_tokens: 2}}
    }));
    assert.equal(chunk.text, "hi");
    assert.equal(chunk.finishReason, "length");
    assert.deepEqual(chunk.usage, {promptTokens: 3, completionTokens: 1, cachedTokens: 2});
    assert.deepEqual(chunk.logprobs, [{token: "hi", logprob: -0.5, bytes: [104, 105], topLogprobs: []}]);
    assert.equal(parseChunk(JSON.stringify({choices: [{delta: {}, finish_reason: "tool_calls"}]})).finishReason, "tool_calls");
    assert.equal(parseChunk(JSON.stringify({choices: [{delta: {}, finish_reason: "content_filter"}]})).finishReason, "stop");
    const failed = parseChunk(JSON.stringify({error: {message: "boom", type: "rate_limit_error"}}));
    assert.deepEqual(failed.error, {message: "boom", status: 429, code: null});
    const whole = parseChunk(JSON.stringify({choices: [{message: {content: "all"}, finish_reason: "stop"}]}), false);
    assert.equal(whole.text, "all");
});

test("what is not a chat completion chunk is a MalformedChunkError", () => {
    for (const data of ["not json", "[1]", "{}", JSON.stringify({choices: [{}]}), JSON.stringify({choices: [{delta: {content: 5}}]}),
        JSON.stringify({choices: [{delta: {content: "x"}, logprobs: {content: [{token: 1}]}}]})])
        assert.throws(() => parseChunk(data), MalformedChunkError, data);
});
