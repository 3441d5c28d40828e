import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import {requireStoriesModel} from "../helpers/storiesModel.js";
import {startTestWorker, testModelPath, parseSse, type TestWorker} from "../helpers/testWorker.js";
import {getJson, postJson} from "../helpers/http.js";
import {loadConfig} from "../../src/config/config.js";
import {createWorker} from "../../src/worker.js";

/**
 * The original's real callers (the OurVidz edge functions), each with the payload docs/callers.md
 * documents (read from it here, so the two
 * cannot drift apart), with its own key or none, against a worker set up as that section says.
 */

const CALLERS = fs.readFileSync(new URL("../../docs/callers.md", import.meta.url), "utf8");
const ROLEPLAY_KEY = "roleplay-key-0123456789";
const PLAYGROUND_KEY = "playground-key-9876543210";
let server: TestWorker;

/** The JSON block under `## <caller>` in docs/callers.md. */
function payload(caller: string): Record<string, any> {
    const start = CALLERS.indexOf(`\n## ${caller}\n`);
    assert.ok(start >= 0, `docs/callers.md documents ${caller}`);
    const block = /```json\n([\s\S]*?)\n```/.exec(CALLERS.slice(start));
    assert.ok(block != null, `${caller} has a JSON payload`);
    return JSON.parse(block[1]) as Record<string, any>;
}

/** The fields docs/callers.md says a caller reads, from its "Reads ..." sentence. */
function readsOf(caller: string): string[] {
    const start = CALLERS.indexOf(`\n## ${caller}\n`);
    const sentence = /Reads ([^.]*)\./.exec(CALLERS.slice(start))![1];
    return [...sentence.matchAll(/`([a-z_.]+)`/g)].map((match) => match[1]);
}

function field(body: Record<string, any>, dotted: string): unknown {
    return dotted.split(".").reduce<any>((value, key) => value?.[key], body);
}

before(async () => {
    server = await startTestWorker({
        MODELS: `qwen_instruct=${await testModelPath()},qwen_base=${requireStoriesModel()}`, PARALLEL: "2", CONTEXT_SIZE: "1024",
        WORKER_API_KEY: `${ROLEPLAY_KEY}, ${PLAYGROUND_KEY}`, AUTH_OPEN_ROUTES: "/enhance,/generate"
    });
});
after(() => server?.close());

const bearer = (key: string) => ({authorization: `Bearer ${key}`});

for (const [caller, route, key] of [
    ["roleplay-chat", "/chat", ROLEPLAY_KEY], ["playground-chat", "/chat", PLAYGROUND_KEY],
    ["enhance-prompt", "/enhance", null], ["scene-narrative", "/generate", null]
] as const) {
    test(`${caller}: its payload on ${route} ${key == null ? "without a key" : "with its own key"} answers every field it reads`, async () => {
        const body = payload(caller);
        const answer = await postJson(`${server.url}${route}`, body, key == null ? {} : bearer(key));
        assert.equal(answer.status, 200, JSON.stringify(answer.json));
        for (const name of readsOf(caller))
            assert.notEqual(field(answer.json, name), undefined, `${caller} reads ${name}`);
        assert.equal(answer.json.success, true);
        assert.equal(answer.json.model_info.model_name, body.model);
        assert.equal(answer.json.model_info.active_model_type, body.model === "qwen_base" ? "base" : "instruct");
        assert.ok(answer.json.tokens_generated > 0 && answer.json.tokens_generated <= body.max_tokens);
        if ("context_type" in answer.json) assert.equal(answer.json.context_type, body.context_type ?? null, "context_type is echoed");
        assert.equal(answer.json.sfw_mode, body.sfw_mode);
    });
}

test("get-active-worker-url: /health without a key carries status, capabilities and endpoints", async () => {
    const health = await getJson(`${server.url}/health`);
    assert.equal(health.status, 200);
    for (const name of readsOf("get-active-worker-url")) assert.notEqual(health.json[name], undefined, name);
    assert.equal(health.json.capabilities.generate, true);
    assert.deepEqual(health.json.capabilities.message_formats, ["messages", "message"]);
    assert.match(health.json.endpoints["/generate"], /^POST/);
    assert.match(health.json.endpoints["/chat"], /^POST/);
    assert.equal((await getJson(`${server.url}/worker/info`, bearer(PLAYGROUND_KEY))).json.message_format, "messages");
});

test("several keys: each is accepted, a wrong one and none are 401; only the listed routes are open", async () => {
    const chat = {messages: [{role: "user", content: "hi"}], max_tokens: 2};
    assert.equal((await postJson(`${server.url}/chat`, chat, bearer(ROLEPLAY_KEY))).status, 200);
    assert.equal((await postJson(`${server.url}/chat`, chat, bearer(PLAYGROUND_KEY))).status, 200);
    assert.equal((await postJson(`${server.url}/chat`, chat, bearer(`${ROLEPLAY_KEY},${PLAYGROUND_KEY}`))).status, 401);
    assert.equal((await postJson(`${server.url}/chat`, chat)).status, 401);
    assert.equal((await postJson(`${server.url}/generate`, chat)).status, 200, "open");
    assert.equal((await postJson(`${server.url}/enhance`, {prompt: "a cat"})).status, 200, "open");
    assert.equal((await postJson(`${server.url}/memory/unload`, {})).status, 401);
    assert.equal((await getJson(`${server.url}/worker/info`)).status, 401);
    const docs = (await getJson(`${server.url}/docs/json`, bearer(ROLEPLAY_KEY))).json;
    assert.equal(docs.paths["/generate"].post.security, undefined, "the document shows the open route as open");
    assert.ok(docs.paths["/chat"].post.security != null);
});

