import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {OpenAIEmbeddings} from "@langchain/openai";
import {embedMany} from "ai";
import {createOpenAICompatible} from "@ai-sdk/openai-compatible";
import {startTestWorker, testModelPath, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {fromBase64Vector} from "../../src/api/openai/embeddingEncoding.js";
import {EMBEDDING_FIELDS} from "../../src/api/openai/embeddingFields.js";
import {embeddingRequestSchema} from "../../src/api/openai/embeddingSchemas.js";

// POST /v1/embeddings (issue 25 item 3) against a spawned worker serving a chat model and an
// embedding model (the synthetic Qwen2 model, marked ?kind=embedding in MODELS), through the three
// clients application developers use: the `openai` package, LangChain's OpenAIEmbeddings and the
// AI SDK's embedMany over @ai-sdk/openai-compatible.

let server: TestWorker;
let client: OpenAI;
let size: number;

before(async () => {
    const model = await testModelPath();
    server = await startTestWorker({MODELS: `chat=${model},embed=${model}?kind=embedding,mrl=${model}?kind=embedding&matryoshka=true`, CONTEXT_SIZE: "256"});
    client = new OpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0});
    size = server.worker.models.resolve("embed").engine.info().embeddingSize!;
    assert.ok(size > 0, "the embedding model reports its vector size once loaded");
});
after(() => server?.close());

const norm = (vector: readonly number[]) => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
/** Float vectors and base64's float32 ones agree to float32 precision. */
function assertClose(actual: readonly number[], expected: readonly number[], message: string): void {
    assert.equal(actual.length, expected.length, message);
    const worst = Math.max(...actual.map((value, index) => Math.abs(value - expected[index])));
    assert.ok(worst < 1e-6, `${message}: differs by ${worst}`);
}

test("the openai client: one string, a batch of strings, float and base64, unit vectors, usage", async () => {
    const one = await client.embeddings.create({model: "embed", input: "a cat sat on the mat", encoding_format: "float"});
    assert.equal(one.object, "list");
    assert.equal(one.model, "embed");
    assert.equal(one.data.length, 1);
    assert.equal(one.data[0].embedding.length, size);
    assert.ok(Math.abs(norm(one.data[0].embedding) - 1) < 1e-9, "unit length");
    assert.ok(one.usage.prompt_tokens > 0);
    assert.equal(one.usage.total_tokens, one.usage.prompt_tokens);

    const batch = await client.embeddings.create({model: "embed", input: ["a cat sat on the mat", "a dog", "a cat sat on the mat"], encoding_format: "float"});
    assert.deepEqual(batch.data.map((item) => item.index), [0, 1, 2]);
    assert.deepEqual(batch.data[0].embedding, one.data[0].embedding, "identical input, identical vector (across requests)");
    assert.deepEqual(batch.data[2].embedding, batch.data[0].embedding, "identical input, identical vector (in one request)");
    assert.notDeepEqual(batch.data[1].embedding, batch.data[0].embedding, "different inputs differ");
    assert.ok(batch.usage.prompt_tokens > one.usage.prompt_tokens);

    // Raw base64 as it goes over the wire, then as the client decodes it (its default format).
    const raw = await postJson(`${server.url}/v1/embeddings`, {model: "embed", input: "a cat sat on the mat", encoding_format: "base64"});
    assert.equal(raw.status, 200, JSON.stringify(raw.json));
    assert.equal(typeof raw.json.data[0].embedding, "string");
    assertClose(fromBase64Vector(raw.json.data[0].embedding), one.data[0].embedding, "base64 decodes to the float vector");
    const decoded = await client.embeddings.create({model: "embed", input: "a cat sat on the mat"});
    assertClose(decoded.data[0].embedding, one.data[0].embedding, "the client's default (base64) decodes to the float vector");

    const native = await client.embeddings.create({model: "embed", input: "a cat", dimensions: size, encoding_format: "float"});
    assert.equal(native.data[0].embedding.length, size, "dimensions equal to the native size is accepted");
});

test("dimensions on a model marked matryoshka=true: the vector is cut, then scaled to unit length again", async () => {
    const full = (await client.embeddings.create({model: "mrl", input: "a cat sat on the mat", encoding_format: "float"})).data[0].embedding;
    const cut = (await client.embeddings.create({model: "mrl", input: "a cat sat on the mat", dimensions: 16, encoding_format: "float"})).data[0].embedding;
    assert.equal(cut.length, 16);
    assert.ok(Math.abs(norm(cut) - 1) < 1e-9, "unit length");
    const head = full.slice(0, 16);
    assertClose(cut, head.map((value) => value / norm(head)), "the first 16 components, rescaled");
    const above = await client.embeddings.create({model: "mrl", input: "a cat", dimensions: size + 1}).then(() => null, (err: unknown) => err);
    assert.ok(above instanceof OpenAI.BadRequestError);
    assert.equal(above.param, "dimensions");
});

test("token arrays: one array of ids, and several", async () => {
    const one = await client.embeddings.create({model: "embed", input: [10, 11, 12, 13], encoding_format: "float"});
    assert.equal(one.data.length, 1, "an array of numbers is one input");
    assert.equal(one.data[0].embedding.length, size);
    const several = await client.embeddings.create({model: "embed", input: [[10, 11, 12, 13], [20, 21]], encoding_format: "float"});
    assert.equal(several.data.length, 2);
    assert.deepEqual(several.data[0].embedding, one.data[0].embedding);
    assert.notDeepEqual(several.data[1].embedding, several.data[0].embedding);
});

