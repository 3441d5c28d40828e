import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {execFileSync} from "node:child_process";
import {createRequire} from "node:module";
import {readGgufFileInfo} from "node-llama-cpp";
import {startTestWorker, testModelPath, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {metricValue, openStream, ONE_THREAD} from "../helpers/opsHelpers.js";
import {captureLogs} from "../helpers/logs.js";
import {getJson} from "../helpers/http.js";
import {isPageRoute, DOCS_DOCUMENT_ROUTES} from "../../src/http/pages.js";
import {registeredRoutes} from "../../src/http/app.js";
import {GpuUtilization} from "../../src/service/gpuUtilization.js";

let server: TestWorker;
const logs = captureLogs();

before(async () => {
    server = await startTestWorker({...ONE_THREAD, PARALLEL: "2", CONTEXT_SIZE: "4096", MAX_TOKENS_LIMIT: "4000", MAX_QUEUE: "4"}, logs.logger);
    assert.equal(server.worker.engine.status().state, "ready", server.worker.engine.status().reason ?? "");
});
after(() => server.close());

const GIB = 1024 ** 3;
const longStream = () => openStream(server.url, {message: "long", max_tokens: 4000, ignore_eos: true});

function hasNvidiaSmi(): boolean {
    try {
        execFileSync("nvidia-smi", ["-L"], {stdio: "ignore", timeout: 5000});
        return true;
    } catch {
        return false;
    }
}

test("/health reports the spec's fields from live state", async () => {
    const {status, json} = await getJson(`${server.url}/health`);
    assert.equal(status, 200);
    assert.equal(json.status, "healthy");
    assert.equal(json.reason, null);
    assert.equal(json.architecture, "pure_inference_engine");
    assert.equal(json.worker_type, "chat");
    assert.equal(json.model_loaded, true);
    assert.equal(json.ready, true);
    assert.equal(json.active_jobs, 0);
    assert.equal(json.load_progress, null);
    assert.deepEqual(json.system_prompt_features, {pure_inference_engine: true, no_prompt_overrides: true, respects_provided_prompts: true});
    // No GPU tools on a CPU machine: unknown, not a number.
    if (!hasNvidiaSmi()) assert.equal(json.gpu_utilization, null);
    const memory = await server.worker.engine.memory();
    assert.equal(json.memory_kind, "ram");
    assert.ok(memory.modelBytes! > 0);
    assert.ok(Math.abs(json.memory_usage - memory.modelBytes! / GIB) < 1e-5, `${json.memory_usage} vs ${memory.modelBytes}`);
    const later = await getJson(`${server.url}/health`);
    assert.ok(later.json.uptime >= json.uptime && json.uptime > 0);
});

test("active_jobs counts a running generation and a queued one, then drops back to 0", async () => {
    const first = await longStream();
    const second = await longStream();
    const queued = postJson(`${server.url}/chat`, {message: "queued", max_tokens: 2});
    await until(() => server.worker.scheduler.queued === 1, 10_000, "the third request to queue");
    const {json} = await getJson(`${server.url}/health`);
    assert.equal(json.running_jobs, 2);
    assert.equal(json.queued_jobs, 1);
    assert.equal(json.active_jobs, 3);
    const chatHealth = await getJson(`${server.url}/chat/health`);
    assert.equal(chatHealth.json.active_jobs, 3);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "chat_worker_running_sequences"), 2);
    assert.equal(metricValue(metrics, "chat_worker_queue_depth"), 1);
    first.request.destroy();
    second.request.destroy();
    assert.equal((await queued).status, 200);
    await until(() => server.worker.scheduler.running === 0, 5000, "the sequences to free");
    assert.equal((await getJson(`${server.url}/health`)).json.active_jobs, 0);
});

