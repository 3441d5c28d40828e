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
    assert.equal(config.threads, os.availableParallelism());
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

test("every setting has a default entry and documentation", () => {
    for (const [name, setting] of Object.entries(SETTINGS)) {
        assert.equal(typeof setting.default, "string", name);
        assert.ok(setting.doc.length > 10, name);
    }
});
