import {test, before, after, type TestContext} from "node:test";
import assert from "node:assert/strict";
import {generateObject, generateText, jsonSchema, Output, stepCountIs, streamObject, streamText, tool, type LanguageModel} from "ai";
import {createOpenAI} from "@ai-sdk/openai";
import {createOpenAICompatible} from "@ai-sdk/openai-compatible";
import {z} from "zod";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {ZOD_CLIENT_CASES} from "../helpers/zodClientCases.js";

// The Vercel AI SDK (issue 25) against a spawned worker: `createOpenAICompatible` speaks chat
// completions, the default OpenAI provider, `openai('model')`, speaks the Responses API, and
// `openai.chat('model')` speaks chat completions as OpenAI's own provider does. Every test runs
// through all three, with the zod schemas an application would write.

let server: TestWorker;
const providers: Array<{label: string; model: () => LanguageModel}> = [];

before(async () => {
    // Tool descriptions make long prompts with the synthetic model's byte-level tokens.
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "2048"});
    const compatible = createOpenAICompatible({
        name: "chat-worker", baseURL: `${server.url}/v1`, apiKey: "not-checked", supportsStructuredOutputs: true, includeUsage: true, fetch: seededFetch
    });
    const openai = createOpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", fetch: seededFetch});
    providers.push({label: "createOpenAICompatible (chat completions)", model: () => compatible("m")});
    providers.push({label: "createOpenAI default provider (Responses API)", model: () => openai("m")});
    providers.push({label: "createOpenAI(...).chat (chat completions)", model: () => openai.chat("m")});
});
after(() => server?.close());

/**
 * The AI SDK's OpenAI provider sends no `seed` to the Responses API (OpenAI's has none; the worker
 * takes one as an extension). Greedy sampling is no way out: under a record's or a recursive
 * schema's grammar it can repeat until the token limit. So the providers' fetch adds one fixed
 * seed to every request that has none, and each test's outputs are the same on every run.
 */
const seededFetch: typeof fetch = (input, init) => {
    if (typeof init?.body !== "string") return fetch(input, init);
    const body = JSON.parse(init.body);
    return fetch(input, {...init, body: JSON.stringify({seed: 1, ...body})});
};

const eachProvider = (name: string, body: (model: () => LanguageModel, t: TestContext) => Promise<void>) =>
    test(name, async (t) => {
        for (const {label, model} of providers)
            await t.test(label, (inner) => body(model, inner));
    });

eachProvider("generateText: text, usage, finish reason", async (model) => {
    const result = await generateText({model: model(), system: "Be brief.", prompt: "Once upon a time", maxOutputTokens: 8, temperature: 0});
    assert.ok(result.text.length > 0);
    assert.equal(result.finishReason, "length");
    assert.equal(result.usage.outputTokens, 8);
    assert.ok((result.usage.inputTokens ?? 0) > 0);
});

eachProvider("streamText: the streamed pieces make the text generateText gives", async (model) => {
    const body = {model: model(), prompt: "Once upon a time", maxOutputTokens: 8, temperature: 0};
    const streamed = streamText(body);
    let text = "";
    for await (const piece of streamed.textStream) text += piece;
    assert.equal(text, (await generateText(body)).text);
    assert.equal(await streamed.finishReason, "length");
    assert.equal((await streamed.usage).outputTokens, 8);
});

eachProvider("generateObject with zod: every construct of issue 25 validates", async (model, t) => {
    for (const {name, schema} of ZOD_CLIENT_CASES) await t.test(name, async () => {
        const result = await generateObject({model: model(), schema, prompt: "JSON please", maxOutputTokens: 500});
        assert.equal(result.finishReason, "stop", name);
        assert.deepEqual(result.object, schema.parse(result.object), name);
    });
});

eachProvider("generateText with Output.object, and streamObject: the object validates", async (model) => {
    const {schema} = ZOD_CLIENT_CASES.find((entry) => entry.name === "recursive (getter)")!;
    const result = await generateText({model: model(), output: Output.object({schema}), prompt: "JSON please", maxOutputTokens: 500});
    assert.deepEqual(result.output, schema.parse(JSON.parse(result.text)));

    const uuid = ZOD_CLIENT_CASES.find((entry) => entry.name === "z.uuid()")!.schema;
    const streamed = streamObject({model: model(), schema: uuid, prompt: "JSON please", maxOutputTokens: 200});
    let partials = 0;
    for await (const _partial of streamed.partialObjectStream) partials++;
    const object = await streamed.object;
    assert.ok(partials > 1, "the object arrives in pieces");
    assert.deepEqual(object, uuid.parse(object));
});

