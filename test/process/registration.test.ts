import {test} from "node:test";
import assert from "node:assert/strict";
import type http from "node:http";
import {startTestWorker, until} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {stubServer, ONE_THREAD} from "../helpers/opsHelpers.js";
import {captureLogs} from "../helpers/logs.js";
import {getJson} from "../helpers/http.js";

const KEY = "service-key-do-not-log-42";

interface Received {
    method: string;
    url: string;
    authorization: string | undefined;
    body: any;
}

test("registers after the model is ready, retries a failure with backoff, never blocks serving, never logs the key", async () => {
    const received: Received[] = [];
    let releaseSecond: () => void = () => undefined;
    const secondHeld = new Promise<void>((resolve) => releaseSecond = resolve);
    // Plays the register-chat-worker edge function: the first attempt fails with 503, the second is held open.
    const edge = await stubServer((request, body, response) => {
        received.push({method: request.method!, url: request.url!, authorization: request.headers.authorization, body: JSON.parse(body)});
        if (received.length === 1) {
            response.writeHead(503, {"content-type": "application/json"}).end('{"error":"cold start"}');
            return;
        }
        void secondHeld.then(() => response.writeHead(200, {"content-type": "application/json"}).end('{"success":true}'));
    });
    const logs = captureLogs();
    const server = await startTestWorker({
        SUPABASE_URL: `${edge.url}/`, SUPABASE_SERVICE_KEY: KEY, WORKER_PUBLIC_URL: "https://worker.example.test/",
        REGISTRATION_BACKOFF_SECONDS: "0.05", REGISTRATION_MAX_ATTEMPTS: "5", PARALLEL: "1", ...ONE_THREAD
    }, logs.logger);
    try {
        await until(() => received.length === 2, 10_000, "the retry");
        // The second attempt is still unanswered: the worker serves regardless.
        assert.equal((await getJson(`${server.url}/ready`)).status, 200);
        const chat = await postJson(`${server.url}/chat`, {message: "serving while registering", max_tokens: 2});
        assert.equal(chat.status, 200);
        releaseSecond();
        const outcome = await server.worker.registration();
        assert.deepEqual(outcome, {registered: true, attempts: 2, status: 200});

        for (const request of received) {
            assert.equal(request.method, "POST");
            assert.equal(request.url, "/functions/v1/register-chat-worker");
            assert.equal(request.authorization, `Bearer ${KEY}`);
            assert.deepEqual(Object.keys(request.body).sort(),
                ["auto_registered", "detection_method", "registration_method", "timestamp", "worker_url"]);
            assert.equal(request.body.worker_url, "https://worker.example.test");
            assert.equal(request.body.auto_registered, true);
            assert.equal(request.body.registration_method, "pure_inference_chat_worker");
            assert.equal(request.body.detection_method, "worker_public_url");
            assert.ok(Math.abs(Date.parse(request.body.timestamp) - Date.now()) < 60_000, request.body.timestamp);
        }
        const records = logs.records();
        const retry = records.find((record) => record.msg === "worker registration failed; retrying");
        assert.equal(retry?.status, 503);
        assert.equal(retry?.retryInSeconds, 0.05);
        const done = records.find((record) => record.msg === "worker registered");
        assert.equal(done?.attempt, 2);
        assert.equal(done?.workerUrl, "https://worker.example.test");
        assert.ok(!logs.lines.join("\n").includes(KEY), "the key never appears in the logs");
    } finally {
        releaseSecond();
        await server.close();
        await edge.close();
    }
});

test("a refusing edge function (401) is not retried; the worker_url comes from RUNPOD_POD_ID and PORT", async () => {
    const received: Received[] = [];
    const edge = await stubServer((request: http.IncomingMessage, body, response) => {
        received.push({method: request.method!, url: request.url!, authorization: request.headers.authorization, body: JSON.parse(body)});
        response.writeHead(401, {"content-type": "application/json"}).end('{"error":"bad key"}');
    });
    const logs = captureLogs();
    const server = await startTestWorker({
        SUPABASE_URL: edge.url, SUPABASE_SERVICE_KEY: KEY, RUNPOD_POD_ID: "abc123xyz", PORT: "7861",
        REGISTRATION_BACKOFF_SECONDS: "0.01", PARALLEL: "1"
    }, logs.logger);
    try {
        await until(() => server.worker.registration() != null, 5000, "registration to start");
        const outcome = await server.worker.registration();
        assert.deepEqual(outcome, {registered: false, attempts: 1, reason: "HTTP 401"});
        assert.equal(received.length, 1);
        assert.equal(received[0].body.worker_url, "https://abc123xyz-7861.proxy.runpod.net");
        assert.equal(received[0].body.detection_method, "runpod_pod_id");
        assert.ok(logs.records().some((record) => record.msg === "worker registration failed; giving up" && record.status === 401));
        assert.ok(!logs.lines.join("\n").includes(KEY));
    } finally {
        await server.close();
        await edge.close();
    }
});

test("an unreachable edge function is retried up to REGISTRATION_MAX_ATTEMPTS, then given up", async () => {
    const edge = await stubServer((_request, _body, response) => response.end());
    const deadUrl = edge.url;
    await edge.close(); // nothing listens there any more: connection refused
    const server = await startTestWorker({
        SUPABASE_URL: deadUrl, SUPABASE_SERVICE_KEY: KEY, WORKER_PUBLIC_URL: "https://w.example.test",
        REGISTRATION_BACKOFF_SECONDS: "0.01", REGISTRATION_MAX_ATTEMPTS: "3", PARALLEL: "1"
    });
    try {
        await until(() => server.worker.registration() != null, 5000, "registration to start");
        const outcome = await server.worker.registration();
        assert.equal(outcome?.registered, false);
        assert.equal(outcome?.attempts, 3);
    } finally {
        await server.close();
    }
});
