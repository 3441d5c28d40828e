import {isOpenAiRoute} from "../src/http/adapters/envelopes.js";
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {execFile} from "node:child_process";
import {promisify} from "node:util";
import {startTestWorker, type TestWorker} from "./helpers/testWorker.js";
import {registeredRoutes} from "../src/http/app.js";
import {ONE_THREAD} from "./helpers/opsHelpers.js";

const KEY = "test-key-0123456789";
let server: TestWorker;

before(async () => {
    server = await startTestWorker({...ONE_THREAD, WORKER_API_KEY: KEY, PARALLEL: "1"});
});
after(() => server.close());

const OPEN = new Set(["/health", "/ready"]);

/** One request to a route; POST bodies are a JSON array, which every body schema rejects, so nothing runs. */
async function call(method: string, url: string, authorization?: string): Promise<{status: number; json: any; headers: Headers}> {
    const headers: Record<string, string> = {};
    if (authorization != null) headers.authorization = authorization;
    if (method === "POST") headers["content-type"] = "application/json";
    const response = await fetch(`${server.url}${url}`, {method, headers, body: method === "POST" ? "[]" : undefined});
    const text = await response.text();
    let json: unknown = null;
    try {
        json = JSON.parse(text);
    } catch {
        // HEAD has no body; /metrics is text
    }
    return {status: response.status, json, headers: response.headers};
}

test("every route except /health and /ready needs the key: 401 JSON without it or with a wrong one", async () => {
    const routes = registeredRoutes(server.worker.app);
    const urls = new Set(routes.map((route) => route.url));
    for (const url of ["/chat", "/chat/debug/system-prompt", "/memory/status", "/memory/load", "/memory/unload", "/model/info", "/metrics", "/docs", "/chat/health"])
        assert.ok(urls.has(url), `${url} is registered`);
    assert.ok(routes.some((route) => route.method === "HEAD"), "HEAD routes are enumerated too");

    for (const {method, url} of routes) {
        const label = `${method} ${url}`;
        if (OPEN.has(url)) {
            assert.notEqual((await call(method, url)).status, 401, `${label} is open`);
            continue;
        }
        const missing = await call(method, url);
        assert.equal(missing.status, 401, `${label} without a key`);
        assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="chat-worker"', label);
        const wrong = await call(method, url, `Bearer ${KEY}x`);
        assert.equal(wrong.status, 401, `${label} with a wrong key`);
        const shorter = await call(method, url, `Bearer ${KEY.slice(0, -1)}`);
        assert.equal(shorter.status, 401, `${label} with a prefix of the key`);
        const wrongScheme = await call(method, url, `Basic ${KEY}`);
        assert.equal(wrongScheme.status, 401, `${label} with another scheme`);
        if (method !== "HEAD" && isOpenAiRoute(url)) {
            assert.equal(missing.json.error.code, "unauthorized", label);
            assert.equal(missing.json.error.type, "authentication_error", label);
            assert.equal(missing.json.error.param, "Authorization", label);
        } else if (method !== "HEAD") {
            assert.equal(missing.json.success, false, label);
            assert.equal(missing.json.code, "unauthorized", label);
            assert.match(missing.json.error, /^Authorization: /, label);
            assert.equal(missing.json.param, "Authorization");
        }
        const right = await call(method, url, `Bearer ${KEY}`);
        assert.notEqual(right.status, 401, `${label} with the key`);
        assert.ok(right.status < 500, `${label} with the key: ${right.status}`);
    }
    assert.equal(server.worker.engine.status().state, "ready", "the probing requests changed nothing");
});

test("the key is accepted with any case of 'bearer'; unknown paths are 401 without it and 404 with it", async () => {
    assert.equal((await call("GET", "/model/info", `bearer ${KEY}`)).status, 200);
    assert.equal((await call("GET", "/model/info", `BEARER ${KEY}`)).status, 200);
    assert.equal((await call("GET", "/no/such/route")).status, 401);
    assert.equal((await call("GET", "/no/such/route", `Bearer ${KEY}`)).status, 404);
    const chat = await fetch(`${server.url}/chat`, {
        method: "POST", headers: {"content-type": "application/json", authorization: `Bearer ${KEY}`},
        body: JSON.stringify({message: "hi", max_tokens: 2})
    });
    assert.equal(chat.status, 200);
});

test("/docs marks the protected routes with the bearer scheme", async () => {
    const {json} = await call("GET", "/docs", `Bearer ${KEY}`);
    assert.equal(json.components.securitySchemes.bearerAuth.scheme, "bearer");
    assert.deepEqual(json.paths["/chat"].post.security, [{bearerAuth: []}]);
    assert.equal(json.paths["/health"].get.security, undefined);
});

test("npm run smoke walks every endpoint with the key and passes", async () => {
    const {stdout} = await promisify(execFile)(process.execPath,
        ["--import", "tsx", "src/cli/smoke.ts", "--url", server.url, "--key", KEY, "--lifecycle"],
        {encoding: "utf8", timeout: 120_000});
    const rows = stdout.split("\n").filter((line) => /^(PASS|FAIL|SKIP) /.test(line));
    assert.ok(!rows.some((row) => row.startsWith("FAIL")), stdout);
    for (const path of ["/health", "/ready", "/chat/health", "/model/info", "/memory/status", "/metrics", "/docs", "/chat",
        "/chat/debug/system-prompt", "/memory/unload", "/memory/load"])
        assert.ok(rows.some((row) => row.startsWith("PASS") && row.split(/\s+/)[2] === path), `${path} in\n${stdout}`);
    assert.ok(rows.some((row) => /refused without the key/.test(row)), "it checks that the key is required");
    // The original worker's fields are checked too (issue 19).
    assert.ok(rows.some((row) => /^PASS +GET +\/chat\/health .*chat_ready true, 6 endpoints/.test(row)), stdout);
    assert.ok(rows.some((row) => /^PASS +GET +\/model\/info .*unloaded: error "Model not loaded"/.test(row)), stdout);
    assert.ok(rows.some((row) => /^PASS +POST +\/memory\/unload .*Model unloaded/.test(row)), stdout);
    assert.ok(rows.some((row) => /^PASS +POST +\/memory\/load .*Model (already )?loaded/.test(row)), stdout);
});

test("smoke fails (exit 1) when the worker refuses it, and names the failing rows", async () => {
    const result = await promisify(execFile)(process.execPath,
        ["--import", "tsx", "src/cli/smoke.ts", "--url", server.url, "--key", "wrong"], {encoding: "utf8", timeout: 120_000})
        .then(() => null, (err: {code: number; stdout: string}) => err);
    assert.ok(result != null, "smoke exited 0 against a worker that refused it");
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^FAIL +GET +\/model\/info .*HTTP 401/m);
    assert.match(result.stdout, /^PASS +GET +\/health/m, "the open probe still passes");
});
