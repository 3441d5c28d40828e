import {test} from "node:test";
import assert from "node:assert/strict";
import {
    CHAT_ENDPOINTS, SYSTEM_PROMPT_FEATURES, chatHealthBody, chatMemoryUsage, gib, healthBody, healthStats, memoryStatusBody, modelInfoBody, readyBody
} from "../../src/api/ops/opsBodies.js";
import {capabilities, debugModelBody, endpointList} from "../../src/api/ops/discoveryBodies.js";
import type {HealthReport, MemoryReport, ModelReport} from "../../src/service/workerStatus.js";
import type {MetricTotals} from "../../src/service/metrics.js";
import type {RouteRecord} from "../../src/http/routeList.js";
import type {Capabilities} from "../../src/api/ops/discoverySchemas.js";
import {ModelPool} from "../../src/service/modelPool.js";
import {ModelLifecycle} from "../../src/service/modelLifecycle.js";
import {Scheduler} from "../../src/scheduler/scheduler.js";
import {FakeEngine, streams} from "../helpers/fakeEngine.js";

/** The ops bodies (/health, /ready, /chat/health, /memory/status, /model/info, discovery): reports to the original's fields. */

const GIB = 1024 ** 3;
const cpu: MemoryReport = {deviceType: "cpu", device: "cpu", deviceName: null, memoryKind: "ram", totalBytes: 16 * GIB, usedBytes: 8 * GIB,
    freeBytes: 8 * GIB, modelBytes: GIB / 2};
const gpu: MemoryReport = {deviceType: "cuda", device: "cuda:0", deviceName: "H100", memoryKind: "vram", totalBytes: 80 * GIB, usedBytes: 20 * GIB,
    freeBytes: 60 * GIB, modelBytes: 4 * GIB};
const totals: MetricTotals = {generations: 4, generationSeconds: 1, generatedTokens: 40, promptTokens: 80, serverErrors: 1, clientErrors: 2,
    modelLoads: 1, failedModelLoads: 0, modelUnloads: 0};
const modelReport: ModelReport = {name: "fake", status: "loading", readiness: {ready: false, reason: "downloading", code: "downloading"},
    engine: {state: "loading", reason: null, loadProgress: 0.25, download: {doneBytes: 1999, totalBytes: 2000}}, running: 0, queued: 2, memory: cpu};
const report: HealthReport = {
    status: "loading", reason: "downloading", reasonCode: "downloading", ready: false, engineState: "loading", modelLoaded: false, modelName: "fake",
    loadProgress: 0.1234, download: {doneBytes: 500, totalBytes: 1000}, running: 1, queued: 2, uptimeSeconds: 12.34567, gpuUtilization: null,
    memory: cpu, shuttingDown: false, totals, startedAtMs: 1_700_000_000_123, models: [modelReport]
};
const discovery = {capabilities: {} as Capabilities, endpoints: {"/chat": "POST"}};

test("gib: bytes to GiB with six decimals, so a small model does not read as 0", () => {
    const cases: Array<[number | null, number | null]> = [[null, null], [0, 0], [GIB, 1], [1.5 * GIB, 1.5], [1024 * 1024, 0.000977], [1, 0]];
    for (const [bytes, expected] of cases)
        assert.equal(gib(bytes), expected, String(bytes));
});

test("healthBody: percents to a tenth, jobs summed, the download rounded down, each model its own line", () => {
    const body = healthBody(report, discovery);
    assert.deepEqual([body.status, body.reason_code, body.ready, body.model_state, body.model_loaded], ["loading", "downloading", false, "loading", false]);
    assert.deepEqual([body.active_jobs, body.running_jobs, body.queued_jobs], [3, 1, 2]);
    assert.equal(body.load_progress, 12.3);
    assert.equal(body.uptime, 12.346);
    assert.deepEqual([body.download_progress, body.downloaded_bytes, body.download_total_bytes], [50, 500, 1000]);
    assert.deepEqual([body.memory_usage, body.memory_kind], [0.5, "ram"]);
    assert.deepEqual(body.system_prompt_features, SYSTEM_PROMPT_FEATURES);
    assert.deepEqual(body.endpoints, {"/chat": "POST"});
    assert.deepEqual(body.models, [{name: "fake", status: "loading", model_state: "loading", model_loaded: false, reason: "downloading",
        reason_code: "downloading", load_progress: 25, download_progress: 99.9, running_jobs: 0, queued_jobs: 2, memory_usage: 0.5}]);
    const unknownSize = healthBody({...report, download: {doneBytes: 5, totalBytes: null}, loadProgress: null}, discovery);
    assert.deepEqual([unknownSize.download_progress, unknownSize.downloaded_bytes, unknownSize.download_total_bytes, unknownSize.load_progress],
        [null, 5, null, null]);
    assert.equal(healthBody({...report, download: null}, discovery).download_progress, null);
});

test("healthStats: the original's names; no average before the first generation", () => {
    assert.deepEqual(healthStats(totals, 1_700_000_000_123), {
        requests_served: 4, errors: 1, client_errors: 2, tokens_generated: 40, prompt_tokens: 80, average_generation_time: 0.25,
        model_loads: 1, model_load_failures: 0, model_unloads: 0, startup_time: 1_700_000_000.123
    });
    assert.equal(healthStats({...totals, generations: 0}, 0).average_generation_time, null);
});

