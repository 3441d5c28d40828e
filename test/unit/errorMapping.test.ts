import {test} from "node:test";
import assert from "node:assert/strict";
import Fastify from "fastify";
import {toProblem} from "../../src/http/errorMapping.js";
import {ContextOverflowError, QueueFullError, WorkerError} from "../../src/errors.js";
import {loadConfig} from "../../src/config/config.js";
import type {ChatService} from "../../src/service/chatService.js";
import type {EnhanceService} from "../../src/service/enhanceService.js";
import {nativeApi} from "../../src/api/native/nativeApi.js";
import {openAiApi} from "../../src/api/openai/openaiApi.js";

test("each error kind maps to its status, with the code, param and Retry-After it carries", () => {
    assert.deepEqual(toProblem(new QueueFullError(3, 7)), {status: 429, code: "queue_full", message: new QueueFullError(3, 7).message,
        param: undefined, retryAfterSeconds: 7});
    const cases: Array<[WorkerError["kind"], number]> = [["invalid_request", 400], ["unauthorized", 401], ["not_found", 404],
        ["conflict", 409], ["overloaded", 429], ["unavailable", 503], ["bad_gateway", 502], ["gateway_timeout", 504], ["internal", 500]];
    for (const [kind, status] of cases)
        assert.equal(toProblem(new WorkerError(kind, "x", "y")).status, status, kind);
});

test("a prompt that cannot fit is blamed on the route's prompt field, in the envelope of the route's API", async () => {
    const overflow = new ContextOverflowError({promptTokens: 900, maxTokens: 200, contextSize: 1024, culprit: "prompt"});
    const fail = async () => {
        throw overflow;
    };
    // Only what the routes call before the service refuses the prompt.
    const chat = {chat: fail, chatChoices: fail, model: () => ({name: "m"})} as unknown as ChatService;
    const enhance = {
        jobTypes: () => [{jobType: "sdxl_image_fast"}], resolve: () => ({jobType: "sdxl_image_fast", quality: "fast"}), enhance: fail
    } as unknown as EnhanceService;
    const config = loadConfig({});
    const app = Fastify();
    await app.register(nativeApi, {config, chat, enhance});
    await app.register(openAiApi, {config, chat});
    const refused = async (url: string, body: object) => {
        const answer = await app.inject({method: "POST", url, payload: body});
        assert.equal(answer.statusCode, 400, `${url}: ${answer.body}`);
        return answer.json();
    };
    const messages = [{role: "user", content: "hi"}];
    for (const [url, body, field] of [["/chat", {message: "hi"}, "message"], ["/generate", {messages}, "messages"], ["/enhance", {prompt: "a cat"}, "prompt"],
        ["/enhance/legacy", {messages}, "messages"]] as const) {
        const answer = await refused(url, body);
        assert.equal(answer.success, false, url);
        assert.equal(answer.code, "context_length_exceeded", url);
        assert.equal(answer.param, field, url);
    }
    for (const [url, body, field] of [["/v1/chat/completions?x=1", {messages}, "messages"], ["/v1/completions", {prompt: "hi"}, "prompt"]] as const) {
        const answer = await refused(url, body);
        assert.equal(answer.error.code, "context_length_exceeded", url);
        assert.equal(answer.error.param, field, url);
    }
    // An unknown path under an OpenAI prefix gets OpenAI's envelope from that API's own not-found handler.
    for (const url of ["/v1/nope", "/apply-template/nope"]) {
        const missing = await app.inject({method: "GET", url});
        assert.equal(missing.statusCode, 404, url);
        assert.equal(missing.json().error.type, "not_found_error", url);
    }
    await app.close();
});

test("a prompt that cannot fit is blamed on max_tokens when the engine found it", () => {
    const overflow = new ContextOverflowError({promptTokens: 900, maxTokens: 200, contextSize: 1024, culprit: "prompt"});
    assert.equal(toProblem(overflow, "prompt").param, "prompt");
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
