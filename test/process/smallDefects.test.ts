import {test} from "node:test";
import assert from "node:assert/strict";
import {loadConfig} from "../../src/config/config.js";
import {ConfigError, ContextOverflowError} from "../../src/errors.js";
import {toProblem} from "../../src/http/errorMapping.js";
import {WorkerMetrics} from "../../src/service/metrics.js";

/** Issue 24, defect 12: the smaller defects whose fix is pure logic. */

test("MODELS=all=... is refused at boot: ?which=all always means every model", () => {
    assert.throws(() => loadConfig({MODELS: "all=/models/a.gguf,b=/models/b.gguf"}),
        (err: unknown) => err instanceof ConfigError && err.variable === "MODELS" && /"all"/.test(err.message));
});

test("/v1/completions context errors talk about the prompt, not a system prompt", () => {
    const err = new ContextOverflowError({promptTokens: 900, maxTokens: 200, contextSize: 1024, culprit: "prompt"});
    const completions = toProblem(err, "prompt", true);
    assert.equal(completions.param, "prompt");
    assert.doesNotMatch(completions.message, /system prompt|message/);
    assert.match(completions.message, /The prompt needs 900 tokens/);
    // The chat routes keep their wording.
    assert.match(toProblem(err, "messages", true).message, /system prompt and current message/);
});

test("stats.errors does not count /ready's 503s (a probe's answer while loading, not an error)", async () => {
    const metrics = new WorkerMetrics({queueDepth: () => 0, runningSequences: () => 0, modelsLoaded: () => []});
    metrics.httpRequests.inc({method: "GET", route: "/ready", status: "503"});
    metrics.httpRequests.inc({method: "POST", route: "/chat", status: "503"});
    assert.equal((await metrics.totals()).serverErrors, 1);
});
