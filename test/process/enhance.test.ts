import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {JOB_TYPES, JOB_TYPE_TRAITS, builtinTemplatesDir, renderUserPrompt, type JobType} from "../../src/service/enhanceTemplates.js";
import {MAX_WORD_CHARS, MIN_TOKEN_BUDGET, outputGrammar, phraseLimits, PREAMBLE_OPENERS} from "../../src/service/enhanceOutputFormat.js";
import {SAMPLING_DEFAULTS} from "../../src/service/requestShaping.js";
import {captureLogs} from "../helpers/logs.js";

let server: TestWorker;
const logs = captureLogs();

before(async () => {
    // One compute thread: this machine is shared, and llama.cpp's spin-waiting collapses when oversubscribed.
    server = await startTestWorker({THREADS: "1", PARALLEL: "4", CONTEXT_SIZE: "2048"}, logs.logger);
    assert.equal(server.worker.engine.status().state, "ready", server.worker.engine.status().reason ?? "");
});
after(() => server.close());

const enhance = (body: unknown, route = "/enhance") => postJson(`${server.url}${route}`, body);
const builtinBudget = (jobType: JobType): number =>
    JSON.parse(fs.readFileSync(path.join(builtinTemplatesDir(), `${jobType}.json`), "utf8")).token_budget;

const WORD = `[A-Za-z0-9]{1,${MAX_WORD_CHARS}}`;
const PHRASE = `${WORD}(?:[ -]${WORD})*`;
const IMAGE_OUTPUT = new RegExp(`^${PHRASE}(?:, ${PHRASE})*$`);
const VIDEO_OUTPUT = new RegExp(`^${PHRASE}(?:(?:, |\\. )${PHRASE})*\\.?$`);