test("/ready and /chat/health answer for a ready model", async () => {
    const ready = await getJson(`${server.url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, {ready: true, model_state: "ready", reason: null, code: null});
    const chat = await getJson(`${server.url}/chat/health`);
    assert.equal(chat.status, 200);
    assert.equal(chat.json.status, "healthy");
    assert.equal(chat.json.endpoint, "/chat");
    assert.equal(chat.json.model_loaded, true);
    assert.equal(chat.json.model_name, "chat-worker-synthetic-tiny");
    assert.ok(Math.abs(Date.parse(chat.json.timestamp) - Date.now()) < 60_000);
});

test("/memory/status gives RAM figures labelled as RAM on the CPU", async () => {
    const {status, json} = await getJson(`${server.url}/memory/status`);
    assert.equal(status, 200);
    assert.equal(json.memory_kind, "ram");
    assert.equal(json.device_type, "cpu");
    assert.equal(json.model_device, "cpu");
    assert.equal(json.unit, "GiB");
    for (const field of ["total_vram", "allocated_vram", "available_vram", "used_vram"])
        assert.equal(json[field], null, `${field} is not VRAM on a CPU`);
    assert.ok(Math.abs(json.total_ram - os.totalmem() / GIB) < 0.01);
    assert.ok(json.available_ram > 0 && json.available_ram <= json.total_ram);
    assert.ok(Math.abs(json.used_ram + json.available_ram - json.total_ram) < 0.001);
    assert.ok(json.model_memory_bytes > 0);
    assert.ok(Math.abs(json.allocated_ram - json.model_memory_bytes / GIB) < 1e-5);
    assert.equal(json.model_loaded, true);
});

test("/model/info matches the GGUF file and the settings", async () => {
    const {status, json} = await getJson(`${server.url}/model/info`);
    assert.equal(status, 200);
    const modelPath = await testModelPath();
    const fileInfo = await readGgufFileInfo(modelPath);
    let parameters = 0;
    for (const tensor of fileInfo.fullTensorInfo ?? [])
        parameters += tensor.dimensions.reduce((product: number, dim) => product * Number(dim), 1);
    const requireHere = createRequire(import.meta.url);
    const nodeLlamaCppPackage = JSON.parse(fs.readFileSync(
        path.join(path.dirname(requireHere.resolve("node-llama-cpp")), "..", "package.json"), "utf8")) as {version: string};
    assert.equal(json.model_path, modelPath);
    assert.equal(json.model_name, fileInfo.metadata.general.name);
    assert.equal(json.architecture, "qwen2");
    assert.equal(json.parameter_count, parameters);
    assert.equal(json.file_size_bytes, fs.statSync(modelPath).size);
    assert.equal(json.quantization, "F32"); // the tiny preset's file type is ALL_F32
    assert.equal(json.context_size, 4096);
    assert.equal(json.trained_context_size, 32768);
    assert.equal(json.parallel_sequences, 2);
    assert.equal(json.threads, 1);
    assert.equal(json.gpu_layers, 0);
    assert.equal(json.device, "cpu");
    assert.equal(json.device_type, "cpu");
    assert.equal(json.model_loaded, true);
    assert.equal(json.node_llama_cpp_version, nodeLlamaCppPackage.version);
    assert.equal(typeof json.llama_cpp_release, "string");
    assert.ok(json.load_time_seconds > 0);
});

test("/metrics counters move after a request", async () => {
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const {status, json} = await postJson(`${server.url}/chat`, {message: "count me", max_tokens: 7, seed: 2});
    assert.equal(status, 200);
    const after = await (await fetch(`${server.url}/metrics`)).text();
    const delta = (name: string, labels?: Record<string, string>) => metricValue(after, name, labels) - metricValue(before, name, labels);
    assert.equal(delta("chat_worker_http_requests_total", {method: "POST", route: "/chat", status: "200"}), 1);
    assert.equal(delta("chat_worker_prompt_tokens_total"), json.usage.prompt_tokens);
    assert.equal(delta("chat_worker_generation_tokens_total"), 7);
    assert.equal(delta("chat_worker_time_to_first_token_seconds_count"), 1);
    assert.ok(delta("chat_worker_inter_token_latency_seconds_count") >= 1);
    assert.equal(delta("chat_worker_generations_total", {finish_reason: "length"}), 1);
    assert.equal(delta("chat_worker_generation_duration_seconds_count"), 1);
    assert.ok(delta("chat_worker_generation_duration_seconds_sum") > 0);
    assert.equal(metricValue(after, "chat_worker_model_loaded"), 1);
    assert.ok(Math.abs(metricValue(after, "chat_worker_model_load_seconds") - server.worker.engine.info().loadTimeSeconds!) < 1e-6);
    for (const name of ["chat_worker_conversation_cache_hits_total", "chat_worker_conversation_cache_misses_total", "chat_worker_conversation_cache_tokens_total"])
        assert.ok(after.includes(`# TYPE ${name} counter`), name);
    // A rejected request is counted under its status.
    await postJson(`${server.url}/chat`, {});
    const third = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(metricValue(third, "chat_worker_http_requests_total", {route: "/chat", status: "400"}) -
        metricValue(after, "chat_worker_http_requests_total", {route: "/chat", status: "400"}), 1);
});

test("/docs/json is an OpenAPI description of every API route, with the request schemas", async () => {
    const {status, json} = await getJson(`${server.url}/docs/json`);
    assert.equal(status, 200);
    assert.equal(json.openapi, "3.1.0");
    const documented = new Set(Object.entries(json.paths as Record<string, object>)
        .flatMap(([url, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${url}`)));
    const apiRoutes = registeredRoutes(server.worker.app)
        .filter((r) => r.method !== "HEAD" && !isPageRoute(r.url) && !DOCS_DOCUMENT_ROUTES.has(r.url));
    assert.ok(apiRoutes.length >= 15, `${apiRoutes.length} API routes`);
    for (const route of apiRoutes) {
        const url = route.url.replace(/\*$/, "{*}").replace(/:(\w+)/g, "{$1}");
        assert.ok(documented.has(`${route.method} ${url}`), `${route.method} ${route.url} is not documented`);
    }
    for (const url of Object.keys(json.paths))
        assert.ok(!isPageRoute(url) && !DOCS_DOCUMENT_ROUTES.has(url), `the page route ${url} is not an API route`);
    assert.equal(json.paths["/health"].get.responses["200"].description, "OK");
    const chatBody = json.paths["/chat"].post.requestBody.content["application/json"].schema;
    assert.ok(chatBody.properties.message != null && chatBody.properties.messages != null, "both shapes are documented");
    assert.equal(chatBody.properties.max_tokens.maximum, 4000, "the schema carries the configured limit");
    assert.ok(json.paths["/health"].get.responses["200"].content["application/json"].schema.properties.active_jobs);
    assert.equal(json.paths["/health"].get.security, undefined, "no auth configured");
});

test("responses carry the request id; logs carry ids and lengths, not prompt text", async () => {
    const secret = "purple-elephant-system-prompt";
    const response = await fetch(`${server.url}/chat`, {
        method: "POST", headers: {"content-type": "application/json", "x-request-id": "req-123"},
        body: JSON.stringify({message: "a message about zebras", system_prompt: secret, max_tokens: 3})
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-request-id"), "req-123");
    await response.text();
    await until(() => logs.records().some((r) => r.msg === "chat completed" && r.reqId === "req-123"), 2000, "the log line");
    const line = logs.records().find((r) => r.msg === "chat completed" && r.reqId === "req-123")!;
    assert.equal(line.messageChars, "a message about zebras".length);
    assert.ok(!logs.lines.join("").includes(secret), "the system prompt is not logged");
    assert.ok(!logs.lines.join("").includes("zebras"), "the message is not logged");
});

test("LOG_PROMPTS=true logs the prompt and response text", async () => {
    const withPrompts = captureLogs();
    const worker = await startTestWorker({...ONE_THREAD, LOG_PROMPTS: "true", PARALLEL: "1"}, withPrompts.logger);
    try {
        const {json} = await postJson(`${worker.url}/chat`, {message: "zebras please", system_prompt: "SYS-TEXT", max_tokens: 3});
        await until(() => withPrompts.records().some((r) => r.msg === "chat completed"), 2000, "the log line");
        const line = withPrompts.records().find((r) => r.msg === "chat completed")!;
        assert.equal(line.message, "zebras please");
        assert.equal(line.systemPrompt, "SYS-TEXT");
        assert.equal(line.response, json.response);
    } finally {
        await worker.close();
    }
});

test("GPU utilization comes from nvidia-smi's answer, and is null without it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-smi-"));
    const fake = path.join(dir, "nvidia-smi");
    // Stands in for the driver tool, which a CPU machine cannot run; it answers like nvidia-smi does.
    fs.writeFileSync(fake, "#!/bin/sh\necho 37\necho 80\n", {mode: 0o755});
    try {
        assert.equal(await new GpuUtilization(fake).read(), 37, "the first visible GPU");
        assert.equal(await new GpuUtilization(path.join(dir, "missing")).read(), null);
        fs.writeFileSync(fake, "#!/bin/sh\necho '[N/A]'\n", {mode: 0o755});
        assert.equal(await new GpuUtilization(fake).read(), null, "an unreadable answer is unknown, not 0");
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
});