test("readyBody names the state, the reason and its code", () => {
    assert.deepEqual(readyBody({ready: false, reason: "the model file (MODEL_PATH) does not exist", code: "model_file_not_found"},
        {state: "failed", reason: "x", loadProgress: null}),
    {ready: false, model_state: "failed", reason: "the model file (MODEL_PATH) does not exist", code: "model_file_not_found"});
});

test("memory figures go under VRAM names on a GPU and RAM names on the CPU, never both", () => {
    const onGpu = chatMemoryUsage(gpu);
    assert.deepEqual([onGpu.total_vram_gb, onGpu.allocated_vram_gb, onGpu.available_vram_gb], [80, 4, 60]);
    assert.deepEqual([onGpu.total_ram_gb, onGpu.allocated_ram_gb, onGpu.available_ram_gb], [null, null, null]);
    assert.equal(onGpu.memory_usage_percent, 5);
    const onCpu = chatMemoryUsage(cpu);
    assert.deepEqual([onCpu.total_vram_gb, onCpu.total_ram_gb, onCpu.allocated_ram_gb, onCpu.memory_usage_percent], [null, 16, 0.5, 3.125]);
    assert.equal(chatMemoryUsage({...cpu, memoryKind: null, totalBytes: null}).memory_usage_percent, null);

    const status = memoryStatusBody(gpu, true, [{...modelReport, engine: {state: "ready", reason: null, loadProgress: null}, memory: gpu}]);
    assert.deepEqual([status.total_vram, status.used_vram, status.total_ram, status.used_ram, status.unit], [80, 20, null, null, "GiB"]);
    assert.deepEqual([status.model_memory_bytes, status.model_device, status.device_type], [4 * GIB, "cuda:0", "cuda"]);
    assert.deepEqual(status.models, [{name: "fake", model_loaded: true, model_memory_bytes: 4 * GIB, allocated: 4}]);
});

test("modelInfoBody: the facts under the original's names too; `error` only while the model is not ready", () => {
    const info = {...new FakeEngine(streams([])).info(), weightsBytes: 2 * GIB, parameterCount: 7, gpu: "cuda"};
    const ready = modelInfoBody(info, {state: "ready", reason: null, loadProgress: null}, gpu);
    assert.deepEqual([ready.model_name, ready.model_loaded, ready.model_parameters, ready.model_size_gb, ready.cuda_available, ready.gpu_name],
        ["fake", true, 7, 2, true, "H100"]);
    assert.equal("error" in ready, false);
    const unloaded = modelInfoBody({...info, gpu: null}, {state: "unloaded", reason: null, loadProgress: null}, cpu);
    assert.deepEqual([unloaded.model_loaded, unloaded.error, unloaded.cuda_available], [false, "Model not loaded", null]);
});

const routes: RouteRecord[] = [
    {method: "POST", url: "/chat", schema: {summary: "Chat", body: {properties: {system_prompt: {}}}}},
    {method: "HEAD", url: "/health"},
    {method: "GET", url: "/health", schema: {summary: "Health"}},
    {method: "POST", url: "/v1/chat/completions"},
    {method: "GET", url: "/playground"},
    {method: "GET", url: "/docs/json"},
    {method: "POST", url: "/memory/load", schema: {summary: "Load"}},
    {method: "GET", url: "/memory/load", schema: {summary: "Progress"}}
];

test("chatHealthBody lists only the chat routes the app registered, with their method; features follow the routes", () => {
    const body = chatHealthBody({...report, modelLoaded: true}, routes);
    assert.deepEqual(body.endpoints, {
        "/chat": `POST - ${CHAT_ENDPOINTS["/chat"]}`, "/health": `GET - ${CHAT_ENDPOINTS["/health"]}`,
        "/v1/chat/completions": `POST - ${CHAT_ENDPOINTS["/v1/chat/completions"]}`
    });
    assert.deepEqual(body.system_prompt_features, {custom_system_prompts: true, pure_inference_engine: true, debug_endpoint: false});
    assert.deepEqual([body.chat_ready, body.active_jobs, body.model_info.model_name], [true, 3, "fake"]);
    const draining = chatHealthBody({...report, modelLoaded: true, shuttingDown: true}, []);
    assert.deepEqual([draining.chat_ready, draining.endpoints, draining.system_prompt_features.custom_system_prompts], [false, {}, false]);
    assert.equal(chatHealthBody(report, routes).model_info.model_name, null, "no model name while none is loaded");
});

test("endpointList: every API route with its method and summary, HEAD and pages left out, two methods on one path joined", () => {
    assert.deepEqual(endpointList(routes), {
        "/chat": "POST - Chat", "/health": "GET - Health", "/v1/chat/completions": "POST", "/memory/load": "POST - Load; GET - Progress"
    });
});

test("capabilities and debugModelBody follow the routes and the served models", () => {
    const engine = new FakeEngine(streams([]));
    const models = new ModelPool([{key: null, engine, scheduler: new Scheduler(engine.sequences, 1),
        lifecycle: new ModelLifecycle(engine, {idleUnloadSeconds: 0}, {info: () => undefined, warn: () => undefined})}]);
    const caps = capabilities({routes, models, sfwMode: true, conversationCache: false});
    assert.deepEqual([caps.chat, caps.generate, caps.enhance, caps.openai_compatible], [true, false, false, true]);
    assert.deepEqual([caps.models, caps.model_selection, caps.sfw_mode, caps.conversation_cache], [["fake"], false, true, false]);
    assert.deepEqual(debugModelBody(models), {
        active_model: "fake", loaded: {fake: false}, instruct_loaded: false, base_loaded: false,
        models: [{name: "fake", state: "unloaded", model_type: null, reason: null}]
    });
});
