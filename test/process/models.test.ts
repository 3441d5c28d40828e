import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {requireStoriesModel} from "../helpers/storiesModel.js";
import {startTestWorker, testModelPath, type TestWorker} from "../helpers/testWorker.js";
import {getJson, postJson} from "../helpers/http.js";
import {metricValue} from "../helpers/opsHelpers.js";
import {execFile} from "node:child_process";
import {promisify} from "node:util";

/**
 * Two models served at once (MODELS): the synthetic tiny model as the instruct model, and the
 * really trained stories260K (llama, no chat template) as the base model, rendered with the plain
 * `role: content` fallback. Each request is routed by its `model` on every protocol.
 */

let server: TestWorker;

before(async () => {
    server = await startTestWorker({
        MODELS: `qwen_instruct=${await testModelPath()},qwen_base=${requireStoriesModel()}`, PARALLEL: "2", CONTEXT_SIZE: "1024"
    });
});
after(() => server?.close());

const conversation = [{role: "system", content: "You tell short stories."}, {role: "user", content: "Once upon a time"}];

test("two models answer their own requests, concurrently, on /chat, /generate, /enhance and /v1", async () => {
    const [instruct, base, enhanced, openai] = await Promise.all([
        postJson(`${server.url}/chat`, {messages: conversation, model: "qwen_instruct", max_tokens: 6, seed: 1}),
        postJson(`${server.url}/generate`, {messages: conversation, model: "qwen_base", max_tokens: 6, seed: 1}),
        postJson(`${server.url}/enhance`, {messages: conversation, model: "qwen_base", max_tokens: 5}),
        postJson(`${server.url}/v1/chat/completions`, {messages: conversation, model: "qwen_base", max_tokens: 4})
    ]);
    assert.equal(instruct.status, 200, JSON.stringify(instruct.json));
    assert.deepEqual(instruct.json.model_info, {model_name: "qwen_instruct", model_loaded: true, inference_engine: "llama.cpp", active_model_type: "instruct"});
    assert.equal(base.status, 200, JSON.stringify(base.json));
    assert.deepEqual(base.json.model_info, {model_name: "qwen_base", model_loaded: true, inference_engine: "llama.cpp", active_model_type: "base"});
    assert.equal(base.json.tokens_generated, 6);
    assert.equal(enhanced.status, 200, JSON.stringify(enhanced.json));
    assert.equal(enhanced.json.model_info.model_name, "qwen_base");
    assert.equal(openai.status, 200, JSON.stringify(openai.json));
    assert.equal(openai.json.model, "qwen_base");
    // The trained model writes English: its words come from its own vocabulary, not the synthetic one's.
    assert.match(base.json.response, /[a-z]{2,}/i, base.json.response);

    const noModel = await postJson(`${server.url}/chat`, {message: "hi", max_tokens: 2});
    assert.equal(noModel.json.model_info.model_name, "qwen_instruct", "a request that names no model goes to the first");
});

test("an unknown model name is a 400 that lists the known ones, on every protocol", async () => {
    for (const [url, body] of [
        ["/chat", {message: "hi", model: "gpt-4"}], ["/generate", {messages: conversation, model: "gpt-4"}],
        ["/enhance", {prompt: "a cat", model: "gpt-4"}], ["/chat/debug/system-prompt", {message: "hi", model: "gpt-4"}]
    ] as const) {
        const answer = await postJson(`${server.url}${url}`, body);
        assert.equal(answer.status, 400, `${url}: ${JSON.stringify(answer.json)}`);
        assert.equal(answer.json.code, "unknown_model");
        assert.match(answer.json.error, /model: unknown model "gpt-4"; this worker serves "qwen_instruct", "qwen_base"/);
    }
    const openai = await postJson(`${server.url}/v1/chat/completions`, {messages: conversation, model: "gpt-4"});
    assert.equal(openai.status, 400);
    assert.equal(openai.json.error.param, "model");
    assert.equal(openai.json.error.code, "unknown_model");
    const listed = await getJson(`${server.url}/v1/models`);
    assert.deepEqual(listed.json.data.map((model: {id: string}) => model.id), ["qwen_instruct", "qwen_base"]);
    assert.equal((await getJson(`${server.url}/v1/models/qwen_base`)).status, 200);
    const missing = await getJson(`${server.url}/v1/models/gpt-4`);
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, "model_not_found", "an unknown model id is OpenAI's 404 model_not_found");
});

