import {speaksOpenAi} from "../helpers/http.js";
import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {execFile} from "node:child_process";
import {promisify} from "node:util";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {registeredRoutes} from "../../src/http/app.js";
import {isPageRoute} from "../../src/http/pages.js";
import {ONE_THREAD} from "../helpers/opsHelpers.js";

const KEY = "test-key-0123456789";
let server: TestWorker;

before(async () => {
    server = await startTestWorker({...ONE_THREAD, WORKER_API_KEY: KEY, PARALLEL: "1"});
});
after(() => server.close());

const OPEN = new Set(["/health", "/ready"]);
/** The pages' code answers without the key (it holds no data; the pages send the key with their API calls). */
const isOpen = (url: string) => OPEN.has(url) || isPageRoute(url);

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

test("every route except /health, /ready and the pages needs the key: 401 JSON without it or with a wrong one", async () => {
    const routes = registeredRoutes(server.worker.app);
    const urls = new Set(routes.map((route) => route.url));
    for (const url of ["/chat", "/chat/debug/system-prompt", "/memory/status", "/memory/load", "/memory/unload", "/model/info", "/metrics",
        "/docs/json", "/docs/yaml", "/chat/health", "/", "/playground", "/docs"])
        assert.ok(urls.has(url), `${url} is registered`);
    assert.ok(routes.some((route) => route.method === "HEAD"), "HEAD routes are enumerated too");
    for (const {method, url} of routes.filter((route) => isPageRoute(route.url)))
        assert.ok(method === "GET" || method === "HEAD", `${method} ${url}: a page route only serves files`);

    for (const {method, url} of routes) {
        const label = `${method} ${url}`;
        if (isOpen(url)) {
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
        if (method !== "HEAD" && speaksOpenAi(url)) {
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

test("/docs/json marks the protected routes with the bearer scheme", async () => {
    const {json} = await call("GET", "/docs/json", `Bearer ${KEY}`);
    assert.equal(json.components.securitySchemes.bearerAuth.scheme, "bearer");
    assert.deepEqual(json.paths["/chat"].post.security, [{bearerAuth: []}]);
    assert.equal(json.paths["/chat"].post.responses["401"].description, "Missing or wrong API key");
    assert.equal(json.paths["/health"].get.security, undefined);
    assert.equal(json.paths["/health"].get.responses["401"], undefined);
});

test("the pages load without the key; the API document behind them does not", async () => {
    for (const url of ["/", "/playground", "/playground/main.js", "/playground/style.css", "/docs", "/docs/",
        "/docs/static/swagger-ui-bundle.js", "/docs/static/theme/docs-key.js"]) {
        const response = await fetch(`${server.url}${url}`);
        assert.equal(response.status, 200, url);
        assert.match(response.headers.get("content-type") ?? "", /^(text\/html|text\/css|text\/javascript|application\/javascript)/, url);
    }
    for (const url of ["/docs/json", "/docs/yaml"])
        assert.equal((await fetch(`${server.url}${url}`)).status, 401, url);
    // A file the playground does not have is an unknown path: 401 without the key, 404 with it.
    assert.equal((await call("GET", "/playground/nope.js")).status, 401);
    assert.equal((await call("GET", "/playground/nope.js", `Bearer ${KEY}`)).status, 404);
    // The docs assets are served from the package folder only (%2e%2e is not normalised away by fetch).
    const escape = await fetch(`${server.url}/docs/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/package.json`);
    assert.ok([401, 403, 404].includes(escape.status), `HTTP ${escape.status}`);
    assert.ok(!(await escape.text()).includes("chat-worker"));
});

test("npm run smoke walks every endpoint with the key and passes", async () => {
    const {stdout} = await promisify(execFile)(process.execPath,
        ["--import", "tsx", "src/cli/smoke.ts", "--url", server.url, "--key", KEY, "--lifecycle"],
        {encoding: "utf8", timeout: 120_000});
    const rows = stdout.split("\n").filter((line) => /^(PASS|FAIL|SKIP) /.test(line));
    assert.ok(!rows.some((row) => row.startsWith("FAIL")), stdout);
    for (const path of ["/health", "/ready", "/chat/health", "/model/info", "/memory/status", "/metrics", "/docs/json", "/", "/docs", "/chat",
        "/chat/debug/system-prompt", "/memory/unload", "/memory/load", "/v1/chat/completions", "/v1/completions"])
        assert.ok(rows.some((row) => row.startsWith("PASS") && row.split(/\s+/)[2] === path), `${path} in\n${stdout}`);
    assert.ok(rows.some((row) => /refused without the key/.test(row)), "it checks that the key is required");
    // The messages shape (issue 12).
    for (const pattern of [/^PASS +POST +\/chat .*messages shape/, /^PASS +POST +\/generate /, /^PASS +POST +\/enhance .*messages shape/,
        /^PASS +POST +\/chat .*mixed shapes rejected/, /^PASS +GET +\/worker\/info .*1 model/, /^PASS +GET +\/debug\/model .*active/])
        assert.ok(rows.some((row) => pattern.test(row)), `${pattern} in\n${stdout}`);
    // The original worker's fields are checked too (issue 19).
    assert.ok(rows.some((row) => /^PASS +GET +\/chat\/health .*chat_ready true, 8 endpoints/.test(row)), stdout);
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
