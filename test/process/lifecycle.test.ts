import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {startTestWorker, parseSse, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {metricValue, openStream, ONE_THREAD} from "../helpers/opsHelpers.js";
import {getJson} from "../helpers/http.js";
import {renderProgressBar, showLoadProgress} from "../../src/terminal/loadProgressBar.js";

let server: TestWorker;

before(async () => {
    server = await startTestWorker({...ONE_THREAD, PARALLEL: "2", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800"});
    assert.equal(server.worker.engine.status().state, "ready", server.worker.engine.status().reason ?? "");
});
after(() => server.close());

const post = (path: string, body?: unknown) => postJson(`${server.url}${path}`, body);
const health = async () => (await getJson(`${server.url}/health`)).json;
const finalEvent = (body: string) => JSON.parse(parseSse(body).at(-1)!.data);

test("unload flips model_loaded everywhere; the next /chat loads the model again", async () => {
    const unloaded = await post("/memory/unload");
    assert.equal(unloaded.status, 200, JSON.stringify(unloaded.json));
    const {models, ...summary} = unloaded.json;
    assert.deepEqual({...summary, waited_seconds: 0}, {
        success: true, message: "Model unloaded", model_loaded: false, was_loaded: true, aborted_requests: 0, waited_seconds: 0
    });
    assert.deepEqual(models, [{name: server.worker.engine.info().modelName, was_loaded: true, model_loaded: false, aborted_requests: 0}]);
    assert.equal(server.worker.engine.status().state, "unloaded");
    const h = await health();
    assert.equal(h.model_loaded, false);
    assert.equal(h.model_state, "unloaded");
    assert.equal(h.memory_usage, 0, "nothing occupies memory");
    assert.equal(h.status, "healthy", "an unloaded model reloads on demand");
    assert.equal(h.reason_code, "model_unloaded");
    assert.equal((await getJson(`${server.url}/memory/status`)).json.model_loaded, false);
    assert.equal((await getJson(`${server.url}/model/info`)).json.model_loaded, false);
    assert.equal((await getJson(`${server.url}/model/info`)).json.parameter_count > 0, true, "file facts survive the unload");
    const ready = await getJson(`${server.url}/ready`);
    assert.equal(ready.status, 200, "still ready: a request would be served");

    const again = await post("/memory/unload", {});
    assert.equal(again.json.was_loaded, false);

    const answer = await postJson(`${server.url}/chat`, {message: "wake up", max_tokens: 4});
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json.model_info.model_loaded, true);
    assert.equal(answer.json.usage.completion_tokens, 4);
    assert.equal((await health()).model_loaded, true);
});

test("/ready is 503 and /health says loading while the model loads; a /chat meanwhile waits and is served", async () => {
    await post("/memory/unload", {});
    const loading = server.worker.lifecycle.load();
    const probe = await getJson(`${server.url}/ready`);
    const h = await health();
    const chat = postJson(`${server.url}/chat`, {message: "during load", max_tokens: 3});
    assert.equal(probe.status, 503, JSON.stringify(probe.json));
    assert.equal(probe.json.ready, false);
    assert.equal(probe.json.code, "loading");
    assert.match(probe.headers.get("retry-after") ?? "", /^\d+$/);
    assert.equal(h.status, "loading");
    assert.equal(h.model_loaded, false);
    assert.ok(h.load_progress >= 0 && h.load_progress <= 100, `load_progress ${h.load_progress}`);
    assert.equal((await loading).state, "ready");
    assert.equal((await chat).status, 200);
    assert.equal((await getJson(`${server.url}/ready`)).status, 200);
});

test("a load draws a progress bar up to 100% on a terminal stream", async () => {
    assert.equal(renderProgressBar(0.3, "x"), `[${"#".repeat(9)}${".".repeat(21)}]  30% x`);
    await post("/memory/unload", {});
    let drawn = "";
    // Stands in for a TTY's stderr: it only needs write().
    const terminal = {write: (text: string) => (drawn += text, true)} as unknown as NodeJS.WriteStream;
    server.worker.lifecycle.onLoadStart(() => showLoadProgress(() => server.worker.engine.status(), terminal, "tiny", 5));
    await post("/memory/load", {});
    await until(() => drawn.endsWith("\n"), 5000, "the final progress line");
    assert.match(drawn, /\[#{30}\] 100% loading tiny: ready\x1b\[K\n$/);
});

test("POST /memory/load loads an unloaded model and reports the load time", async () => {
    await post("/memory/unload", {});
    const loaded = await post("/memory/load");
    assert.equal(loaded.status, 200, JSON.stringify(loaded.json));
    assert.equal(loaded.json.model_loaded, true);
    assert.equal(loaded.json.model_state, "ready");
    assert.ok(loaded.json.load_time_seconds > 0);
    assert.equal((await post("/memory/load", {})).status, 200, "loading a loaded model is a no-op");
});

test("unload with a generation running: 409 without force, abort with force", async () => {
    const stream = await openStream(server.url, {message: "long", max_tokens: 1800, ignore_eos: true});
    const refused = await post("/memory/unload", {timeout_seconds: 0});
    assert.equal(refused.status, 409);
    assert.equal(refused.json.success, false);
    assert.equal(refused.json.code, "generations_running");
    assert.equal(refused.json.param, "force");
    assert.equal(server.worker.engine.status().state, "ready", "the model stays loaded");
    assert.equal(server.worker.scheduler.running, 1, "the generation goes on");

    const forced = await post("/memory/unload", {force: true});
    assert.equal(forced.status, 200, JSON.stringify(forced.json));
    assert.equal(forced.json.aborted_requests, 1);
    assert.equal(forced.json.model_loaded, false);
    const final = finalEvent(await stream.done);
    assert.equal(final.finish_reason, "abort");
    assert.ok(final.usage.completion_tokens < 1800);

    assert.equal((await postJson(`${server.url}/chat`, {message: "after", max_tokens: 2})).status, 200, "lazy reload");
});

test("unload without force waits for a running generation, which completes; requests meanwhile wait and reload", async () => {
    const stream = await openStream(server.url, {message: "medium", max_tokens: 600, ignore_eos: true});
    const unloading = post("/memory/unload", {timeout_seconds: 60});
    await until(() => server.worker.lifecycle.isUnloading, 2000, "the unload to start waiting");
    // Arrives while the unload waits: it must not start on a model about to go away.
    const late = postJson(`${server.url}/chat`, {message: "late", max_tokens: 2});
    await until(() => server.worker.lifecycle.waiting === 1, 2000, "the late request to wait");
    assert.ok(!stream.text().includes("event: done"), "the late request waits while the generation still runs");
    assert.equal(server.worker.engine.status().state, "ready");
    const final = finalEvent(await stream.done);
    assert.equal(final.finish_reason, "length");
    assert.equal(final.usage.completion_tokens, 600);
    const result = await unloading;
    assert.equal(result.status, 200);
    assert.equal(result.json.aborted_requests, 0);
    assert.equal(result.json.was_loaded, true);
    const lateAnswer = await late;
    assert.equal(lateAnswer.status, 200, JSON.stringify(lateAnswer.json));
    assert.equal(lateAnswer.json.model_info.model_loaded, true, "it loaded the model again");
});

test("bad unload bodies are 400s that name the field", async () => {
    const cases: Array<[unknown, RegExp]> = [
        [{force: "yes"}, /force/],
        [{timeout_seconds: -1}, /timeout_seconds/],
        [{timeout_seconds: 99999}, /timeout_seconds/],
        [{forse: true}, /^forse: is not a known field/]
    ];
    for (const [body, field] of cases) {
        const {status, json} = await post("/memory/unload", body);
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(json.success, false);
        assert.match(json.error, field);
    }
    assert.equal(server.worker.engine.status().state, "ready", "nothing was unloaded");
});

test("IDLE_UNLOAD_SECONDS unloads an idle model, never a busy one, and the next request reloads it", async () => {
    const idleSeconds = 0.2;
    const idle = await startTestWorker({
        ...ONE_THREAD, IDLE_UNLOAD_SECONDS: String(idleSeconds), PARALLEL: "1", CONTEXT_SIZE: "4096", MAX_TOKENS_LIMIT: "4000"
    });
    try {
        // Busy for five idle periods: the model must stay loaded all along. (The wait is the duration under
        // test, an idle period, not a stand-in for an event.)
        const stream = await openStream(idle.url, {message: "busy", max_tokens: 4000, ignore_eos: true});
        const started = performance.now();
        await until(() => performance.now() - started > idleSeconds * 5 * 1000, 10_000, "five idle periods");
        assert.ok(!stream.text().includes("event: done"), "the generation still runs (else this proves nothing)");
        assert.equal(idle.worker.engine.status().state, "ready", "not unloaded while busy");
        stream.request.destroy();

        await until(() => idle.worker.engine.status().state === "unloaded", 10_000, "the idle unload");
        const h = (await getJson(`${idle.url}/health`)).json;
        assert.equal(h.model_loaded, false);
        const metrics = await (await fetch(`${idle.url}/metrics`)).text();
        // At least this one (a slow machine may also have unloaded before the first request arrived).
        assert.ok(metricValue(metrics, "chat_worker_model_unloads_total", {cause: "idle"}) >= 1);

        const again = await postJson(`${idle.url}/chat`, {message: "back", max_tokens: 2});
        assert.equal(again.status, 200);
        assert.equal(again.json.model_info.model_loaded, true);
        await until(() => idle.worker.engine.status().state === "unloaded", 10_000, "the second idle unload");
    } finally {
        await idle.close();
    }
});