/** Everything "clean" means, checked on one enhanced prompt. */
async function assertClean(text: unknown, jobType: JobType, budget: number, context: string): Promise<void> {
    assert.equal(typeof text, "string", context);
    const prompt = text as string;
    assert.ok(prompt.length > 0, `empty: ${context}`);
    assert.ok(!/[\r\n]/.test(prompt), `more than one line: ${context}`);
    assert.ok(!/["'`\u201c\u201d\u2018\u2019]/.test(prompt), `quotes: ${context}`);
    assert.ok(!/[:!?*#]/.test(prompt), `preamble punctuation or markdown: ${context}`);
    assert.equal(prompt, prompt.trim(), `surrounding whitespace: ${context}`);
    const firstWord = prompt.split(/[ ,.-]/)[0].toLowerCase();
    assert.ok(!PREAMBLE_OPENERS.includes(firstWord), `preamble opener "${firstWord}": ${context}`);
    const style = JOB_TYPE_TRAITS[jobType].style;
    if (style === "image") {
        assert.match(prompt, IMAGE_OUTPUT, `not comma-separated phrases: ${context}`);
        for (const phrase of prompt.split(", "))
            assert.ok(phrase.split(/[ -]/).length <= phraseLimits("image", budget).phraseMaxWords, `phrase too long: ${context}`);
    } else
        assert.match(prompt, VIDEO_OUTPUT, `not a one-line description: ${context}`);
    const tokens = await server.worker.engine.countTokens(prompt);
    assert.ok(tokens <= budget, `${tokens} tokens > budget ${budget}: ${context}`);
}

test("the spec's /enhance example answers with exactly the contract's fields plus usage and finish_reason", async () => {
    const {status, json} = await enhance({prompt: "beautiful woman", job_type: "sdxl_image_fast", quality: "fast"});
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(Object.keys(json).sort(), [
        "enhanced_prompt", "enhancement_type", "finish_reason", "generation_time", "job_type", "original_prompt",
        "quality", "success", "usage"
    ]);
    assert.equal(json.success, true);
    assert.equal(json.original_prompt, "beautiful woman");
    assert.equal(json.enhancement_type, "manual");
    assert.equal(json.job_type, "sdxl_image_fast");
    assert.equal(json.quality, "fast");
    assert.ok(typeof json.generation_time === "number" && json.generation_time > 0);
    assert.ok(["stop", "length"].includes(json.finish_reason), json.finish_reason);
    assert.ok(json.usage.prompt_tokens > 0);
    assert.ok(json.usage.completion_tokens > 0 && json.usage.completion_tokens <= builtinBudget("sdxl_image_fast"));
    assert.equal(json.usage.total_tokens, json.usage.prompt_tokens + json.usage.completion_tokens);
    await assertClean(json.enhanced_prompt, "sdxl_image_fast", builtinBudget("sdxl_image_fast"), "spec example");

    const auto = await enhance({prompt: "beautiful woman", job_type: "sdxl_image_fast", enhancement_type: "auto"});
    assert.equal(auto.json.enhancement_type, "auto", "enhancement_type is echoed");
});

test("every job type, across many seeds and temperatures, gives a clean prompt within its budget", async () => {
    const temperatures = [0.7, 1.0, 1.5, 0.3, 0];
    for (const jobType of JOB_TYPES) {
        const budget = builtinBudget(jobType);
        const runs = Array.from({length: 16}, (_, seed) => {
            // Every fourth run asks for a smaller budget through max_tokens.
            const maxTokens = seed % 4 === 3 ? MIN_TOKEN_BUDGET + ((seed * 7) % (budget - MIN_TOKEN_BUDGET + 1)) : undefined;
            return {seed, temperature: temperatures[seed % temperatures.length], maxTokens};
        });
        const results = await Promise.all(runs.map((run) => enhance({
            prompt: `a lighthouse on a cliff at dusk ${run.seed}`, job_type: jobType, quality: JOB_TYPE_TRAITS[jobType].quality,
            seed: run.seed, temperature: run.temperature, max_tokens: run.maxTokens
        })));
        const outputs = new Set<string>();
        for (const [index, {status, json}] of results.entries()) {
            const run = runs[index];
            const context = `${jobType} seed ${run.seed} t ${run.temperature} max_tokens ${run.maxTokens}: ${JSON.stringify(json)}`;
            assert.equal(status, 200, context);
            assert.equal(json.job_type, jobType);
            assert.equal(json.quality, JOB_TYPE_TRAITS[jobType].quality);
            const limit = run.maxTokens ?? budget;
            assert.ok(json.usage.completion_tokens <= limit, context);
            await assertClean(json.enhanced_prompt, jobType, limit, context);
            outputs.add(json.enhanced_prompt);
        }
        assert.ok(outputs.size > runs.length / 2, `seeds should change the output (${outputs.size} distinct)`);
    }
});

test("a budget-cut prompt ends where the generation had a phrase boundary, never inside a word", async () => {
    for (const jobType of ["sdxl_image_high", "video_fast"] as const) {
        const template = server.worker.enhance.jobTypes().find((item) => item.jobType === jobType)!;
        const budget = template.tokenBudget;
        for (let seed = 0; seed < 6; seed++) {
            const prompt = `a red fox in fresh snow ${seed}`;
            const {json} = await enhance({prompt, job_type: jobType, seed, temperature: 1});
            assert.equal(json.finish_reason, "length", "the synthetic model never ends by itself");
            // The same generation, not stopped by the budget: the response must be a prefix of it
            // that ends right before a separator.
            const raw = await server.worker.chat.chat({
                input: {
                    prefix: [{role: "system", content: template.systemPrompt}], history: [],
                    tail: [{role: "user", content: renderUserPrompt(template, prompt)}]
                },
                params: {
                    maxTokens: budget * 2, temperature: 1, topP: SAMPLING_DEFAULTS.top_p, topK: SAMPLING_DEFAULTS.top_k,
                    minP: SAMPLING_DEFAULTS.min_p, repetitionPenalty: SAMPLING_DEFAULTS.repetition_penalty, seed,
                    stop: [], ignoreEos: false, frequencyPenalty: 0, presencePenalty: 0, logitBias: [],
                    grammar: {type: "gbnf", grammar: outputGrammar(template.style, budget)}
                },
                conversationId: null,
                signal: new AbortController().signal
            });
            const cut: string = json.enhanced_prompt;
            const context = `${jobType} seed ${seed}: ${JSON.stringify(cut)} vs ${JSON.stringify(raw.text)}`;
            assert.ok(raw.text.startsWith(cut) && raw.text.length > cut.length, context);
            const next = raw.text[cut.length];
            if (cut.endsWith("."))
                assert.equal(next, " ", context);
            else
                assert.equal(next, ",", context);
        }
    }
});

test("/enhance/legacy gives the same response as /enhance", async () => {
    for (const jobType of JOB_TYPES) {
        const body = {prompt: "old castle in fog", job_type: jobType, seed: 42, enhancement_type: "auto"};
        const current = await enhance(body);
        const legacy = await enhance(body, "/enhance/legacy");
        assert.equal(legacy.status, 200);
        const comparable = (json: any) => ({...json, generation_time: 0, usage: {...json.usage, cached_tokens: 0}});
        assert.deepEqual(comparable(legacy.json), comparable(current.json), jobType);
    }
    const bad = await enhance({prompt: "x", job_type: "nope"}, "/enhance/legacy");
    assert.equal(bad.status, 400);
    assert.equal(bad.json.param, "job_type");
});

test("job_type and quality default from each other; a contradiction is refused", async () => {
    const plain = await enhance({prompt: "a boat", seed: 1});
    assert.deepEqual([plain.json.job_type, plain.json.quality], ["sdxl_image_fast", "fast"]);
    const high = await enhance({prompt: "a boat", quality: "high", seed: 1});
    assert.deepEqual([high.json.job_type, high.json.quality], ["sdxl_image_high", "high"]);
    const video = await enhance({prompt: "a boat", job_type: "video_high", seed: 1});
    assert.deepEqual([video.json.job_type, video.json.quality], ["video_high", "high"]);
    const contradiction = await enhance({prompt: "a boat", job_type: "video_fast", quality: "high"});
    assert.equal(contradiction.status, 400);
    assert.equal(contradiction.json.param, "quality");
});

test("/enhancement/info is complete and reports the loaded templates and model", async () => {
    const response = await fetch(`${server.url}/enhancement/info`);
    assert.equal(response.status, 200);
    const info = await response.json() as any;
    assert.equal(typeof info.enhancement_system, "string");
    assert.deepEqual(info.supported_job_types, [...JOB_TYPES]);
    assert.equal(info.model_info.model_name, server.worker.engine.info().modelName);
    assert.equal(info.model_info.model_loaded, true);
    assert.equal(typeof info.model_info.enhancement_method, "string");
    assert.deepEqual(Object.keys(info.endpoints).sort(), ["/enhance", "/enhance/legacy", "/enhancement/info"]);
    for (const jobType of JOB_TYPES) {
        const entry = info.job_types[jobType];
        assert.equal(entry.token_budget, builtinBudget(jobType), jobType);
        assert.equal(entry.template_source, "built-in");
        assert.equal(entry.template_file, `${jobType}.json`);
        assert.equal(entry.style, JOB_TYPE_TRAITS[jobType].style);
        assert.equal(entry.quality, JOB_TYPE_TRAITS[jobType].quality);
        assert.equal(entry.first_phrase_max_words, phraseLimits(entry.style, entry.token_budget).firstPhraseMaxWords);
    }
    assert.equal(info.output_format.min_token_budget, MIN_TOKEN_BUDGET);
});

test("bad input gets a 4xx JSON error naming the field", async () => {
    const cases: Array<[unknown, string, RegExp?]> = [
        [{}, "prompt", /prompt: required \(or messages/],
        [{prompt: ""}, "prompt"],
        [{prompt: "   \n\t"}, "prompt", /whitespace/],
        [{prompt: 5}, "prompt", /must be string/],
        [{prompt: "x", job_type: "sdxl_image_ultra"}, "job_type", /sdxl_image_fast.*sdxl_image_high.*video_fast.*video_high/],
        [{prompt: "x", quality: "ultra"}, "quality", /fast.*high/],
        [{prompt: "x", job_type: "sdxl_image_fast", quality: "high"}, "quality"],
        [{prompt: "x", enhancement_type: "magic"}, "enhancement_type"],
        [{prompt: "x".repeat(2001)}, "prompt", /2000 characters/],
        [{prompt: "x", max_tokens: MIN_TOKEN_BUDGET - 1}, "max_tokens"],
        [{prompt: "x", job_type: "sdxl_image_fast", max_tokens: builtinBudget("sdxl_image_fast") + 1}, "max_tokens"],
        [{prompt: "x", max_tokens: 1.5}, "max_tokens"],
        [{prompt: "x", temperature: "hot"}, "temperature"],
        [{prompt: "x", seed: -1}, "seed"],
        ["{not json", "body"]
    ];
    for (const [body, param, pattern] of cases) {
        const {status, json} = await enhance(body);
        const context = `${JSON.stringify(body).slice(0, 80)} -> ${JSON.stringify(json).slice(0, 300)}`;
        assert.equal(status, 400, context);
        assert.equal(json.success, false, context);
        assert.equal(typeof json.code, "string", context);
        assert.equal(json.param, param, context);
        assert.ok(json.error.includes(param), context);
        if (pattern != null) assert.match(json.error, pattern, context);
    }
    // Under the character limit but, with the instructions and the budget, over the context.
    const overflow = await enhance({prompt: "y".repeat(1900), job_type: "video_high"});
    assert.equal(overflow.status, 400);
    assert.equal(overflow.json.code, "prompt_too_long");
    assert.equal(overflow.json.param, "prompt");
    assert.match(overflow.json.error, /2048/);
});

test("logs carry lengths and timings, never the prompt text", async () => {
    const secret = "zebra-unicorn-marmalade-7781";
    const {status} = await enhance({prompt: secret, seed: 5});
    assert.equal(status, 200);
    const completed = logs.lines.filter((line) => line.includes("enhance completed"));
    assert.ok(completed.length > 0);
    assert.ok(completed.some((line) => JSON.parse(line).promptChars === secret.length));
    assert.ok(!logs.lines.some((line) => line.includes(secret)), "the prompt is not logged");
});

test("a model failure keeps the original's body (prompt unchanged) with a 503 and a code", async () => {
    // A worker whose model file is missing: the lifecycle cannot (re)load it, so enhancement fails.
    const broken = await startTestWorker({MODEL_PATH: "/nonexistent/chat-worker-missing.gguf", THREADS: "1"});
    try {
        const response = await fetch(`${broken.url}/enhance`, {
            method: "POST", headers: {"content-type": "application/json"},
            body: JSON.stringify({prompt: "beautiful woman", job_type: "video_fast", enhancement_type: "auto"})
        });
        const json = await response.json() as any;
        assert.equal(response.status, 503);
        assert.equal(json.success, false);
        assert.equal(json.original_prompt, "beautiful woman");
        assert.equal(json.enhanced_prompt, "beautiful woman");
        assert.equal(typeof json.code, "string");
        assert.match(json.error, /not found|missing|unhealthy|failed/i);
        assert.deepEqual([json.job_type, json.quality, json.enhancement_type], ["video_fast", "fast", "auto"]);
        assert.equal(typeof json.generation_time, "number");
        assert.ok(Number(response.headers.get("retry-after")) > 0);
        const info = await (await fetch(`${broken.url}/enhancement/info`)).json() as any;
        assert.equal(info.model_info.model_loaded, false);
    } finally {
        await broken.close();
    }
});
