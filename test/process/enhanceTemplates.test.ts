import {test, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {spawn} from "node:child_process";
import {fileURLToPath} from "node:url";
import {loadConfig} from "../../src/config/config.js";
import {ConfigError} from "../../src/errors.js";
import {
    builtinTemplatesDir, JOB_TYPES, loadEnhanceTemplates, renderUserPrompt, type EnhanceTemplate
} from "../../src/service/enhanceTemplates.js";
import {MIN_TOKEN_BUDGET} from "../../src/service/enhanceOutputFormat.js";
import {startTestWorker, testModelPath} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "enhance-templates-"));
after(() => fs.rmSync(scratch, {recursive: true, force: true}));

let folders = 0;
/** A fresh operator folder holding the given files (name -> content; objects are written as JSON). */
function folder(files: Record<string, unknown>): string {
    const dir = path.join(scratch, `case-${folders++}`);
    fs.mkdirSync(dir);
    for (const [name, content] of Object.entries(files))
        fs.writeFileSync(path.join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
    return dir;
}

const valid = {
    token_budget: 40,
    system_prompt: ["OPERATOR SYSTEM PROMPT for fast images.", "Tags only."],
    user_template: "Operator idea <<{prompt}>>"
};

test("the enhance settings parse at boot: defaults, and bad values name the variable", () => {
    const config = loadConfig({});
    assert.equal(config.enhanceTemplatesDir, null);
    assert.equal(config.enhanceMaxPromptChars, 2000);
    assert.equal(loadConfig({ENHANCE_TEMPLATES_DIR: "/srv/templates"}).enhanceTemplatesDir, "/srv/templates");
    for (const [variable, value] of [["ENHANCE_TEMPLATES_DIR", " "], ["ENHANCE_MAX_PROMPT_CHARS", "0"], ["ENHANCE_MAX_PROMPT_CHARS", "lots"]])
        assert.throws(() => loadConfig({[variable]: value}), (err: unknown) => err instanceof ConfigError && err.variable === variable, variable);
});

test("the built-in templates cover every job type and pass their own checks", () => {
    const templates = loadEnhanceTemplates(null);
    assert.deepEqual([...templates.keys()], [...JOB_TYPES]);
    for (const template of templates.values()) {
        assert.equal(template.source, "built-in");
        assert.ok(template.tokenBudget >= MIN_TOKEN_BUDGET);
        assert.ok(template.userTemplate.includes("{prompt}"));
    }
    const budgets = Object.fromEntries([...templates.values()].map((template) => [template.jobType, template.tokenBudget]));
    assert.ok(budgets.sdxl_image_fast < budgets.sdxl_image_high, "high quality images get the larger budget");
    assert.ok(budgets.video_fast >= 150 && budgets.video_high <= 250 && budgets.video_fast < budgets.video_high);
    assert.ok(fs.existsSync(path.join(builtinTemplatesDir(), "sdxl_image_fast.json")));
});

test("the client's prompt is inserted literally", () => {
    const template = loadEnhanceTemplates(folder({"sdxl_image_fast.json": valid})).get("sdxl_image_fast") as EnhanceTemplate;
    assert.equal(renderUserPrompt(template, "a $& b $1 {prompt}"), "Operator idea <<a $& b $1 {prompt}>>");
    assert.equal(template.systemPrompt, "OPERATOR SYSTEM PROMPT for fast images.\nTags only.", "line arrays are joined");
});

test("an operator folder replaces the templates it holds and keeps the built-ins for the rest", () => {
    const templates = loadEnhanceTemplates(folder({"sdxl_image_fast.json": valid, "README.md": "notes are ignored"}));
    const fast = templates.get("sdxl_image_fast")!;
    assert.equal(fast.source, "operator");
    assert.equal(fast.tokenBudget, 40);
    assert.equal(fast.style, "image");
    for (const jobType of JOB_TYPES.filter((name) => name !== "sdxl_image_fast"))
        assert.equal(templates.get(jobType)!.source, "built-in", jobType);
});

test("a broken operator folder refuses to load, naming ENHANCE_TEMPLATES_DIR and what is wrong", () => {
    const cases: Array<[string, string, RegExp]> = [
        ["missing folder", path.join(scratch, "does-not-exist"), /does not exist/],
        ["a file, not a folder", (() => {
            const file = path.join(scratch, "plain-file");
            fs.writeFileSync(file, "x");
            return file;
        })(), /not a folder/],
        ["no templates", folder({"notes.txt": "x"}), /holds no templates/],
        ["unknown job type", folder({"sdxl_image_fats.json": valid}), /sdxl_image_fats\.json: not a job type/],
        ["bad JSON", folder({"video_fast.json": "{\"token_budget\": 40,"}), /video_fast\.json: is not valid JSON/],
        ["not an object", folder({"video_fast.json": [1, 2]}), /must be a JSON object/],
        ["no placeholder", folder({"video_high.json": {...valid, user_template: "no placeholder"}}), /user_template must contain \{prompt\}/],
        ["typo placeholder", folder({"video_high.json": {...valid, user_template: "{prompt} {promt}"}}), /unknown placeholder \{promt\}/],
        ["placeholder in system", folder({"video_high.json": {...valid, system_prompt: "About {prompt}"}}), /system_prompt has an unknown placeholder/],
        ["missing system prompt", folder({"sdxl_image_high.json": {token_budget: 40, user_template: "{prompt}"}}), /system_prompt must be/],
        ["empty system prompt", folder({"sdxl_image_high.json": {...valid, system_prompt: "  "}}), /system_prompt must not be empty/],
        ["budget too small", folder({"sdxl_image_high.json": {...valid, token_budget: MIN_TOKEN_BUDGET - 1}}), /token_budget must be an integer/],
        ["budget not a number", folder({"sdxl_image_high.json": {...valid, token_budget: "75"}}), /token_budget/],
        ["budget missing", folder({"sdxl_image_high.json": {system_prompt: "s", user_template: "{prompt}"}}), /token_budget/],
        ["unknown key", folder({"sdxl_image_high.json": {...valid, style: "video"}}), /unknown key "style"/],
        ["one bad file among good ones", folder({"sdxl_image_fast.json": valid, "video_fast.json": {...valid, token_budget: 0}}), /video_fast\.json/]
    ];
    for (const [name, dir, pattern] of cases)
        assert.throws(() => loadEnhanceTemplates(dir), (err: unknown) =>
            err instanceof ConfigError && err.variable === "ENHANCE_TEMPLATES_DIR" &&
            err.message.includes("ENHANCE_TEMPLATES_DIR") && pattern.test(err.message), name);
});

test("over HTTP, an operator template drives /enhance and /enhancement/info reports it", async () => {
    const dir = folder({"sdxl_image_fast.json": valid});
    const server = await startTestWorker({THREADS: "1", ENHANCE_TEMPLATES_DIR: dir});
    try {
        const info = await (await fetch(`${server.url}/enhancement/info`)).json() as any;
        assert.equal(info.job_types.sdxl_image_fast.template_source, "operator");
        assert.equal(info.job_types.sdxl_image_fast.token_budget, 40);
        assert.equal(info.job_types.sdxl_image_high.template_source, "built-in");
        assert.ok(!JSON.stringify(info).includes(scratch), "no server paths in responses");

        const prompt = "a lighthouse";
        // The prompt the operator's template makes, counted by the model's own template and tokenizer.
        const expected = await server.worker.engine.render([
            {role: "system", content: "OPERATOR SYSTEM PROMPT for fast images.\nTags only."},
            {role: "user", content: `Operator idea <<${prompt}>>`}
        ]);
        for (let seed = 0; seed < 8; seed++) {
            const {status, json} = await postJson(`${server.url}/enhance`, {prompt, job_type: "sdxl_image_fast", seed});
            assert.equal(status, 200, JSON.stringify(json));
            assert.equal(json.usage.prompt_tokens, expected.tokenCount, "the operator's instructions reached the model");
            assert.ok(json.usage.completion_tokens <= 40);
            assert.ok(await server.worker.engine.countTokens(json.enhanced_prompt) <= 40, json.enhanced_prompt);
            assert.ok(json.enhanced_prompt.length > 0);
        }
    } finally {
        await server.close();
    }
});

test("the worker refuses to boot with a broken template folder, naming the variable", async () => {
    const dir = folder({"video_fast.json": {...valid, user_template: "no placeholder here"}});
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        env: {
            ...process.env, ENHANCE_TEMPLATES_DIR: dir, MODEL_PATH: await testModelPath(), PORT: "0", HOST: "127.0.0.1",
            GPU: "false", THREADS: "1", LOG_LEVEL: "silent"
        },
        stdio: ["ignore", "pipe", "pipe"]
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
    });
    // A worker that boots anyway would never exit: bound the wait, then stop it.
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    clearTimeout(killer);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /Invalid setting ENHANCE_TEMPLATES_DIR: video_fast\.json: user_template must contain \{prompt\}/);
});
