import {test, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {startTestWorker, testModelPath, parseSse, until, type TestWorker} from "../helpers/testWorker.js";
import {getJson, postJson} from "../helpers/http.js";
import {openStream, metricValue} from "../helpers/opsHelpers.js";
import {spawnWorker} from "../helpers/workerProcess.js";

/**
 * The model runner: llama.cpp lives in a child process, so a corrupt model that aborts or spins,
 * or a runner that dies mid-answer, never takes the HTTP process with it (issue 17, defects 6 and 7),
 * and the conversation cache refuses states whose bytes or model changed (defects 4 and 5).
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-runner-"));
const workers: TestWorker[] = [];
after(async () => {
    for (const worker of workers) await worker.close();
});

async function start(env: Record<string, string>): Promise<TestWorker> {
    const worker = await startTestWorker(env);
    workers.push(worker);
    return worker;
}

/** The tiny model with one byte changed, as the outside probe found them. */
async function corruptModel(offset: number, value: number): Promise<string> {
    const bytes = fs.readFileSync(await testModelPath());
    bytes[offset] = value;
    const file = path.join(dir, `corrupt-${offset}-${value}.gguf`);
    fs.writeFileSync(file, bytes);
    return file;
}

function runnerPid(worker: TestWorker): number {
    const pid = worker.worker.engine.runnerPid;
    assert.ok(pid != null, "a model runner process runs");
    assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"), /runnerMain/);
    return pid;
}

test("a corrupt GGUF that makes llama.cpp abort (byte 399 -> 0x80): the worker stays up and says why, /memory/load answers 503", async () => {
    const worker = await start({MODEL_PATH: await corruptModel(399, 0x80)});
    const health = await getJson(`${worker.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.json.status, "unhealthy");
    assert.equal(health.json.reason_code, "model_invalid");
    assert.match(health.json.reason, /crashed while loading the model \(SIGABRT\)/);
    // A crash is weaker evidence than a parse error: the load is tried again, later each time.
    assert.match(health.json.reason, /; trying again in [12] s$/);
    const load = await postJson(`${worker.url}/memory/load`, {});
    assert.equal(load.status, 503);
    assert.match(load.json.error, /corrupt/);
    assert.equal((await getJson(`${worker.url}/ready`)).status, 503);
});

test("a corrupt GGUF that makes the load spin and grow (byte 9999 0x00 -> 0x01): killed at LOAD_TIMEOUT_SECONDS, reported", async () => {
    const started = performance.now();
    const worker = await start({MODEL_PATH: await corruptModel(9999, 0x01), LOAD_TIMEOUT_SECONDS: "3"});
    assert.ok(performance.now() - started < 30_000);
    const health = await getJson(`${worker.url}/health`);
    assert.equal(health.json.status, "unhealthy");
    assert.equal(health.json.reason_code, "load_failed");
    assert.match(health.json.reason, /LOAD_TIMEOUT_SECONDS \(3 s\)|memory grew/);
    assert.equal(worker.worker.engine.runnerPid, null, "the spinning runner was killed");
});

test("SIGTERM while a corrupt model spins in its runner: the process still exits promptly", async () => {
    const worker = await spawnWorker({MODEL_PATH: await corruptModel(9999, 0x01), SHUTDOWN_GRACE_SECONDS: "1"}, {waitForModel: false});
    try {
        await worker.waitForLog((record) => record.msg === "listening", 30_000, "listening");
        const sent = performance.now();
        worker.child.kill("SIGTERM");
        const exit = await worker.exited;
        assert.ok(performance.now() - sent < 10_000, `exited ${Math.round(performance.now() - sent)} ms after SIGTERM`);
        assert.equal(exit.signal, null);
    } finally {
        worker.child.kill("SIGKILL");
    }
});

test("a runner killed mid-answer: the stream ends with a 503 error event, /health says so, and the next request is served by a new runner", async () => {
    const worker = await start({PARALLEL: "1", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800"});
    const stream = await openStream(worker.url, {message: "a long answer", max_tokens: 1500, ignore_eos: true});
    process.kill(runnerPid(worker), "SIGKILL");
    const events = parseSse(await stream.done);
    const last = events.at(-1)!;
    assert.equal(last.event, "error");
    assert.equal(JSON.parse(last.data).code, "runner_crashed");
    await until(() => worker.worker.lifecycle.status().code === "runner_restarting" || worker.worker.lifecycle.status().state === "ready",
        5000, "the restart to be planned");
    // Arrives while the new runner starts: it waits for it, then is served.
    const next = await postJson(`${worker.url}/chat`, {message: "after the crash", max_tokens: 4});
    assert.equal(next.status, 200, JSON.stringify(next.json));
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "chat_worker_runner_crashes_total", {cause: "SIGKILL"}), 1);
});

test("/memory/unload ends the runner process; the next request starts a new one", async () => {
    const worker = await start({});
    const before = runnerPid(worker);
    assert.equal((await postJson(`${worker.url}/memory/unload`, {})).status, 200);
    await until(() => !fs.existsSync(`/proc/${before}`) || fs.readFileSync(`/proc/${before}/stat`, "utf8").includes(" Z "), 10_000,
        "the runner to exit");
    assert.equal((await postJson(`${worker.url}/chat`, {message: "reload", max_tokens: 2})).status, 200);
    assert.notEqual(runnerPid(worker), before);
});

/** XORs a few 64-byte runs in the middle of a file, keeping its size. */
function damage(file: string): void {
    const bytes = fs.readFileSync(file);
    for (const at of [0.4, 0.5, 0.6])
        for (let i = 0; i < 64; i++) bytes[Math.floor(bytes.length * at) + i] ^= 0x5a;
    fs.writeFileSync(file, bytes);
}

const turn = (message: string, history: Array<{sender: "user" | "assistant"; content: string}> = [], id = "state") => ({
    message, system_prompt: "A state integrity test with a system prompt long enough to be worth keeping.", conversation_id: id,
    conversation_history: history, max_tokens: 16, temperature: 0
});

test("a state file damaged in place is discarded (checksum), counted, and the answer is the cold one", async () => {
    const stateDir = fs.mkdtempSync(path.join(dir, "state-"));
    const worker = await start({PARALLEL: "1", CONTEXT_SIZE: "2048", CONVERSATION_CACHE_DIR: stateDir});
    const cold = await start({PARALLEL: "1", CONTEXT_SIZE: "2048", CONVERSATION_CACHE: "false"});
    const first = await postJson(`${worker.url}/chat`, turn("the first turn of a conversation"));
    await postJson(`${worker.url}/chat`, {...turn("another conversation takes the sequence", [], "other"), system_prompt: "Another one."});
    const states = fs.readdirSync(stateDir, {recursive: true}).map(String).filter((name) => name.endsWith(".state"));
    assert.equal(states.length, 1);
    damage(path.join(stateDir, states[0]));
    const history = [{sender: "user" as const, content: "the first turn of a conversation"}, {sender: "assistant" as const, content: first.json.response}];
    const second = await postJson(`${worker.url}/chat`, turn("second turn", history));
    const reference = await postJson(`${cold.url}/chat`, turn("second turn", history));
    assert.equal(second.status, 200);
    assert.equal(second.json.response, reference.json.response);
    assert.ok(!second.json.response.includes("\u0000"));
    assert.equal(second.json.usage.cached_tokens < first.json.usage.prompt_tokens, true, JSON.stringify(second.json.usage));
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    assert.equal(metricValue(metrics, "chat_worker_conversation_cache_discards_total", {reason: "checksum"}), 1);
});

test("a same-size model that differs only in the middle never restores the other model's states", async () => {
    const original = await testModelPath("bench");
    const copy = path.join(dir, "bench-finetune.gguf");
    fs.copyFileSync(original, copy);
    // Past the first and last 4 MiB (what the identity used to sample): a fine-tune of the same shape looks like this.
    const handle = fs.openSync(copy, "r+");
    const middle = Math.floor(fs.statSync(copy).size / 2);
    const block = Buffer.alloc(4096);
    fs.readSync(handle, block, 0, block.length, middle);
    for (let i = 0; i < block.length; i++) block[i] ^= 0x01;
    fs.writeSync(handle, block, 0, block.length, middle);
    fs.closeSync(handle);
    const stateDir = fs.mkdtempSync(path.join(dir, "state-"));
    const first = await start({MODEL_PATH: original, PARALLEL: "1", CONTEXT_SIZE: "2048", CONVERSATION_CACHE_DIR: stateDir});
    const spoken = await postJson(`${first.url}/chat`, turn("a turn on the original model"));
    await postJson(`${first.url}/chat`, {...turn("a second conversation spills the first", [], "other"), system_prompt: "Another one."});
    await first.close();
    const second = await start({MODEL_PATH: copy, PARALLEL: "1", CONTEXT_SIZE: "2048", CONVERSATION_CACHE_DIR: stateDir});
    const history = [{sender: "user" as const, content: "a turn on the original model"}, {sender: "assistant" as const, content: spoken.json.response}];
    const answer = await postJson(`${second.url}/chat`, turn("continued on the other model", history));
    assert.equal(answer.status, 200);
    assert.ok(answer.json.usage.cached_tokens < 32, `nothing was restored from the other model's states: ${JSON.stringify(answer.json.usage)}`);
    assert.equal(fs.readdirSync(stateDir).filter((name) => fs.statSync(path.join(stateDir, name)).isDirectory()).length, 2,
        "each model keeps its states in its own folder");
});
