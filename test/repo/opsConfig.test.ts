import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import {loadConfig, SETTINGS} from "../../src/config/config.js";
import {ConfigError} from "../../src/errors.js";

test("registration settings are validated at boot, naming the variable", () => {
    const base = {SUPABASE_URL: "https://x.supabase.co", SUPABASE_SERVICE_KEY: "k"};
    const bad: Array<[Record<string, string>, string]> = [
        [{SUPABASE_URL: "https://x.supabase.co"}, "SUPABASE_SERVICE_KEY"],
        [{SUPABASE_SERVICE_KEY: "k"}, "SUPABASE_URL"],
        [{...base}, "WORKER_PUBLIC_URL"],
        [{...base, WORKER_PUBLIC_URL: "ftp://w"}, "WORKER_PUBLIC_URL"],
        [{...base, RUNPOD_POD_ID: "a/b"}, "RUNPOD_POD_ID"],
        [{...base, WORKER_PUBLIC_URL: "https://w", REGISTRATION_MAX_ATTEMPTS: "0"}, "REGISTRATION_MAX_ATTEMPTS"],
        [{SUPABASE_URL: "not a url", SUPABASE_SERVICE_KEY: "k"}, "SUPABASE_URL"]
    ];
    for (const [env, variable] of bad)
        assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === variable, JSON.stringify(env));
    assert.equal(loadConfig({}).registration, null, "off without the Supabase settings");
    const on = loadConfig({...base, RUNPOD_POD_ID: "pod1", PORT: "8000"}).registration!;
    assert.equal(on.endpoint, "https://x.supabase.co/functions/v1/register-chat-worker");
    assert.equal(on.workerUrl, "https://pod1-8000.proxy.runpod.net");
});

test("operations settings: defaults and bad values", () => {
    const config = loadConfig({});
    assert.equal(config.idleUnloadSeconds, 0);
    assert.equal(config.shutdownGraceSeconds, 25);
    assert.equal(config.workerApiKey, null);
    assert.equal(config.memoryCheck, true);
    const bad: Array<[string, string]> = [
        ["IDLE_UNLOAD_SECONDS", "-1"], ["IDLE_UNLOAD_SECONDS", "soon"], ["SHUTDOWN_GRACE_SECONDS", "x"],
        ["WORKER_API_KEY", " "], ["MEMORY_CHECK", "maybe"], ["REGISTRATION_BACKOFF_SECONDS", "-2"]
    ];
    for (const [variable, value] of bad)
        assert.throws(() => loadConfig({[variable]: value}), (err: unknown) =>
            err instanceof ConfigError && err.variable === variable, `${variable}=${value}`);
});

test("docs/settings.md's settings table documents every setting", () => {
    const readme = fs.readFileSync(new URL("../../docs/settings.md", import.meta.url), "utf8");
    const table = new Set([...readme.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]));
    for (const name of Object.keys(SETTINGS))
        assert.ok(table.has(name), `${name} is missing from docs/settings.md's table`);
});

test("security settings: CORS off by default, origins parsed, bad values refuse to boot naming the variable", () => {
    const defaults = loadConfig({});
    assert.deepEqual(defaults.corsOrigins, []);
    assert.equal(defaults.headersTimeoutSeconds, 20);
    assert.equal(defaults.bodyTimeoutSeconds, 30);
    assert.deepEqual(loadConfig({CORS_ORIGINS: "https://a.example, http://localhost:3000"}).corsOrigins,
        ["https://a.example", "http://localhost:3000"]);
    const bad: Array<[Record<string, string>, string]> = [
        [{CORS_ORIGINS: "*"}, "CORS_ORIGINS"],
        [{CORS_ORIGINS: "https://a.example/path"}, "CORS_ORIGINS"],
        [{HEADERS_TIMEOUT_SECONDS: "0"}, "HEADERS_TIMEOUT_SECONDS"],
        [{BODY_TIMEOUT_SECONDS: "soon"}, "BODY_TIMEOUT_SECONDS"],
        [{HEADERS_TIMEOUT_SECONDS: "40", BODY_TIMEOUT_SECONDS: "30"}, "HEADERS_TIMEOUT_SECONDS"]
    ];
    for (const [env, variable] of bad)
        assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === variable, JSON.stringify(env));
});
