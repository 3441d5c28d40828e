import {test, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {startTestWorker, testModelPath} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {captureLogs} from "../helpers/logs.js";
import {getJson} from "../helpers/http.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-bad-models-"));
after(() => fs.rmSync(dir, {recursive: true, force: true}));

/** Starts a worker on a broken model and checks it keeps answering and says why everywhere. */
async function expectFailedWorker(env: Record<string, string>, expected: {status: string; code: string; reason: RegExp}) {
    const logs = captureLogs();
    const server = await startTestWorker(env, logs.logger);
    try {
        const h = await getJson(`${server.url}/health`);
        assert.equal(h.status, 200, "the process keeps answering");
        assert.equal(h.json.status, expected.status);
        assert.equal(h.json.reason_code, expected.code);
        assert.match(h.json.reason, expected.reason);
        assert.equal(h.json.model_loaded, false);
        assert.equal(h.json.ready, false);

        const ready = await getJson(`${server.url}/ready`);
        assert.equal(ready.status, 503);
        assert.equal(ready.json.code, expected.code);
        assert.match(ready.json.reason, expected.reason);

        const chat = await postJson(`${server.url}/chat`, {message: "hello", max_tokens: 2});
        assert.equal(chat.status, 503);
        assert.equal(chat.json.success, false);
        assert.equal(chat.json.code, "model_not_ready");
        assert.match(chat.json.error, expected.reason);
        assert.match(chat.headers.get("retry-after") ?? "", /^\d+$/);

        for (const route of ["/model/info", "/memory/status", "/chat/health", "/metrics", "/docs/json", "/"])
            assert.equal((await fetch(`${server.url}${route}`)).status, 200, route);

        // The message is in the boot log too, for whoever reads the logs rather than /health.
        const failure = logs.records().find((record) => record.msg === "model failed to load");
        assert.ok(failure != null, "a boot log line says the load failed");
        assert.equal(failure.code, expected.code);
        assert.match(failure.reason, expected.reason);
        return server;
    } catch (err) {
        await server.close();
        throw err;
    }
}

test("a missing model file: unhealthy, the reason names MODEL_PATH but not the path; /memory/load recovers once the file is there", async () => {
    const modelPath = path.join(dir, "later.gguf");
    const server = await expectFailedWorker({MODEL_PATH: modelPath}, {
        status: "unhealthy", code: "model_file_not_found", reason: /model file \(MODEL_PATH\) does not exist/
    });
    try {
        // /health needs no key: a path there would tell anyone how the host is laid out.
        const health = await getJson(`${server.url}/health`);
        assert.doesNotMatch(JSON.stringify(health.json), /later\.gguf|\/tmp\//);
        const refused = await postJson(`${server.url}/chat`, {message: "hi", max_tokens: 2});
        assert.equal(refused.status, 503);
        assert.doesNotMatch(JSON.stringify(refused.json), /later\.gguf|\/tmp\//);
        fs.copyFileSync(await testModelPath(), modelPath);
        const loaded = await postJson(`${server.url}/memory/load`, {});
        assert.equal(loaded.status, 200, JSON.stringify(loaded.json));
        assert.equal((await getJson(`${server.url}/health`)).json.status, "healthy");
        assert.equal((await postJson(`${server.url}/chat`, {message: "hi", max_tokens: 2})).status, 200);
    } finally {
        await server.close();
    }
});

test("a file that is not GGUF: unhealthy, 'not a valid GGUF model'; /memory/load answers 503 with the reason", async () => {
    const modelPath = path.join(dir, "garbage.gguf");
    fs.writeFileSync(modelPath, "this is not a model, just text\n");
    const server = await expectFailedWorker({MODEL_PATH: modelPath}, {
        status: "unhealthy", code: "model_invalid", reason: /not a valid GGUF model/
    });
    try {
        const load = await postJson(`${server.url}/memory/load`, {});
        assert.equal(load.status, 503);
        assert.equal(load.json.code, "model_invalid");
        assert.match(load.json.error, /not a valid GGUF model/);
    } finally {
        await server.close();
    }
});

test("a truncated download: unhealthy, 'truncated' with the byte counts", async () => {
    const modelPath = path.join(dir, "truncated.gguf");
    const full = fs.readFileSync(await testModelPath());
    fs.writeFileSync(modelPath, full.subarray(0, Math.floor(full.length * 0.6)));
    const server = await expectFailedWorker({MODEL_PATH: modelPath}, {
        status: "unhealthy", code: "model_invalid", reason: new RegExp(`truncated or corrupt: .* has ${Math.floor(full.length * 0.6)} bytes`)
    });
    await server.close();
});

test("a context that does not fit the free memory: degraded with the estimate, instead of crashing", async (t) => {
    // The bench preset's KV cache for 8 sequences x 1M tokens is about 65 GiB; only a huge machine fits it.
    if (os.freemem() > 70 * 1024 ** 3) {
        t.skip("this machine has enough free memory to fit the oversized context");
        return;
    }
    const server = await expectFailedWorker({
        MODEL_PATH: await testModelPath("bench"), CONTEXT_SIZE: "1048576", PARALLEL: "8", MAX_TOKENS_LIMIT: "1024"
    }, {
        status: "degraded", code: "insufficient_memory",
        reason: /not enough free RAM to load the model: it needs about [\d.]+ GiB .* 8 sequences x 1048576 tokens.*is free.*CONTEXT_SIZE/
    });
    const memory = await getJson(`${server.url}/memory/status`);
    assert.equal(memory.json.model_loaded, false);
    assert.equal(memory.json.allocated_ram, 0);
    assert.equal((await getJson(`${server.url}/model/info`)).json.architecture, "qwen2", "the header was read");
    await server.close();
});

test("an empty and a zero-filled model file (issue 24): model_invalid, and no control characters in /health or the 503 body", async () => {
    for (const [name, bytes, reason] of [["empty.gguf", 0, /is empty \(0 bytes\)/], ["zeros.gguf", 4096, /not a valid GGUF model: .*\\x00\\x00\\x00\\x00/]] as const) {
        const modelPath = path.join(dir, name);
        fs.writeFileSync(modelPath, Buffer.alloc(bytes));
        const server = await expectFailedWorker({MODEL_PATH: modelPath}, {status: "unhealthy", code: "model_invalid", reason});
        try {
            const health = await getJson(`${server.url}/health`);
            const load = await postJson(`${server.url}/memory/load`, {});
            assert.equal(load.status, 503);
            for (const text of [health.json.reason, load.json.error])
                assert.doesNotMatch(String(text), /[\u0000-\u001f\u007f-\u009f]/, `${name}: ${JSON.stringify(text)}`);
        } finally {
            await server.close();
        }
    }
});
