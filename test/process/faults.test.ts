import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {spawn} from "node:child_process";
import {startTestWorker, testModelPath} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {ONE_THREAD} from "../helpers/opsHelpers.js";
import {captureLogs} from "../helpers/logs.js";
import {SETTINGS} from "../../src/config/config.js";

/**
 * Faults not covered elsewhere (missing/corrupt model: modelFailures.test.ts; unload during a
 * generation: lifecycle.test.ts; registration endpoint down: registration.test.ts).
 */

function stateFiles(dir: string): string[] {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return [];
    return fs.readdirSync(dir, {recursive: true}).map(String).filter((name) => name.endsWith(".state"));
}

/** Three conversations on one sequence: each turn evicts another conversation's state, which is then spilled. */
async function rotateConversations(url: string, rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++)
        for (const conversation of ["a", "b", "c"]) {
            const {status, json} = await postJson(`${url}/chat`, {
                message: `conversation ${conversation} round ${round} ${"words ".repeat(20)}`,
                conversation_id: `conv-${conversation}`, max_tokens: 3, temperature: 0
            });
            assert.equal(status, 200, JSON.stringify(json));
            assert.equal(json.usage.completion_tokens, 3);
        }
}

test("the conversation cache folder becoming unusable after the cache exists: serving continues without it, and it recovers when fixed", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-faults-"));
    const cacheDir = path.join(root, "cache");
    const logs = captureLogs("warn");
    const server = await startTestWorker({...ONE_THREAD, PARALLEL: "1", CONVERSATION_CACHE_DIR: cacheDir, CONVERSATION_CACHE_MAX_BYTES: "200000000"}, logs.logger);
    try {
        await rotateConversations(server.url, 1);
        assert.ok(stateFiles(cacheDir).length > 0, "the cache exists and holds spilled states");

        // Break it: the folder becomes a regular file, so every mkdir/write under it fails (ENOTDIR even for root).
        fs.rmSync(cacheDir, {recursive: true, force: true});
        fs.writeFileSync(cacheDir, "not a folder");
        await rotateConversations(server.url, 2);
        assert.ok(logs.lines.length > 0, "the failure is reported in the logs");
        assert.match(logs.lines.join(""), /state|cache/i);

        // Fix it: the next spill writes states again.
        fs.rmSync(cacheDir);
        await rotateConversations(server.url, 1);
        assert.ok(stateFiles(cacheDir).length > 0, "states are spilled again once the folder is usable");
    } finally {
        await server.close();
        fs.rmSync(root, {recursive: true, force: true});
    }
});

test("a conversation cache folder that cannot be created at boot: the worker serves without the cache", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-faults-"));
    const blocker = path.join(root, "blocker");
    fs.writeFileSync(blocker, "a file where a folder should be");
    const server = await startTestWorker({...ONE_THREAD, PARALLEL: "1", CONVERSATION_CACHE_DIR: path.join(blocker, "cache")});
    try {
        await rotateConversations(server.url, 1);
        fs.rmSync(blocker);
        await rotateConversations(server.url, 1);
        assert.ok(stateFiles(path.join(blocker, "cache")).length > 0, "the cache comes back once the path is usable");
    } finally {
        await server.close();
        fs.rmSync(root, {recursive: true, force: true});
    }
});

test("a port already in use: a clear message naming the port and a non-zero exit", async () => {
    const occupier = net.createServer();
    await new Promise<void>((resolve) => occupier.listen(0, "127.0.0.1", resolve));
    const port = (occupier.address() as net.AddressInfo).port;
    try {
        const env: NodeJS.ProcessEnv = {...process.env};
        for (const name of Object.keys(SETTINGS)) delete env[name];
        const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
            env: {...env, UV_THREADPOOL_SIZE: "1", PORT: String(port), HOST: "127.0.0.1", GPU: "false", ...ONE_THREAD,
                MODEL_PATH: await testModelPath(), LOG_LEVEL: "warn"},
            stdio: ["ignore", "pipe", "pipe"]
        });
        let stderr = "";
        child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
        child.stdout!.resume();
        const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
        assert.notEqual(code, 0);
        assert.match(stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use; set PORT to a free port`));
        assert.doesNotMatch(stderr, /\n\s+at /, "a message, not a stack trace");
    } finally {
        occupier.close();
    }
});