test("AUTH_OPEN_ROUTES names routes that exist, and only with a key", async () => {
    assert.throws(() => loadConfig({AUTH_OPEN_ROUTES: "/enhance"}), /AUTH_OPEN_ROUTES: only means something with WORKER_API_KEY/);
    const config = loadConfig({WORKER_API_KEY: "k", AUTH_OPEN_ROUTES: "/enhnace", MODEL_PATH: await testModelPath(), GPU: "false", THREADS: "1"});
    await assert.rejects(createWorker(config, pino({level: "silent"})), /AUTH_OPEN_ROUTES: "\/enhnace" is not a route of this worker/);
    assert.throws(() => loadConfig({MODELS: "a=x.gguf", MODEL_PATH: "y.gguf"}), /MODELS: set MODELS or MODEL_PATH, not both/);
    assert.throws(() => loadConfig({MODELS: "a=x.gguf,a=y.gguf"}), /MODELS: model "a" is named twice/);
    assert.throws(() => loadConfig({MODELS: "x.gguf"}), /MODELS: expected name=path pairs/);
});

test("a body that mixes the two shapes is a 400 that says so", async () => {
    for (const [route, body, param] of [
        ["/chat", {messages: [{role: "user", content: "a"}], message: "b"}, "message"],
        ["/generate", {messages: [{role: "user", content: "a"}], system_prompt: "s"}, "system_prompt"],
        ["/enhance", {messages: [{role: "user", content: "a"}], prompt: "p"}, "prompt"]
    ] as const) {
        const answer = await postJson(`${server.url}${route}`, body, bearer(ROLEPLAY_KEY));
        assert.equal(answer.status, 400, JSON.stringify(answer.json));
        assert.equal(answer.json.code, "mixed_request_shapes");
        assert.equal(answer.json.param, param);
        assert.match(answer.json.error, /send one shape, not both/);
    }
});

test("sfw_mode masks a listed term whole, case-insensitively, also when it spans two streamed tokens", async () => {
    // Find, in what the model really says, a word made of two or more tokens.
    const request = {messages: [{role: "user", content: "Say something."}], max_tokens: 40, temperature: 0, model: "qwen_instruct"};
    let spanning: {text: string; word: string} | null = null;
    for (let attempt = 0; attempt < 8 && spanning == null; attempt++) {
        const body = {...request, messages: [{role: "user", content: `Say something, take ${attempt}.`}]};
        const probe = await postJson(`${server.url}/chat`, {...body, logprobs: true}, bearer(ROLEPLAY_KEY));
        const tokens: string[] = probe.json.logprobs.content.map((entry: {token: string}) => entry.token);
        let at = 0;
        const ends = tokens.map((token) => (at += token.length));
        for (const match of (probe.json.response as string).matchAll(/[\p{L}\p{N}]{3,}/gu)) {
            const start = match.index, end = match.index + match[0].length;
            if (ends.some((boundary) => boundary > start && boundary < end)) {
                spanning = {text: probe.json.response, word: match[0]};
                request.messages = body.messages;
                break;
            }
        }
    }
    assert.ok(spanning != null, "the model said a word of several tokens");

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sfw-terms-"));
    fs.writeFileSync(path.join(dir, "sfw-terms.txt"), `# test list\n${spanning.word.toUpperCase()}\n`);
    const masked = await startTestWorker({ENHANCE_TEMPLATES_DIR: dir, PARALLEL: "1"});
    try {
        const expected = spanning.text.replace(new RegExp(`(?<![\\p{L}\\p{N}])${spanning.word}(?![\\p{L}\\p{N}])`, "gu"), "*".repeat(spanning.word.length));
        assert.notEqual(expected, spanning.text);
        const {model: _, ...sameRequest} = request;
        const plain = await postJson(`${masked.url}/chat`, sameRequest);
        assert.equal(plain.json.response, spanning.text, "the same answer on a worker of the same machine (DETERMINISTIC)");
        assert.equal(plain.json.sfw_mode, false);
        const whole = await postJson(`${masked.url}/chat`, {...sameRequest, sfw_mode: true});
        assert.equal(whole.json.response, expected);
        assert.equal(whole.json.sfw_mode, true);
        const stream = await fetch(`${masked.url}/chat`, {
            method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({...sameRequest, sfw_mode: true, stream: true})
        });
        const events = parseSse(await stream.text());
        const pieces = events.filter((event) => event.event === "token").map((event) => (JSON.parse(event.data) as {text: string}).text);
        // The pieces partition the masked text: none of them can carry a letter of the term.
        assert.equal(pieces.join(""), expected);
        assert.ok(pieces.length > 3, `streamed in pieces (${pieces.length})`);
        assert.equal(JSON.parse(events.at(-1)!.data).response, expected);
        const withLogprobs = await postJson(`${masked.url}/chat`, {...sameRequest, sfw_mode: true, logprobs: true});
        assert.equal(withLogprobs.status, 400);
        assert.equal(withLogprobs.json.param, "logprobs");
    } finally {
        await masked.close();
        fs.rmSync(dir, {recursive: true, force: true});
    }
});

