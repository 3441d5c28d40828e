import {test} from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import {loadConfig, SETTINGS, BUILTIN_MODEL_PATH} from "../../src/config/config.js";
import {ConfigError} from "../../src/errors.js";

test("defaults: port 7861, the built-in model, threads from the core count", () => {
    const config = loadConfig({});
    assert.equal(config.port, 7861);
    assert.equal(config.host, "0.0.0.0");
    assert.deepEqual(config.models, [{name: null, source: {kind: "file", path: BUILTIN_MODEL_PATH, builtin: true}, kind: "chat", matryoshka: false}]);
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

test("MODEL: a reference to download; with MODEL_PATH too, or malformed, it refuses to start naming the variable", () => {
    for (const reference of [
        "hf:Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M", "hf:Qwen/Qwen2.5-7B-Instruct-GGUF", "hf:user/repo/sub/model-00001-of-00003.gguf#dev",
        "https://example.com/models/model.gguf"
    ])
        assert.deepEqual(loadConfig({MODEL: reference}).models, [{name: null, source: {kind: "reference", reference}, kind: "chat", matryoshka: false}]);
    for (const bad of ["/models/qwen.gguf", "qwen2.5-7b", "hf:Qwen", "hf:Qwen/Repo/readme.md", "ftp://host/model.gguf", "https://"])
        assert.throws(() => loadConfig({MODEL: bad}), (err: unknown) => err instanceof ConfigError && err.variable === "MODEL", bad);
    assert.throws(() => loadConfig({MODEL: "hf:a/b:Q8_0", MODEL_PATH: "/models/b.gguf"}), (err: unknown) =>
        err instanceof ConfigError && err.variable === "MODEL" && /MODEL_PATH/.test(err.message));
    assert.throws(() => loadConfig({MODEL: "hf:a/b:Q8_0", MODELS: "b=/models/b.gguf"}), (err: unknown) =>
        err instanceof ConfigError && err.variable === "MODEL" && /MODELS/.test(err.message));
    // A MODELS entry is a reference when it looks like one, and is checked like MODEL.
    assert.deepEqual(loadConfig({MODELS: "instruct=hf:Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M,base=/models/base-00001-of-00002.gguf"}).models, [
        {name: "instruct", source: {kind: "reference", reference: "hf:Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M"}, kind: "chat", matryoshka: false},
        {name: "base", source: {kind: "file", path: "/models/base-00001-of-00002.gguf", builtin: false}, kind: "chat", matryoshka: false}
    ]);
    assert.throws(() => loadConfig({MODELS: "a=hf:Qwen"}), (err: unknown) => err instanceof ConfigError && err.variable === "MODELS" && /model "a"/.test(err.message));
    assert.throws(() => loadConfig({MODELS: "a=/m/x-00003-of-00003.gguf"}), (err: unknown) =>
        err instanceof ConfigError && err.variable === "MODELS" && /model "a" names shard 3/.test(err.message));
    // llama.cpp opens a split model only by its first shard.
    assert.deepEqual(loadConfig({MODEL_PATH: "/m/q-00001-of-00002.gguf"}).models[0].source, {kind: "file", path: "/m/q-00001-of-00002.gguf", builtin: false});
    assert.throws(() => loadConfig({MODEL_PATH: "/m/q-00002-of-00002.gguf"}), (err: unknown) =>
        err instanceof ConfigError && err.variable === "MODEL_PATH" && /first shard \(\.\.\.-00001-of-00002\.gguf\)/.test(err.message));
});

test("MODELS_DIR defaults under the user's cache; HF_ENDPOINT is a URL; HF_TOKEN is kept as given", () => {
    assert.equal(loadConfig({XDG_CACHE_HOME: "/var/cache/x"}).modelsDir, "/var/cache/x/chat-worker/models");
    assert.equal(loadConfig({HOME: "/home/u"}).modelsDir, "/home/u/.cache/chat-worker/models");
    assert.equal(loadConfig({MODELS_DIR: "/models"}).modelsDir, "/models");
    assert.equal(loadConfig({}).hfEndpoint, "https://huggingface.co");
    assert.equal(loadConfig({HF_ENDPOINT: "http://mirror:8080/"}).hfEndpoint, "http://mirror:8080");
    assert.throws(() => loadConfig({HF_ENDPOINT: "mirror:8080"}), (err: unknown) => err instanceof ConfigError && err.variable === "HF_ENDPOINT");
    assert.equal(loadConfig({HF_TOKEN: "hf_abc"}).hfToken, "hf_abc");
    assert.throws(() => loadConfig({DOWNLOAD_STALL_SECONDS: "0"}), (err: unknown) => err instanceof ConfigError && err.variable === "DOWNLOAD_STALL_SECONDS");
});

test("the conversation cache's old setting names are still read; both names set to different values refuse to boot", () => {
    const old = loadConfig({PREFIX_CACHE: "false", STATE_CACHE_DIR: "/tmp/old-states", STATE_CACHE_MAX_BYTES: "5"});
    assert.deepEqual([old.conversationCache, old.conversationCacheDir, old.conversationCacheMaxBytes], [false, "/tmp/old-states", 5]);
    const current = loadConfig({CONVERSATION_CACHE: "false", CONVERSATION_CACHE_DIR: "/tmp/states", CONVERSATION_CACHE_MAX_BYTES: "7"});
    assert.deepEqual([current.conversationCache, current.conversationCacheDir, current.conversationCacheMaxBytes], [false, "/tmp/states", 7]);
    const defaults = loadConfig({});
    assert.deepEqual([defaults.conversationCache, defaults.conversationCacheDir, defaults.conversationCacheMaxBytes], [true, ".state-cache", 1073741824]);
    // The same value under both names is no conflict.
    assert.equal(loadConfig({CONVERSATION_CACHE_MAX_BYTES: "9", STATE_CACHE_MAX_BYTES: "9"}).conversationCacheMaxBytes, 9);
    for (const [name, alias, a, b] of [
        ["CONVERSATION_CACHE", "PREFIX_CACHE", "true", "false"], ["CONVERSATION_CACHE_DIR", "STATE_CACHE_DIR", "/a", "/b"],
        ["CONVERSATION_CACHE_MAX_BYTES", "STATE_CACHE_MAX_BYTES", "1", "2"]
    ])
        assert.throws(() => loadConfig({[name]: a, [alias]: b}), (err: unknown) =>
            err instanceof ConfigError && err.variable === name && err.message.includes(name) && err.message.includes(alias), `${name} and ${alias}`);
    // A bad value is reported under the name it was set by.
    assert.throws(() => loadConfig({STATE_CACHE_MAX_BYTES: "lots"}), (err: unknown) => err instanceof ConfigError && err.variable === "STATE_CACHE_MAX_BYTES");
    assert.throws(() => loadConfig({CONVERSATION_CACHE_MAX_BYTES: "lots"}), (err: unknown) => err instanceof ConfigError && err.variable === "CONVERSATION_CACHE_MAX_BYTES");
});
