import {test} from "node:test";
import assert from "node:assert/strict";
import {parseSse} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {openStream} from "../helpers/opsHelpers.js";
import {getJson} from "../helpers/http.js";
import fs from "node:fs";
import {spawnWorker} from "../helpers/workerProcess.js";

/** The model runner among a process's descendants (found by its entry point). */
function runnerOf(pid: number): number {
    const descendants = (id: number): number[] => {
        const children = fs.readFileSync(`/proc/${id}/task/${id}/children`, "utf8").trim();
        return children === "" ? [] : children.split(/\s+/).map(Number).flatMap((child) => [child, ...descendants(child)]);
    };
    const runner = descendants(pid).find((id) => fs.readFileSync(`/proc/${id}/cmdline`, "utf8").includes("runnerMain"));
    if (runner == null) throw new Error(`no model runner under pid ${pid}`);
    return runner;
}

test("SIGTERM during a streaming generation: it completes, new requests get 503 meanwhile, the process exits 0", async () => {
    const worker = await spawnWorker({PARALLEL: "2", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800", SHUTDOWN_GRACE_SECONDS: "120"});
    try {
        const stream = await openStream(worker.url, {message: "finish me", max_tokens: 1500, ignore_eos: true});
        worker.child.kill("SIGTERM");
        const shutting = await worker.waitForLog((record) => record.msg === "shutting down", 10_000, "the shutdown log line");
        assert.equal(shutting.signal, "SIGTERM");
        assert.equal(shutting.running, 1);

        const rejected = await postJson(`${worker.url}/chat`, {message: "too late", max_tokens: 2});
        const health = await getJson(`${worker.url}/health`);
        const ready = await getJson(`${worker.url}/ready`);
        const stillStreaming = !stream.text().includes("event: done");
        assert.equal(rejected.status, 503);
        assert.equal(rejected.json.success, false);
        assert.equal(rejected.json.code, "shutting_down");
        assert.match(rejected.headers.get("retry-after") ?? "", /^\d+$/);
        assert.equal(health.status, 200, "/health answers 200 in every state it can answer in; status says which");
        assert.equal(health.json.status, "unhealthy");
        assert.equal(health.json.reason_code, "shutting_down");
        assert.equal(health.json.running_jobs, 1);
        assert.equal(ready.status, 503);
        assert.ok(stillStreaming, "the 503s were answered while the generation was still running");

        const events = parseSse(await stream.done);
        const final = JSON.parse(events.at(-1)!.data);
        assert.equal(events.at(-1)!.event, "done");
        assert.equal(final.finish_reason, "length");
        assert.equal(final.usage.completion_tokens, 1500);
        assert.equal(final.response, events.filter((e) => e.event === "token").map((e) => JSON.parse(e.data).text).join(""));

        assert.deepEqual(await worker.exited, {code: 0, signal: null});
        const complete = worker.logs.find((record) => record.msg === "shutdown complete");
        assert.equal(complete?.aborted, 0);
    } finally {
        worker.child.kill("SIGKILL");
    }
});

test("SIGINT with a generation that outlasts SHUTDOWN_GRACE_SECONDS: it is aborted, then the process exits 0", async () => {
    const worker = await spawnWorker({PARALLEL: "1", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800", SHUTDOWN_GRACE_SECONDS: "0.5"});
    try {
        const stream = await openStream(worker.url, {message: "too long", max_tokens: 1800, ignore_eos: true});
        const sent = performance.now();
        worker.child.kill("SIGINT");
        const final = JSON.parse(parseSse(await stream.done).at(-1)!.data);
        assert.equal(final.finish_reason, "abort");
        assert.ok(final.usage.completion_tokens < 1800);
        assert.deepEqual(await worker.exited, {code: 0, signal: null});
        const seconds = (performance.now() - sent) / 1000;
        assert.ok(seconds < 30, `exited ${seconds} s after the signal`);
        assert.equal(worker.logs.find((record) => record.msg === "shutdown complete")?.aborted, 1);
    } finally {
        worker.child.kill("SIGKILL");
    }
});

test("SIGTERM with a stopped runner (issue 24): the open stream ends with an error event and the process exits within the grace plus 10 s", async () => {
    const worker = await spawnWorker({PARALLEL: "1", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800", SHUTDOWN_GRACE_SECONDS: "1"});
    const runner = runnerOf(worker.child.pid!);
    try {
        const stream = await openStream(worker.url, {message: "stopped", max_tokens: 1800, ignore_eos: true});
        process.kill(runner, "SIGSTOP");
        const sent = performance.now();
        worker.child.kill("SIGTERM");
        const last = parseSse(await stream.done).at(-1)!;
        assert.equal(last.event, "error", last.data);
        await worker.exited;
        const seconds = (performance.now() - sent) / 1000;
        assert.ok(seconds < 1 + 10, `exited ${seconds} s after the signal`);
    } finally {
        worker.child.kill("SIGKILL");
        try {
            process.kill(runner, "SIGKILL");
        } catch {
            // gone with the worker
        }
    }
});