test("sfw_mode on /v1: a two-word term across 20 spaces or 14 newlines, streamed in pieces, is masked (chat and completions)", async () => {
    // A grammar makes the model say it, token by token, as a model would; the built-in list has "blow job".
    const streamText = async (route: string, body: Record<string, unknown>, read: (chunk: any) => string | undefined) => {
        const answer = await fetch(`${server.url}${route}`, {
            method: "POST", headers: {"content-type": "application/json", ...bearer(ROLEPLAY_KEY)}, body: JSON.stringify({...body, stream: true})
        });
        assert.equal(answer.status, 200);
        const events = parseSse(await answer.text());
        assert.equal(events.at(-1)!.data, "[DONE]");
        return events.slice(0, -1).map((event) => read(JSON.parse(event.data)) ?? "").filter((piece) => piece !== "");
    };
    for (const run of [" ".repeat(20), "\n".repeat(14)]) {
        const said = `Then a blow${run}job, and more words after it.`;
        const expected = `Then a ****${run}***, and more words after it.`;
        const chat = {model: "qwen_instruct", messages: [{role: "user", content: "Say it."}], max_tokens: 120, temperature: 0,
            grammar: `root ::= ${JSON.stringify(said)}`};
        const plain = await postJson(`${server.url}/v1/chat/completions`, {...chat, sfw_mode: false}, bearer(ROLEPLAY_KEY));
        assert.equal(plain.status, 200, JSON.stringify(plain.json));
        assert.equal(plain.json.choices[0].message.content, said, "unmasked without sfw_mode");
        const whole = await postJson(`${server.url}/v1/chat/completions`, {...chat, sfw_mode: true}, bearer(ROLEPLAY_KEY));
        assert.equal(whole.json.choices[0].message.content, expected);
        const pieces = await streamText("/v1/chat/completions", {...chat, sfw_mode: true}, (chunk) => chunk.choices[0]?.delta?.content);
        // The pieces partition the masked text: none of them can carry a letter of the term.
        assert.equal(pieces.join(""), expected);
        assert.ok(pieces.length > 5, `streamed in pieces (${pieces.length})`);
        const completion = {model: "qwen_base", prompt: "Once upon a time", max_tokens: 120, temperature: 0, grammar: chat.grammar, sfw_mode: true};
        const texts = await streamText("/v1/completions", completion, (chunk) => chunk.choices[0]?.text);
        assert.equal(texts.join(""), expected);
        assert.ok(texts.length > 5, `streamed in pieces (${texts.length})`);
    }
    const withLogprobs = await postJson(`${server.url}/v1/chat/completions`, {
        model: "qwen_instruct", messages: [{role: "user", content: "x"}], max_tokens: 2, sfw_mode: true, logprobs: true
    }, bearer(ROLEPLAY_KEY));
    assert.equal(withLogprobs.status, 400);
    assert.equal(withLogprobs.json.error.param, "logprobs");
});

test("frequency_penalty and presence_penalty change a seeded answer in the expected direction (fewer repeated tokens)", async () => {
    // The share of generated tokens that repeat an earlier one, on the really trained base model.
    const repeated = async (route: string, penalty: Record<string, number>, seed: number) => {
        const answer = await postJson(`${server.url}${route}`, {
            model: "qwen_base", messages: [{role: "user", content: "Once upon a time"}], max_tokens: 60, seed, temperature: 0.8,
            ignore_eos: true, logprobs: true, ...penalty
        }, bearer(ROLEPLAY_KEY));
        assert.equal(answer.status, 200, JSON.stringify(answer.json));
        const tokens = (answer.json.logprobs.content as Array<{token: string}>).map((entry) => entry.token);
        assert.equal(tokens.length, 60);
        return 1 - new Set(tokens).size / tokens.length;
    };
    const total = async (route: string, penalty: Record<string, number>) =>
        (await repeated(route, penalty, 1)) + (await repeated(route, penalty, 2));
    // Measured: 0.55+0.82 at -1, 0.22+0.32 at 0, 0.13+0.22 at 2 (the gaps dwarf CPU-kernel noise).
    const [negative, none, positive] = [await total("/generate", {frequency_penalty: -1}), await total("/generate", {}),
        await total("/generate", {frequency_penalty: 2})];
    assert.ok(negative > none && none > positive, `repeated share: ${negative} at -1, ${none} at 0, ${positive} at 2`);
    const presence = [await total("/chat", {presence_penalty: -1}), await total("/chat", {presence_penalty: 2})];
    assert.ok(presence[0] > presence[1], `repeated share with presence_penalty: ${presence[0]} at -1, ${presence[1]} at 2`);
});
