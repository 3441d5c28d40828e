import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import {execFile} from "node:child_process";
import {promisify} from "node:util";
import {readGgufFileInfo} from "node-llama-cpp";
import {startTestWorker, startUpstreamWorker, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {metricValue, openStream, ONE_THREAD} from "../helpers/opsHelpers.js";
import {getJson} from "../helpers/http.js";
import {registeredRoutes} from "../../src/http/app.js";
import {CHAT_ENDPOINTS, chatHealthBody, chatMemoryUsage, modelInfoBody} from "../../src/api/ops/opsBodies.js";
import type {HealthReport, MemoryReport, ModelInfo} from "../../src/service/workerStatus.js";
import {
    chatHealthResponseSchema, healthResponseSchema, loadResponseSchema, modelInfoResponseSchema, unloadResponseSchema
} from "../../src/api/ops/opsSchemas.js";

/**
 * The fields the original worker's v2.0 code answered where the spec only names the endpoint:
 * /chat/health, /model/info, /health's `stats`, and the /memory/load and /memory/unload bodies.
 */

let server: TestWorker;

before(async () => {
    server = await startTestWorker({...ONE_THREAD, PARALLEL: "2", CONTEXT_SIZE: "4096", MAX_TOKENS_LIMIT: "4000"});
    assert.equal(server.worker.engine.status().state, "ready", server.worker.engine.status().reason ?? "");
});
after(() => server.close());

const GIB = 1024 ** 3;
const near = (actual: number, expected: number, tolerance: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
const post = (route: string, body: unknown = {}) => postJson(`${server.url}${route}`, body);
const stats = async () => (await getJson(`${server.url}/health`)).json.stats;

test("/chat/health: chat_ready, the chat endpoints, system_prompt_features and model_info from live state", async () => {
    const {status, json} = await getJson(`${server.url}/chat/health`);
    assert.equal(status, 200);
    assert.equal(json.chat_ready, true);
    const routes = registeredRoutes(server.worker.app);
    const expected = Object.fromEntries(Object.entries(CHAT_ENDPOINTS).map(([url, description]) =>
        [url, `${routes.find((route) => route.url === url && route.method !== "HEAD")!.method} - ${description}`]));
    assert.deepEqual(json.endpoints, expected, "every chat route is served by a full worker, with its real method");
    assert.equal(json.endpoints["/chat"], "POST - Conversational chat");
    assert.equal(json.endpoints["/health"], "GET - General health check");
    assert.deepEqual(json.system_prompt_features, {custom_system_prompts: true, pure_inference_engine: true, debug_endpoint: true});

    assert.equal(json.model_info.loaded, true);
    assert.equal(json.model_info.model_name, "chat-worker-synthetic-tiny");
    const usage = json.model_info.memory_usage;
    const memory = await server.worker.engine.memory();
    assert.equal(usage.memory_kind, "ram");
    for (const field of ["total_vram_gb", "allocated_vram_gb", "available_vram_gb"])
        assert.equal(usage[field], null, `${field} is not VRAM on a CPU`);
    near(usage.total_ram_gb, os.totalmem() / GIB, 1e-5, "total_ram_gb");
    assert.ok(memory.modelBytes! > 0);
    near(usage.allocated_ram_gb, memory.modelBytes! / GIB, 1e-5, "allocated_ram_gb");
    assert.ok(usage.available_ram_gb > 0 && usage.available_ram_gb <= usage.total_ram_gb);
    near(usage.memory_usage_percent, memory.modelBytes! / os.totalmem() * 100, 1e-3, "memory_usage_percent");
});

test("/model/info: model_device, model_parameters, model_size_gb (the weights), cuda_available, gpu_name; no error while loaded", async () => {
    const {status, json} = await getJson(`${server.url}/model/info`);
    assert.equal(status, 200);
    const fileInfo = await readGgufFileInfo(json.model_path);
    const tensors = fileInfo.fullTensorInfo ?? [];
    const parameters = tensors.reduce((sum, tensor) => sum + tensor.dimensions.reduce((product: number, dim) => product * Number(dim), 1), 0);
    assert.equal(json.model_device, "cpu");
    assert.equal(json.model_parameters, parameters);
    assert.equal(json.model_parameters, json.parameter_count);
    // The tiny preset is all F32: 4 bytes a parameter, plus at most the alignment padding of each tensor.
    const weightsBytes = json.model_size_gb * GIB;
    assert.ok(weightsBytes >= parameters * 4 - GIB * 1e-6, `${weightsBytes} < ${parameters * 4}`);
    assert.ok(weightsBytes <= parameters * 4 + tensors.length * 32 + GIB * 1e-6, `${weightsBytes} bytes for ${parameters} F32 parameters`);
    assert.ok(weightsBytes < json.file_size_bytes, "the weights are the file less its header");
    assert.equal(json.cuda_available, false, "GPU=false: the CPU backend");
    assert.equal(json.gpu_name, null);
    assert.equal("error" in json, false);
});

test("/health stats count generations, tokens, errors and loads as /metrics does", async () => {
    const before = await stats();
    const chat = await post("/chat", {message: "count me", max_tokens: 5, seed: 3});
    assert.equal(chat.status, 200);
    assert.equal((await post("/chat", {})).status, 400);
    const now = await stats();
    assert.equal(now.requests_served - before.requests_served, 1);
    assert.equal(now.tokens_generated - before.tokens_generated, chat.json.usage.completion_tokens);
    assert.equal(now.prompt_tokens - before.prompt_tokens, chat.json.usage.prompt_tokens);
    assert.equal(now.client_errors - before.client_errors, 1);
    assert.equal(now.errors, before.errors, "a 400 is not a worker error");

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(now.requests_served, metricValue(metrics, "chat_worker_generation_duration_seconds_count"));
    assert.equal(now.tokens_generated, metricValue(metrics, "chat_worker_generation_tokens_total"));
    assert.equal(now.model_loads, metricValue(metrics, "chat_worker_model_loads_total", {result: "ready"}));
    assert.ok(now.model_loads >= 1);
    assert.equal(now.model_load_failures, 0);
    near(now.average_generation_time, metricValue(metrics, "chat_worker_generation_duration_seconds_sum") / now.requests_served,
        1e-3, "average_generation_time");
    assert.ok(now.average_generation_time > 0);
    const {json: health} = await getJson(`${server.url}/health`);
    near(health.stats.startup_time, Date.now() / 1000 - health.uptime, 1, "startup_time");
});

test("/health stats of a worker whose model failed to load: a failed load and the 503 it answers", async () => {
    const broken = await startTestWorker({...ONE_THREAD, MODEL_PATH: path.join(os.tmpdir(), "chat-worker-no-such-model.gguf")});
    try {
        assert.equal((await postJson(`${broken.url}/chat`, {message: "hi", max_tokens: 2})).status, 503);
        const {json} = await getJson(`${broken.url}/health`);
        assert.equal(json.stats.model_loads, 0);
        assert.equal(json.stats.model_load_failures, 1);
        assert.equal(json.stats.errors, 1);
        assert.equal(json.stats.requests_served, 0);
        assert.equal(json.stats.average_generation_time, null, "no generation yet: unknown, not 0");
        const info = await getJson(`${broken.url}/model/info`);
        assert.equal(info.status, 200);
        assert.equal(info.json.error, "Model not loaded");
        assert.equal(info.json.model_parameters, null, "the header could not be read");
        assert.equal(info.json.model_size_gb, null);
        const chatHealth = await getJson(`${broken.url}/chat/health`);
        assert.equal(chatHealth.json.chat_ready, false);
    } finally {
        await broken.close();
    }
});

test("/memory/unload and /memory/load answer {success, message}; unloaded, /model/info has the error and chat_ready is false", async () => {
    const before = await stats();
    const unloaded = await post("/memory/unload");
    assert.equal(unloaded.status, 200);
    assert.equal(unloaded.json.success, true);
    assert.equal(unloaded.json.message, "Model unloaded");
    assert.equal(unloaded.json.model_loaded, false);
    assert.equal((await post("/memory/unload")).json.message, "Model was not loaded");

    const info = await getJson(`${server.url}/model/info`);
    assert.equal(info.status, 200);
    assert.equal(info.json.model_loaded, false);
    assert.equal(info.json.error, "Model not loaded");
    assert.ok(info.json.model_parameters > 0, "the file's facts survive the unload");
    assert.equal(info.json.model_device, "cpu", "the backend survives the unload");
    const chatHealth = (await getJson(`${server.url}/chat/health`)).json;
    assert.equal(chatHealth.chat_ready, false);
    assert.equal(chatHealth.model_info.loaded, false);
    assert.equal(chatHealth.model_info.model_name, null, "no model is loaded");
    assert.equal(chatHealth.model_name, "chat-worker-synthetic-tiny", "the configured model keeps its name");
    assert.equal(chatHealth.model_info.memory_usage.allocated_ram_gb, 0);
    assert.equal((await stats()).model_unloads - before.model_unloads, 1);

    const loaded = await post("/memory/load");
    assert.equal(loaded.status, 200);
    assert.equal(loaded.json.success, true);
    assert.match(loaded.json.message, /^Model loaded in \d+(\.\d+)? s$/);
    near(Number(/in ([\d.]+) s/.exec(loaded.json.message)![1]), loaded.json.load_time_seconds, 0.0005, "the load time in the message");
    assert.equal((await post("/memory/load")).json.message, "Model already loaded");
    assert.equal((await stats()).model_loads - before.model_loads, 1);
    assert.equal("error" in (await getJson(`${server.url}/model/info`)).json, false);
    assert.equal((await getJson(`${server.url}/chat/health`)).json.chat_ready, true);
});

test("a forced unload says how many generations it aborted", async () => {
    const running = await openStream(server.url, {message: "long", max_tokens: 4000, ignore_eos: true});
    const forced = await post("/memory/unload", {force: true});
    assert.equal(forced.status, 200);
    assert.equal(forced.json.aborted_requests, 1);
    assert.equal(forced.json.message, "Model unloaded; 1 running generation aborted");
    await running.done.catch(() => undefined);
    assert.equal((await post("/memory/load")).status, 200);
});

test("what the original's test_chat_worker_updates.py reads: chat health, then chat with and without a system prompt", async () => {
    const health = (await getJson(`${server.url}/chat/health`)).json;
    assert.equal(health.status ?? "unknown", "healthy");
    assert.equal(health.chat_ready ?? false, true);
    const endpoints = Object.keys(health.endpoints ?? {});
    for (const url of ["/chat", "/chat/debug/system-prompt", "/enhance", "/health"])
        assert.ok(endpoints.includes(url), `${url} in ${endpoints.join(", ")}`);
    for (const payload of [
        {message: "Hello, how are you today?", conversation_id: "test_conv_001"},
        {message: "Tell me a short story about a magical cat", system_prompt: "You are a creative writer.", conversation_id: "test_conv_002"}
    ]) {
        const {json} = await post("/chat", {...payload, max_tokens: 8});
        assert.equal(json.success, true);
        assert.equal(typeof json.response, "string");
        assert.equal(json.system_prompt_used, payload.system_prompt ?? json.system_prompt_used);
    }
});

test("ENGINE=openai: what the upstream does not tell is null, the rest is there", async () => {
    const front = await startUpstreamWorker(`${server.url}/v1`, {...ONE_THREAD});
    try {
        const info = (await getJson(`${front.url}/model/info`)).json;
        for (const field of ["model_device", "model_parameters", "model_size_gb", "cuda_available", "gpu_name"])
            assert.equal(info[field], null, field);
        assert.equal("error" in info, false, "the upstream is reachable: its model counts as loaded");
        const chatHealth = (await getJson(`${front.url}/chat/health`)).json;
        assert.equal(chatHealth.chat_ready, true);
        assert.equal(chatHealth.model_info.model_name, server.worker.engine.info().modelName);
        assert.deepEqual(Object.values(chatHealth.model_info.memory_usage), Array(8).fill(null));
        assert.equal((await postJson(`${front.url}/chat`, {message: "hi", max_tokens: 3})).status, 200);
        const stats = (await getJson(`${front.url}/health`)).json.stats;
        assert.equal(stats.requests_served, 1);
        assert.equal(stats.tokens_generated, 3);
    } finally {
        await front.close();
    }
});

// A GPU cannot be reached from the test machine; the adapters are checked with what the engine reports on one.
const report = (overrides: Partial<HealthReport> = {}): HealthReport => ({
    status: "healthy", reason: null, reasonCode: null, ready: true, engineState: "ready", modelLoaded: true, modelName: "m",
    loadProgress: null, download: null, running: 0, queued: 0, uptimeSeconds: 1, gpuUtilization: null, shuttingDown: false, startedAtMs: 0, models: [],
    memory: {deviceType: "cpu", device: "cpu", deviceName: null, memoryKind: "ram", totalBytes: 1, usedBytes: 0, freeBytes: 1, modelBytes: 0},
    totals: {
        generations: 0, generationSeconds: 0, generatedTokens: 0, promptTokens: 0, serverErrors: 0, clientErrors: 0,
        modelLoads: 1, failedModelLoads: 0, modelUnloads: 0
    },
    ...overrides
});

test("on a CUDA device: VRAM figures, cuda:0, the GPU's name and cuda_available", () => {
    const memory: MemoryReport = {
        deviceType: "cuda", device: "cuda:0", deviceName: "NVIDIA H200", memoryKind: "vram",
        totalBytes: 80 * GIB, usedBytes: 20 * GIB, freeBytes: 60 * GIB, modelBytes: 8 * GIB
    };
    assert.deepEqual(chatMemoryUsage(memory), {
        memory_kind: "vram", total_vram_gb: 80, allocated_vram_gb: 8, available_vram_gb: 60,
        total_ram_gb: null, allocated_ram_gb: null, available_ram_gb: null, memory_usage_percent: 10
    });
    const info = server.worker.engine.info();
    const onCuda = modelInfoBody({...info, gpu: "cuda"} satisfies ModelInfo, {state: "ready", reason: null, loadProgress: null}, memory);
    assert.equal(onCuda.model_device, "cuda:0");
    assert.equal(onCuda.gpu_name, "NVIDIA H200");
    assert.equal(onCuda.cuda_available, true);
    const onVulkan = modelInfoBody({...info, gpu: "vulkan"}, {state: "ready", reason: null, loadProgress: null},
        {...memory, deviceType: "vulkan", device: "vulkan:0"});
    assert.equal(onVulkan.cuda_available, false, "a GPU, but not CUDA");
    assert.equal(modelInfoBody({...info, gpu: null}, {state: "unloaded", reason: null, loadProgress: null}, memory).cuda_available, null,
        "backend not started: unknown");
});

test("/chat/health lists only the routes the app serves, and says so in system_prompt_features", () => {
    const body = chatHealthBody(report({shuttingDown: true}), [
        {method: "GET", url: "/health"}, {method: "HEAD", url: "/health"},
        {method: "POST", url: "/chat", schema: {body: {type: "object", properties: {message: {type: "string"}}}}}
    ]);
    assert.deepEqual(body.endpoints, {"/chat": "POST - Conversational chat", "/health": "GET - General health check"});
    assert.deepEqual(body.system_prompt_features, {custom_system_prompts: false, pure_inference_engine: true, debug_endpoint: false});
    assert.equal(body.chat_ready, false, "shutting down");
    assert.equal(body.model_loaded, true);
});

test("npm run smoke fails a worker that lacks these fields, naming them", async () => {
    // Stands in for a worker from before this change: today's bodies less the original's fields.
    const {json: health} = await getJson(`${server.url}/health`);
    const {json: chatHealth} = await getJson(`${server.url}/chat/health`);
    const {json: modelInfo} = await getJson(`${server.url}/model/info`);
    const without = (body: Record<string, unknown>, names: string[]) =>
        Object.fromEntries(Object.entries(body).filter(([name]) => !names.includes(name)));
    const bodies: Record<string, unknown> = {
        "/health": without(health, ["stats"]),
        "/chat/health": without(chatHealth, ["chat_ready", "endpoints", "system_prompt_features", "model_info"]),
        "/model/info": without(modelInfo, ["model_device", "model_parameters", "model_size_gb", "cuda_available", "gpu_name"])
    };
    const old = http.createServer((request, response) => {
        const body = bodies[request.url ?? ""];
        response.writeHead(body != null ? 200 : 404, {"content-type": "application/json"});
        response.end(JSON.stringify(body ?? {success: false}));
    });
    await new Promise<void>((resolve) => old.listen(0, "127.0.0.1", resolve));
    try {
        const {port} = old.address() as {port: number};
        const result = await promisify(execFile)(process.execPath,
            ["--import", "tsx", "src/cli/smoke.ts", "--url", `http://127.0.0.1:${port}`], {encoding: "utf8", timeout: 60_000})
            .then(() => null, (err: {code: number; stdout: string}) => err);
        assert.ok(result != null, "smoke passed a worker without the fields");
        assert.equal(result.code, 1);
        assert.match(result.stdout, /^FAIL +GET +\/health .*stats missing/m);
        assert.match(result.stdout, /^FAIL +GET +\/chat\/health .*chat_ready is undefined/m);
        assert.match(result.stdout, /^FAIL +GET +\/model\/info .*model_device is undefined/m);
    } finally {
        old.close();
    }
});

/** Every property name of a JSON schema, nested objects included. */
function propertyNames(schema: any): string[] {
    return Object.entries((schema?.properties ?? {}) as Record<string, unknown>)
        .flatMap(([name, property]) => [name, ...propertyNames(property)]);
}

test("docs/native-api.md's endpoint sections name every field of their response schemas", () => {
    const readme = fs.readFileSync(new URL("../../docs/native-api.md", import.meta.url), "utf8");
    const section = (heading: string) => {
        const start = readme.indexOf(`\n### ${heading}\n`);
        assert.ok(start >= 0, `docs/native-api.md has no "### ${heading}" section`);
        const end = readme.indexOf("\n### ", start + 1);
        return readme.slice(start, end === -1 ? undefined : end);
    };
    const sections: Array<[string, unknown]> = [
        ["GET /health", healthResponseSchema], ["GET /chat/health", chatHealthResponseSchema], ["GET /model/info", modelInfoResponseSchema],
        ["POST /memory/load, POST /memory/unload", loadResponseSchema], ["POST /memory/load, POST /memory/unload", unloadResponseSchema]
    ];
    for (const [heading, schema] of sections) {
        const text = section(heading);
        for (const name of propertyNames(schema))
            assert.ok(text.includes(`\`${name}\``) || text.includes(`"${name}"`), `${name} is not in docs/native-api.md's ${heading} section`);
    }
});