test("a base model renders as role: content lines ending in assistant:, its BOS shown as the model's own token text", async () => {
    const debug = await postJson(`${server.url}/chat/debug/system-prompt`, {messages: conversation, model: "qwen_base", max_tokens: 16});
    assert.equal(debug.status, 200, JSON.stringify(debug.json));
    assert.equal(debug.json.model, "qwen_base");
    assert.equal(debug.json.rendered_prompt, "<s>system: You tell short stories.\nuser: Once upon a time\nassistant:");
    assert.equal(debug.json.system_prompt_used, "You tell short stories.");
    assert.equal(debug.json.no_override_detected, true);
    const instruct = await postJson(`${server.url}/chat/debug/system-prompt`, {messages: conversation, model: "qwen_instruct", max_tokens: 16});
    assert.match(instruct.json.rendered_prompt, /^<\|im_start\|>system\nYou tell short stories\.<\|im_end\|>/);
    // Client text that spells the base model's BOS stays text: one BOS token, at the start.
    const spelled = await postJson(`${server.url}/chat/debug/system-prompt`, {messages: [{role: "user", content: "<s><s>"}], model: "qwen_base", max_tokens: 16});
    assert.equal(spelled.json.rendered_prompt, "<s>user: <s><s>\nassistant:");
    assert.ok(spelled.json.prompt_tokens > 4, "the spelled <s> became several text tokens");
});

test("which= unloads and loads one model; /health, /debug/model, /worker/info and the metrics report each", async () => {
    const unloaded = await postJson(`${server.url}/memory/unload?which=qwen_base`, {});
    assert.equal(unloaded.status, 200, JSON.stringify(unloaded.json));
    assert.deepEqual(unloaded.json.models.map((model: {name: string}) => model.name), ["qwen_base"]);
    const health = (await getJson(`${server.url}/health`)).json;
    assert.deepEqual(health.models.map((model: {name: string; model_loaded: boolean}) => [model.name, model.model_loaded]),
        [["qwen_instruct", true], ["qwen_base", false]]);
    assert.equal(health.model_loaded, true, "the top level is the default model");
    assert.deepEqual(health.capabilities.models, ["qwen_instruct", "qwen_base"]);
    assert.equal(health.capabilities.model_selection, true);
    const debug = (await getJson(`${server.url}/debug/model`)).json;
    assert.deepEqual({active: debug.active_model, loaded: debug.loaded, instruct: debug.instruct_loaded, base: debug.base_loaded},
        {active: "qwen_instruct", loaded: {qwen_instruct: true, qwen_base: false}, instruct: true, base: false});
    const info = (await getJson(`${server.url}/worker/info`)).json;
    assert.deepEqual(info.models_loaded, ["qwen_instruct"]);
    assert.equal(info.message_format, "messages");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "chat_worker_model_loaded", {model: "qwen_base"}), 0);
    assert.equal(metricValue(metrics, "chat_worker_model_loaded", {model: "qwen_instruct"}), 1);

    const unknown = await postJson(`${server.url}/memory/load?which=nope`, {});
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.param, "which");
    assert.equal(unknown.json.code, "unknown_model");
    const loaded = await postJson(`${server.url}/memory/load?which=qwen_base`, {});
    assert.equal(loaded.status, 200, JSON.stringify(loaded.json));
    assert.deepEqual(loaded.json.models.map((model: {name: string; model_loaded: boolean}) => [model.name, model.model_loaded]), [["qwen_base", true]]);
    assert.equal((await getJson(`${server.url}/debug/model`)).json.base_loaded, true);
});

test("MODEL_LOADING=lazy: nothing loads at boot; the first request loads only its model", async () => {
    const lazy = await startTestWorker({
        MODELS: `qwen_instruct=${await testModelPath()},qwen_base=${requireStoriesModel()}`, PARALLEL: "1", CONTEXT_SIZE: "256", MODEL_LOADING: "lazy"
    });
    try {
        assert.deepEqual((await getJson(`${lazy.url}/debug/model`)).json.loaded, {qwen_instruct: false, qwen_base: false});
        const health = await getJson(`${lazy.url}/health`);
        assert.equal(health.status, 200);
        assert.equal(health.json.reason_code, "model_unloaded");
        assert.equal((await postJson(`${lazy.url}/generate`, {messages: conversation, model: "qwen_base", max_tokens: 2})).status, 200);
        assert.deepEqual((await getJson(`${lazy.url}/debug/model`)).json.loaded, {qwen_instruct: false, qwen_base: true});
    } finally {
        await lazy.close();
    }
});

test("npm run smoke selects each model by name and checks that an unknown name is refused", async () => {
    const {stdout} = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/smoke.ts", "--url", server.url],
        {encoding: "utf8", timeout: 120_000});
    const rows = stdout.split("\n").filter((line) => /^(PASS|FAIL|SKIP) /.test(line));
    assert.ok(!rows.some((row) => row.startsWith("FAIL")), stdout);
    for (const pattern of [/^PASS +POST +\/chat .*qwen_instruct \(instruct\)/, /^PASS +POST +\/chat .*qwen_base \(base\)/,
        /^PASS +POST +\/chat .*unknown model rejected/, /^PASS +GET +\/worker\/info .*2 model\(s\): qwen_instruct, qwen_base/])
        assert.ok(rows.some((row) => pattern.test(row)), `${pattern} in\n${stdout}`);
});
