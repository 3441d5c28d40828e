import {test} from "node:test";
import assert from "node:assert/strict";
import {retryHeaders, statusForKind, toProblem} from "../../src/http/errorMapping.js";
import {ModelNotReadyError, UnknownModelError} from "../../src/errors.js";

/**
 * The cases of the one error table that test/unit/errorMapping.test.ts leaves out: Retry-After headers,
 * the names given to fields in validation errors, and OpenAI's wording for an unknown field.
 */

const validation = (...issues: object[]) => Object.assign(new Error("bad"), {validation: issues});

test("retryHeaders: whole seconds (at least 1) for Retry-After, milliseconds for retry-after-ms, nothing without a hint", () => {
    const cases: Array<[number | undefined, Record<string, string>]> = [
        [undefined, {}],
        [5, {"retry-after": "5", "retry-after-ms": "5000"}],
        [0.2, {"retry-after": "1", "retry-after-ms": "200"}],
        [2.5, {"retry-after": "3", "retry-after-ms": "2500"}]
    ];
    for (const [seconds, expected] of cases)
        assert.deepEqual(retryHeaders({status: 429, code: "x", message: "y", retryAfterSeconds: seconds}), expected, String(seconds));
    assert.deepEqual(retryHeaders(toProblem(new ModelNotReadyError("loading", null))), {"retry-after": "5", "retry-after-ms": "5000"});
    assert.deepEqual(retryHeaders(toProblem(new ModelNotReadyError("failed", "gone"))), {"retry-after": "30", "retry-after-ms": "30000"});
});

test("statusForKind: 415 for an unreadable body encoding; an unknown model name is a 400 naming the field", () => {
    assert.equal(statusForKind("unsupported_media_type"), 415);
    assert.deepEqual(toProblem(new UnknownModelError("model", "no such model")),
        {status: 400, code: "unknown_model", message: "model: no such model", param: "model", retryAfterSeconds: undefined});
});

test("validation issues name the field as a client writes it", () => {
    const cases: Array<[object[], string, string]> = [
        [[{instancePath: "", keyword: "required", params: {missingProperty: "message"}}], "message", "message: is required"],
        [[{instancePath: "/conversation_history/2", keyword: "required", params: {missingProperty: "content"}}],
            "conversation_history[2].content", "conversation_history[2].content: is required"],
        [[{instancePath: "", keyword: "additionalProperties", params: {additionalProperty: "foo"}}], "foo", "foo: is not a known field"],
        [[{instancePath: "/messages/0/content/1/type", keyword: "type", message: "must be string"}], "messages[0].content[1].type",
            "messages[0].content[1].type: must be string"],
        [[{instancePath: "", keyword: "type", message: "must be object"}], "body", "body: must be object"],
        // A union's own issue is the least specific: the branch's issue is named instead.
        [[{instancePath: "/stop", keyword: "anyOf"}, {instancePath: "/stop", keyword: "maxItems", message: "must NOT have more than 16 items"}],
            "stop", "stop: must NOT have more than 16 items"],
        [[{instancePath: "/stop", keyword: "anyOf"}], "stop", "stop: has an unsupported value"],
        // A union of literals fails once per literal: all are named, as an enum would be.
        [[{instancePath: "/role", keyword: "const", params: {allowedValue: "user"}}, {instancePath: "/role", keyword: "const", params: {allowedValue: "system"}}],
            "role", "role: must be one of \"user\", \"system\""]
    ];
    for (const [issues, param, message] of cases) {
        const problem = toProblem(validation(...issues));
        assert.deepEqual([problem.status, problem.code, problem.param, problem.message], [400, "invalid_request", param, message], message);
    }
});

test("on OpenAI's routes an unknown field is unknown_parameter in OpenAI's words; other validation issues are unchanged", () => {
    const unknown = validation({instancePath: "/response_format", keyword: "additionalProperties", params: {additionalProperty: "strict_mode"}});
    assert.deepEqual(toProblem(unknown, "messages", true), {status: 400, code: "unknown_parameter",
        message: "Unrecognized request argument supplied: response_format.strict_mode", param: "response_format.strict_mode"});
    assert.equal(toProblem(unknown).code, "invalid_request", "the native API keeps its own wording");
    assert.equal(toProblem(validation({instancePath: "/n", keyword: "maximum", message: "must be <= 8"}), "messages", true).code, "invalid_request");
});

test("parser errors: an empty JSON body and a wrong Content-Length are 400s naming what is wrong", () => {
    const cases: Array<[string, number, string, string]> = [
        ["FST_ERR_CTP_EMPTY_JSON_BODY", 400, "invalid_json", "body"],
        ["FST_ERR_CTP_INVALID_JSON_BODY", 400, "invalid_json", "body"],
        ["FST_ERR_CTP_INVALID_CONTENT_LENGTH", 400, "invalid_content_length", "Content-Length"],
        ["FST_ERR_CTP_INVALID_MEDIA_TYPE", 415, "unsupported_media_type", "Content-Type"],
        ["FST_ERR_CTP_BODY_TOO_LARGE", 413, "body_too_large", "body"]
    ];
    for (const [code, status, problemCode, param] of cases)
        assert.deepEqual(Object.values(pickOf(toProblem(Object.assign(new Error("x"), {code})))), [status, problemCode, param], code);
    // Another 4xx keeps its status, without paths in its message.
    assert.deepEqual(pickOf(toProblem(Object.assign(new Error("route /a/b/c gone"), {statusCode: 405}))), {status: 405, code: "invalid_request", param: undefined});
    assert.equal(toProblem(Object.assign(new Error("route /a/b/c gone"), {statusCode: 405})).message, "route <path> gone");
});

function pickOf(problem: ReturnType<typeof toProblem>): {status: number; code: string; param: string | undefined} {
    return {status: problem.status, code: problem.code, param: problem.param};
}
