import {test, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {startTestWorker, testRunnerEntry, until, type StartOptions, type TestWorker} from "../helpers/testWorker.js";
import {getJson, postJson} from "../helpers/http.js";
import {metricValue} from "../helpers/opsHelpers.js";

/**
 * Runner exits the lifecycle must survive and recover from (issue 24): a runner that dies before
 * its ready handshake (defect 1: it took the HTTP process down), and one killed from outside
 * while the model reloads (defect 7: the model was failed for good, the file blamed).
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-runner-exits-"));
const workers: TestWorker[] = [];
after(async () => {
    for (const worker of workers) await worker.close();
});

async function start(env: Record<string, string>, options: StartOptions = {}): Promise<TestWorker> {
    const worker = await startTestWorker(env, undefined, options);
    workers.push(worker);
    return worker;
}

test("a runner that dies before its ready handshake: the HTTP process stays up, /health says why, and a new runner serves after the backoff", async () => {
    const countFile = path.join(dir, "deaths");
    fs.writeFileSync(countFile, "1");
    // The runner's environment is the worker's (RunnerEngineOptions.env).
    process.env.DYING_RUNNER_COUNT = countFile;
    process.env.DYING_RUNNER_ENTRY = testRunnerEntry() ?? fileURLToPath(new URL("../../src/engine/runner/runnerMain.ts", import.meta.url));
    let worker: TestWorker;
    try {
        worker = await start({}, {runnerEntry: fileURLToPath(new URL("../helpers/dyingRunner.ts", import.meta.url))});
    } finally {
        delete process.env.DYING_RUNNER_COUNT;
        delete process.env.DYING_RUNNER_ENTRY;
    }
    assert.equal(fs.readFileSync(countFile, "utf8"), "0", "the first runner died");
    const health = await getJson(`${worker.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.json.reason_code, "backend_unavailable");
    assert.match(health.json.reason, /could not start: the model runner exited before it was ready \(SIGKILL\); trying again in \d+ s/);
    await until(() => worker.worker.lifecycle.status().state === "ready", 60_000, "the next runner to load the model");
    const chat = await postJson(`${worker.url}/chat`, {message: "after a runner that never started", max_tokens: 4});
    assert.equal(chat.status, 200, JSON.stringify(chat.json));
});

test("a runner killed from outside while the model reloads: the file is not blamed, a new runner loads it, requests are served", async () => {
    const worker = await start({PARALLEL: "1"});
    const first = worker.worker.engine.runnerPid;
    assert.equal((await postJson(`${worker.url}/memory/unload`, {})).status, 200);
    const load = postJson(`${worker.url}/memory/load`, {});
    await until(() => worker.worker.engine.runnerPid != null && worker.worker.engine.runnerPid !== first, 30_000, "the new runner");
    assert.equal(worker.worker.engine.status().state, "loading", "the runner is killed during the load");
    process.kill(worker.worker.engine.runnerPid!, "SIGKILL");
    const loaded = await load;
    assert.notEqual(loaded.json.code, "model_invalid", JSON.stringify(loaded.json));
    const health = await getJson(`${worker.url}/health`);
    assert.notEqual(health.json.reason_code, "model_invalid", JSON.stringify(health.json));
    assert.doesNotMatch(String(health.json.reason), /corrupt/);
    // Arrives while the new runner starts (or after): it waits for it, then is served.
    const chat = await postJson(`${worker.url}/chat`, {message: "after the kill", max_tokens: 4});
    assert.equal(chat.status, 200, JSON.stringify(chat.json));
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "chat_worker_runner_crashes_total", {cause: "SIGKILL"}), 1);
});
