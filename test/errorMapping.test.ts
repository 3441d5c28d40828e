import {test} from "node:test";
import assert from "node:assert/strict";
import {toProblem} from "../src/http/adapters/errorMapping.js";
import {promptFieldFor} from "../src/http/adapters/envelopes.js";
import {ContextOverflowError, QueueFullError, WorkerError} from "../src/errors.js";

test("each error kind maps to its status, with the code, param and Retry-After it carries", () => {
    assert.deepEqual(toProblem(new QueueFullError(3, 7)), {status: 429, code: "queue_full", message: new QueueFullError(3, 7).message,
        param: undefined, retryAfterSeconds: 7});
    const cases: Array<[WorkerError["kind"], number]> = [["invalid_request", 400], ["unauthorized", 401], ["not_found", 404],
        ["conflict", 409], ["overloaded", 429], ["unavailable", 503], ["bad_gateway", 502], ["gateway_timeout", 504], ["internal", 500]];
    for (const [kind, status] of cases)
        assert.equal(toProblem(new WorkerError(kind, "x", "y")).status, status, kind);
});

test("a prompt that cannot fit is blamed on the route's prompt field, or on max_tokens", () => {
    const overflow = new ContextOverflowError({promptTokens: 900, maxTokens: 200, contextSize: 1024, culprit: "prompt"});
    assert.equal(toProblem(overflow, promptFieldFor("/chat")).param, "message");
    assert.equal(toProblem(overflow, promptFieldFor("/v1/chat/completions?x=1")).param, "messages");
    assert.equal(toProblem(overflow, promptFieldFor("/enhance")).param, "prompt");
    assert.match(toProblem(overflow).message, /need 900 tokens.*1100 in all.*1024/);
    const engineSide = new ContextOverflowError({promptTokens: 900, maxTokens: 200, contextSize: 1024, culprit: "max_tokens"});
    assert.equal(toProblem(engineSide, "messages").param, "max_tokens");
    const upstream = new ContextOverflowError({promptTokens: null, maxTokens: null, contextSize: null, culprit: "max_tokens", upstreamDetail: "too long"});
    assert.match(toProblem(upstream).message, /upstream model's context: too long/);
});

test("validation errors name the field; parser errors are 400/413/415; anything else is a 500 without internals", () => {
    const validation = Object.assign(new Error("bad"), {validation: [{instancePath: "/conversation_history/0/sender", keyword: "enum",
        params: {allowedValues: ["user", "assistant"]}, message: "must be equal to one of the allowed values"}]});
    assert.deepEqual(toProblem(validation), {status: 400, code: "invalid_request",
        message: "conversation_history[0].sender: must be one of \"user\", \"assistant\"", param: "conversation_history[0].sender"});
    assert.equal(toProblem(Object.assign(new Error("x"), {code: "FST_ERR_CTP_BODY_TOO_LARGE"})).status, 413);
    assert.equal(toProblem(Object.assign(new Error("x"), {code: "FST_ERR_CTP_INVALID_MEDIA_TYPE"})).status, 415);
    assert.equal(toProblem(new SyntaxError("Unexpected token")).code, "invalid_json");
    const internal = toProblem(new Error("ENOENT: /secret/path/model.gguf"));
    assert.equal(internal.status, 500);
    assert.doesNotMatch(internal.message, /secret|ENOENT/);
    assert.doesNotMatch(toProblem(Object.assign(new Error("cannot read /etc/some/file"), {statusCode: 400})).message, /\/etc\/some/);
});