eachProvider("tools with zod input schemas: every construct; a forced call's input validates", async (model, t) => {
    for (const {name, schema} of ZOD_CLIENT_CASES) await t.test(name, async () => {
        const result = await generateText({
            model: model(), prompt: "Call it", maxOutputTokens: 500,
            tools: {record_value: tool({description: "Records a value", inputSchema: schema})}, toolChoice: {type: "tool", toolName: "record_value"}
        });
        assert.equal(result.finishReason, "tool-calls", name);
        assert.equal(result.toolCalls.length, 1, name);
        assert.deepEqual(result.toolCalls[0].input, schema.parse(result.toolCalls[0].input), name);
    });
});

eachProvider("tools over two steps: a forced call runs with zod-parsed input, and the next step answers from its result", async (model) => {
    const zones: string[] = [];
    const result = await generateText({
        model: model(), prompt: "What time is it?", maxOutputTokens: 60,
        tools: {
            get_time: tool({
                description: "The time in a zone",
                inputSchema: z.object({zone: z.enum(["UTC", "CET"]), at: z.iso.datetime()}),
                execute: async ({zone}) => {
                    zones.push(zone);
                    return `12:00 ${zone}`;
                }
            })
        },
        toolChoice: {type: "tool", toolName: "get_time"},
        prepareStep: ({stepNumber}) => stepNumber > 0 ? {toolChoice: "none"} : {},
        stopWhen: stepCountIs(2)
    });
    assert.equal(zones.length, 1);
    assert.equal(result.steps.length, 2);
    assert.equal(result.steps[0].toolResults[0].output, `12:00 ${zones[0]}`);
    assert.equal(result.steps[1].finishReason, "length");
    assert.ok(result.steps[1].text.length > 0);
    assert.ok((result.steps[1].usage.inputTokens ?? 0) > (result.steps[0].usage.inputTokens ?? 0), "the call and its result are in the second prompt");
});

eachProvider("streamText with a tool: the call streams, and a JSON Schema tool (jsonSchema()) works beside zod", async (model) => {
    const streamed = streamText({
        model: model(), prompt: "What time is it?", maxOutputTokens: 120,
        tools: {get_time: tool({inputSchema: jsonSchema<{zone: string}>({type: "object", properties: {zone: {enum: ["UTC", "CET"]}}, required: ["zone"], additionalProperties: false})})},
        toolChoice: "required"
    });
    const parts: string[] = [];
    for await (const part of streamed.fullStream) parts.push(part.type);
    const calls = await streamed.toolCalls;
    assert.equal(calls.length, 1);
    assert.ok(["UTC", "CET"].includes((calls[0].input as {zone: string}).zone));
    assert.ok(parts.includes("tool-input-delta"), parts.join(","));
    assert.equal(await streamed.finishReason, "tool-calls");
});

test("Responses API only: with store: false the next step replays the call items whole; previousResponseId continues a stored answer", async () => {
    const openai = createOpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", fetch: seededFetch});
    const result = await generateText({
        model: openai("m"), prompt: "What time is it?", maxOutputTokens: 60, providerOptions: {openai: {store: false}},
        tools: {get_time: tool({inputSchema: z.object({zone: z.enum(["UTC", "CET"])}), execute: async ({zone}) => `12:00 ${zone}`})},
        toolChoice: {type: "tool", toolName: "get_time"},
        prepareStep: ({stepNumber}) => stepNumber > 0 ? {toolChoice: "none"} : {},
        stopWhen: stepCountIs(2)
    });
    assert.deepEqual(result.steps.map((step) => step.finishReason), ["tool-calls", "length"]);

    const first = await generateText({model: openai("m"), prompt: `A story: ${"once upon a time ".repeat(4)}`, maxOutputTokens: 4});
    const responseId = first.providerMetadata?.openai?.responseId;
    assert.match(String(responseId), /^resp_/);
    const next = await generateText({model: openai("m"), prompt: "Go on", maxOutputTokens: 4, providerOptions: {openai: {previousResponseId: String(responseId)}}});
    assert.ok((next.usage.inputTokens ?? 0) > (first.usage.inputTokens ?? 0), "the earlier turn is in the prompt");
    assert.ok((next.usage.cachedInputTokens ?? 0) > 0, `resumed from the cache: ${JSON.stringify(next.usage)}`);
});
