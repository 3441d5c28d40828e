import {test, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {execFileSync, spawn} from "node:child_process";
import {fileURLToPath} from "node:url";
import {parseSse, startTestWorker, testRunnerEntry, until, type TestWorker} from "../helpers/testWorker.js";
import {getJson, postJson} from "../helpers/http.js";
import {metricValue, openStream} from "../helpers/opsHelpers.js";

/**
 * A runner that is alive but stuck (issue 24): stopped (defect 4), wedged in a step on the libuv
 * pool (defect 3's runner side), or blocked while its parent dies (defect 5). Each is found
 * within seconds; /health never waits on it.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-liveness-"));
const blockingEntry = fileURLToPath(new URL("../helpers/blockingRunner.ts", import.meta.url));
const realEntry = testRunnerEntry() ?? fileURLToPath(new URL("../../src/engine/runner/runnerMain.ts", import.meta.url));
const workers: TestWorker[] = [];
const strays: number[] = [];
after(async () => {
    for (const worker of workers) await worker.close();
    for (const pid of strays) try {
        process.kill(pid, "SIGKILL");
    } catch {
        // already gone
    }
    fs.rmSync(dir, {recursive: true, force: true});
});

/** A FIFO that nothing writes to: opening it for reading blocks (blockingRunner.ts). */
function fifo(name: string): string {
    const file = path.join(dir, name);
    execFileSync("mkfifo", [file]);
    return file;
}

/** Resolves with `promise`, or rejects once `ms` passed: a hang fails the test instead of holding it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer!: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms));
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
    } catch {
        return false;
    }
}

test("defect 4: a stopped runner: /health and /model/info answer at once from the snapshot, the runner is killed, /ready says so, the stream gets an error, a new runner serves", async () => {
    const worker = await startTestWorker({PARALLEL: "2", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800", RUNNER_HEARTBEAT_TIMEOUT_SECONDS: "2", REQUEST_TIMEOUT_SECONDS: "5"});
    workers.push(worker);
    const pid = worker.worker.engine.runnerPid!;
    const stream = await openStream(worker.url, {message: "a long answer", max_tokens: 1800, ignore_eos: true});
    process.kill(pid, "SIGSTOP");
    try {
        const started = performance.now();
        const health = await within(getJson(`${worker.url}/health`), 1500, "/health");
        const info = await within(getJson(`${worker.url}/model/info`), 1500, "/model/info");
        assert.equal(health.status, 200);
        assert.equal(typeof health.json.snapshot_age_seconds, "number", JSON.stringify(health.json));
        assert.equal(typeof info.json.snapshot_age_seconds, "number");
        assert.ok(health.json.memory_usage > 0, "the loaded model's memory, from the last snapshot");
        const events = parseSse(await within(stream.done, 8000, "the stream's end"));
        const last = events.at(-1)!;
        assert.equal(last.event, "error", last.data);
        assert.equal(JSON.parse(last.data).code, "runner_crashed");
        assert.match(JSON.parse(last.data).error, /stopped answering/);
        const seconds = (performance.now() - started) / 1000;
        assert.ok(seconds < 6, `the stuck runner was found after ${seconds} s`);
        assert.equal(alive(pid), false, "the stopped runner is gone");
        const ready = await getJson(`${worker.url}/ready`);
        if (worker.worker.lifecycle.status().state !== "ready") assert.equal(ready.status, 503, JSON.stringify(ready.json));
    } finally {
        if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    const next = await postJson(`${worker.url}/chat`, {message: "after the stuck runner", max_tokens: 4});
    assert.equal(next.status, 200, JSON.stringify(next.json));
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "chat_worker_runner_crashes_total", {cause: "unresponsive"}), 1);
});

test("defect 3: a step wedged on the libuv pool (the main thread still answers): the step watchdog kills the runner, the stream gets an error, a new runner serves", async () => {
    process.env.BLOCKING_RUNNER_FIFO = fifo("pool");
    process.env.BLOCKING_RUNNER_MODE = "pool";
    process.env.BLOCKING_RUNNER_ENTRY = realEntry;
    let worker: TestWorker;
    try {
        worker = await startTestWorker({
            PARALLEL: "1", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800", UV_THREADPOOL_SIZE: "1",
            GENERATION_STEP_TIMEOUT_SECONDS: "1", RUNNER_HEARTBEAT_TIMEOUT_SECONDS: "60"
        }, undefined, {runnerEntry: blockingEntry});
    } finally {
        delete process.env.BLOCKING_RUNNER_FIFO;
        delete process.env.BLOCKING_RUNNER_MODE;
        delete process.env.BLOCKING_RUNNER_ENTRY;
    }
    workers.push(worker);
    const pid = worker.worker.engine.runnerPid!;
    strays.push(pid);
    const stream = await openStream(worker.url, {message: "a long answer", max_tokens: 1800, ignore_eos: true});
    process.kill(pid, "SIGUSR2");
    const events = parseSse(await within(stream.done, 10_000, "the stream's end"));
    const last = events.at(-1)!;
    assert.equal(last.event, "error", last.data);
    assert.equal(JSON.parse(last.data).code, "runner_crashed");
    assert.match(JSON.parse(last.data).error, /GENERATION_STEP_TIMEOUT_SECONDS/);
    assert.equal(alive(pid), false);
    const next = await postJson(`${worker.url}/chat`, {message: "after the wedged step", max_tokens: 4});
    assert.equal(next.status, 200, JSON.stringify(next.json));
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "chat_worker_runner_crashes_total", {cause: "step_timeout"}), 1);
});

for (const mode of ["main", "pool"] as const)
    test(`defect 5: a runner blocked on its ${mode === "main" ? "main thread" : "libuv pool"} dies with its parent (kill -9)`, async () => {
        const env = {
            ...process.env, UV_THREADPOOL_SIZE: "1", BLOCKING_RUNNER_FIFO: fifo(`orphan-${mode}`), BLOCKING_RUNNER_MODE: mode, BLOCKING_RUNNER_ENTRY: realEntry
        };
        const parent = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../helpers/runnerParent.ts", import.meta.url)), blockingEntry],
            {env, stdio: ["ignore", "pipe", "inherit"]});
        const line = await within(new Promise<string>((resolve) => parent.stdout!.setEncoding("utf8").once("data", resolve)), 30_000, "the runner's pid");
        const runner = Number(line.trim());
        strays.push(runner);
        assert.ok(alive(runner));
        parent.kill("SIGKILL");
        await until(() => !alive(runner), 10_000, `the runner (pid ${runner}) to end with its parent`);
    });
