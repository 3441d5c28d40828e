import {test} from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import {loadConfig, ConfigError, SETTINGS, BUILTIN_MODEL_PATH} from "../src/config/config.js";

test("defaults: port 7861, the built-in model, threads from the core count", () => {
    const config = loadConfig({});
    assert.equal(config.port, 7861);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.modelPath, BUILTIN_MODEL_PATH);
    assert.equal(config.modelIsBuiltin, true);
    assert.equal(config.threads, Math.max(1, os.availableParallelism() - 1));
    assert.equal(config.uvThreadpoolSize, Math.max(1, os.availableParallelism() - config.threads));
    assert.equal(config.modelName, null);
    assert.equal(config.gpu, "auto");
});

test("a bad value refuses to load and names the variable", () => {
    const bad: Array<[string, string]> = [
        ["PORT", "seventy"], ["PORT", "70000"], ["PARALLEL", "0"], ["THREADS", "1.5"], ["GPU", "metal-ish"],
        ["CONTEXT_SIZE", ""], ["MAX_QUEUE", "-1"], ["LOG_LEVEL", "loud"], ["MAX_TOKENS_LIMIT", "abc"],
        ["LOG_PROMPTS", "maybe"], ["REQUEST_TIMEOUT_SECONDS", "soon"], ["ENGINE", "magic"]
    ];
    for (const [variable, value] of bad)
        assert.throws(() => loadConfig({[variable]: value}), (err: unknown) =>
            err instanceof ConfigError && err.variable === variable && err.message.includes(variable), `${variable}=${value}`);
    assert.throws(() => loadConfig({DEFAULT_MAX_TOKENS: "900", MAX_TOKENS_LIMIT: "800"}), /DEFAULT_MAX_TOKENS/);
});

test("every setting has a default that parses (or none) and documentation", () => {
    for (const [name, setting] of Object.entries(SETTINGS) as Array<[string, {default: string | null; parse: (raw: string) => unknown; doc: string}]>) {
        if (setting.default != null)
            assert.doesNotThrow(() => setting.parse(setting.default!), name);
        assert.ok(setting.doc.length > 10, name);
    }
});

test("ENGINE=openai needs UPSTREAM_URL; upstream settings are validated and parsed", () => {
    assert.throws(() => loadConfig({ENGINE: "openai"}), (err: unknown) =>
        err instanceof ConfigError && err.variable === "UPSTREAM_URL" && /required when ENGINE=openai/.test(err.message));
    const bad: Array<[string, string]> = [
        ["UPSTREAM_URL", "vllm:8000"], ["UPSTREAM_URL", "ftp://host/v1"], ["UPSTREAM_TIMEOUT_SECONDS", "0"],
        ["UPSTREAM_TIMEOUT_SECONDS", "soon"], ["UPSTREAM_GRAMMAR_FIELD", "guided_json"], ["UPSTREAM_MODEL", " "]
    ];
    for (const [variable, value] of bad)
        assert.throws(() => loadConfig({ENGINE: "openai", UPSTREAM_URL: "http://vllm:8000/v1", [variable]: value}), (err: unknown) =>
            err instanceof ConfigError && err.variable === variable, `${variable}=${value}`);
    const config = loadConfig({
        ENGINE: "openai", UPSTREAM_URL: "http://vllm:8000/v1/", UPSTREAM_API_KEY: "k", UPSTREAM_MODEL: "Qwen/Qwen2.5-7B-Instruct",
        UPSTREAM_TIMEOUT_SECONDS: "2.5", UPSTREAM_GRAMMAR_FIELD: "structured_outputs"
    });
    assert.equal(config.upstreamUrl, "http://vllm:8000/v1");
    assert.equal(config.upstreamApiKey, "k");
    assert.equal(config.upstreamModel, "Qwen/Qwen2.5-7B-Instruct");
    assert.equal(config.upstreamTimeoutSeconds, 2.5);
    assert.equal(config.upstreamGrammarField, "structured_outputs");
    const defaults = loadConfig({});
    assert.equal(defaults.upstreamUrl, null);
    assert.equal(defaults.upstreamTimeoutSeconds, 60);
    assert.equal(defaults.upstreamGrammarField, "grammar");
});