test("concurrent requests are batched and get the vectors each would get alone", async () => {
    const texts = Array.from({length: 6}, (_, index) => `story number ${index}`);
    const alone: number[][] = [];
    for (const text of texts) alone.push((await client.embeddings.create({model: "embed", input: text, encoding_format: "float"})).data[0].embedding);
    const together = await Promise.all(texts.map((text) => client.embeddings.create({model: "embed", input: text, encoding_format: "float"})));
    together.forEach((answer, index) => assert.deepEqual(answer.data[0].embedding, alone[index], texts[index]));
});

test("LangChain's OpenAIEmbeddings: embedQuery and embedDocuments", async () => {
    const embeddings = new OpenAIEmbeddings({model: "embed", apiKey: "not-checked", configuration: {baseURL: `${server.url}/v1`}, maxRetries: 0});
    const query = await embeddings.embedQuery("a cat sat on the mat");
    assert.equal(query.length, size);
    const documents = await embeddings.embedDocuments(["a cat sat on the mat", "a dog"]);
    assert.equal(documents.length, 2);
    assertClose(documents[0], query, "the same text as query and as document");
    assert.notDeepEqual(documents[1], documents[0]);
    const reference = await client.embeddings.create({model: "embed", input: "a cat sat on the mat", encoding_format: "float"});
    assertClose(query, reference.data[0].embedding, "LangChain gets the openai client's vector");
});

test("the AI SDK's embedMany through @ai-sdk/openai-compatible", async () => {
    const provider = createOpenAICompatible({name: "worker", baseURL: `${server.url}/v1`, apiKey: "not-checked"});
    const result = await embedMany({model: provider.embeddingModel("embed"), values: ["a cat sat on the mat", "a dog", "a cat sat on the mat"], maxRetries: 0});
    assert.equal(result.embeddings.length, 3);
    assert.equal(result.embeddings[0].length, size);
    assert.deepEqual(result.embeddings[2], result.embeddings[0]);
    assert.notDeepEqual(result.embeddings[1], result.embeddings[0]);
    assert.ok(result.usage.tokens > 0);
});

test("errors: a chat model, dimensions the model cannot give, empty and too long inputs, unknown fields, and chat on the embedding model", async () => {
    const refusal = async (body: Record<string, unknown>) => {
        const error = await client.embeddings.create(body as never).then(() => null, (err: unknown) => err);
        assert.ok(error instanceof OpenAI.BadRequestError, `${JSON.stringify(body).slice(0, 80)}: ${String(error)}`);
        return error;
    };
    const chat = await refusal({model: "chat", input: "hi"});
    assert.equal(chat.code, "model_not_supported");
    assert.equal(chat.param, "model");
    assert.match(chat.message, /"chat" is a chat model/);
    const dimensions = await refusal({model: "embed", input: "hi", dimensions: 8});
    assert.equal(dimensions.param, "dimensions");
    assert.match(dimensions.message, new RegExp(`gives ${size} dimensions`));
    assert.equal((await refusal({model: "embed", input: ""})).param, "input");
    assert.equal((await refusal({model: "embed", input: []})).param, "input");
    assert.equal((await refusal({model: "embed", input: ["fine", ""]})).param, "input[1]");
    const long = await refusal({model: "embed", input: ["short", "word ".repeat(300)]});
    assert.equal(long.param, "input[1]");
    assert.match(long.message, /more than the \d+ the embedding model's context holds.*not truncated/);
    assert.equal((await refusal({model: "embed", input: [[1], [1_000_000]]})).param, "input[1]");
    const tooMany = await refusal({model: "embed", input: Array.from({length: 257}, () => "a")});
    assert.match(tooMany.param ?? "", /^input/, `EMBEDDING_MAX_INPUTS (256): ${tooMany.message}`);
    const unknown = await refusal({model: "embed", input: "hi", pooling: "mean"});
    assert.equal(unknown.param, "pooling");
    assert.equal((await refusal({model: "nope", input: "hi"})).code, "unknown_model");

    const chatOnEmbed = await client.chat.completions.create({model: "embed", messages: [{role: "user", content: "hi"}], max_tokens: 2})
        .then(() => null, (err: unknown) => err);
    assert.ok(chatOnEmbed instanceof OpenAI.BadRequestError);
    assert.equal(chatOnEmbed.code, "model_not_supported");
    assert.match(chatOnEmbed.message, /"embed" is an embedding model/);
    // The chat model still answers chat, and a request naming no model goes to it.
    const answer = await client.chat.completions.create({model: "chat", messages: [{role: "user", content: "hi"}], max_tokens: 2});
    assert.equal(answer.model, "chat");
    const native = await postJson(`${server.url}/chat`, {message: "hi", max_tokens: 2});
    assert.equal(native.status, 200, JSON.stringify(native.json));
    assert.equal(native.json.model_info.model_name, "chat");
});

test("GET /v1/models lists the embedding model; the compatibility table names the schema's fields", async () => {
    const models = await client.models.list();
    assert.deepEqual(models.data.map((model) => model.id), ["chat", "embed", "mrl"]);
    assert.deepEqual(Object.keys(EMBEDDING_FIELDS).sort(), Object.keys(embeddingRequestSchema({maxInputs: 1}).properties).sort());
});
