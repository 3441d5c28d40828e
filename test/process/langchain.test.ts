import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {ChatOpenAI} from "@langchain/openai";
import {AIMessage, HumanMessage, SystemMessage, ToolMessage, type AIMessageChunk} from "@langchain/core/messages";
import {tool} from "@langchain/core/tools";
import {z} from "zod";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {ZOD_CLIENT_CASES} from "../helpers/zodClientCases.js";

// LangChain's ChatOpenAI (issue 25) against a spawned worker, pointed at it through
// `configuration.baseURL` as its documentation shows for OpenAI-compatible servers.

let server: TestWorker;

before(async () => {
    // Tool descriptions make long prompts with the synthetic model's byte-level tokens.
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "2048"});
});
after(() => server?.close());

/**
 * @langchain/core 1.4.0 overflows its stack walking a getter-recursive zod schema
 * (interopZodTransformInputSchemaImpl) before anything is sent, so that case goes to LangChain as
 * the JSON Schema zod emits for it (LangChain takes either); its output is still checked with zod.
 */
const sendable = (name: string, schema: z.ZodObject) => name === "recursive (getter)" ? z.toJSONSchema(schema) : schema;

/** A ChatOpenAI on the worker; `seed` goes in modelKwargs, so every call of a test gives the same output on every run. */
const chat = (fields: {maxTokens: number; seed?: number; useResponsesApi?: boolean}) => new ChatOpenAI({
    model: "m", apiKey: "not-checked", configuration: {baseURL: `${server.url}/v1`}, maxRetries: 0,
    maxTokens: fields.maxTokens, useResponsesApi: fields.useResponsesApi, modelKwargs: {seed: fields.seed ?? 1}
});

test("invoke: the answer, its usage and finish reason", async () => {
    const answer = await chat({maxTokens: 8}).invoke([new SystemMessage("Be brief."), new HumanMessage("Once upon a time")]);
    assert.equal(typeof answer.content, "string");
    assert.ok((answer.content as string).length > 0);
    assert.equal(answer.response_metadata.finish_reason, "length");
    assert.equal(answer.usage_metadata?.output_tokens, 8);
    assert.ok((answer.usage_metadata?.input_tokens ?? 0) > 0);
});

test("stream: the chunks add up to what invoke answers, and the last carries the usage", async () => {
    const model = chat({maxTokens: 8});
    const messages = [new HumanMessage("Once upon a time")];
    let text = "";
    let last: AIMessageChunk | undefined;
    for await (const chunk of await model.stream(messages)) {
        text += chunk.content as string;
        last = last == null ? chunk : last.concat(chunk);
    }
    assert.equal(text, (await model.invoke(messages)).content);
    assert.equal(last?.usage_metadata?.output_tokens, 8);
});

test("withStructuredOutput(zod), JSON Schema method (response_format): every construct of issue 25", async (t) => {
    for (const [index, {name, schema}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const structured = chat({maxTokens: 500, seed: index}).withStructuredOutput(sendable(name, schema), {name: "answer", includeRaw: true});
            const {raw, parsed} = await structured.invoke("JSON please");
            assert.equal((raw.response_metadata as {finish_reason?: string}).finish_reason, "stop");
            assert.deepEqual(parsed, schema.parse(JSON.parse(raw.content as string)));
        });
});

test("withStructuredOutput(zod), function-calling method: every construct", async (t) => {
    for (const [index, {name, schema}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const structured = chat({maxTokens: 500, seed: index}).withStructuredOutput(sendable(name, schema), {name: "answer", method: "functionCalling"});
            const value = await structured.invoke("JSON please");
            assert.deepEqual(value, schema.parse(value));
        });
});

test("bindTools with zod tools: every construct as parameters; a forced call's args validate", async (t) => {
    for (const [index, {name, schema}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const recordValue = tool(async () => "ok", {name: "record_value", description: "Records a value", schema: sendable(name, schema)});
            const answer = await chat({maxTokens: 500, seed: index}).bindTools([recordValue], {tool_choice: "record_value"}).invoke("Call it");
            assert.equal(answer.tool_calls?.length, 1, JSON.stringify(answer.invalid_tool_calls));
            assert.equal(answer.tool_calls![0].name, "record_value");
            assert.deepEqual(answer.tool_calls![0].args, schema.parse(answer.tool_calls![0].args));
        });
});

test("tools over two steps: the AIMessage with its call and a ToolMessage replayed; the answer comes from them", async () => {
    const getTime = tool(async ({zone}) => `12:00 ${zone}`, {
        name: "get_time", description: "The time in a zone", schema: z.object({zone: z.enum(["UTC", "CET"])})
    });
    const model = chat({maxTokens: 120});
    const messages = [new HumanMessage("What time is it?")];
    const call = await model.bindTools([getTime], {tool_choice: "any"}).invoke(messages);
    assert.ok(call instanceof AIMessage);
    assert.equal(call.tool_calls?.length, 1);
    const result = await getTime.invoke(call.tool_calls![0]);
    assert.ok(result instanceof ToolMessage);
    assert.match(result.content as string, /^12:00 (UTC|CET)$/);
    const answer = await model.bindTools([getTime], {tool_choice: "none"}).invoke([...messages, call, result], {});
    assert.equal(answer.tool_calls?.length ?? 0, 0);
    assert.ok((answer.content as string).length > 0);
    assert.ok((answer.usage_metadata?.input_tokens ?? 0) > (call.usage_metadata?.input_tokens ?? 0), "the call and its result are in the prompt");
});

test("the Responses API (useResponsesApi): invoke, stream, withStructuredOutput(zod), tools over two steps", async () => {
    const model = chat({maxTokens: 8, useResponsesApi: true});
    const answer = await model.invoke("Once upon a time");
    assert.equal(answer.usage_metadata?.output_tokens, 8);
    let text = "";
    for await (const chunk of await model.stream("Once upon a time")) text += typeof chunk.content === "string" ? chunk.content : chunk.text;
    assert.equal(text, answer.text);
    const {schema} = ZOD_CLIENT_CASES.find((entry) => entry.name === "z.iso.datetime()")!;
    const value = await chat({maxTokens: 200, useResponsesApi: true}).withStructuredOutput(schema, {name: "answer"}).invoke("JSON please");
    assert.deepEqual(value, schema.parse(value));

    // Tools over two steps: LangChain replays the AIMessage as function_call items, the ToolMessage as their output.
    const getTime = tool(async ({zone}) => `12:00 ${zone}`, {
        name: "get_time", description: "The time in a zone", schema: z.object({zone: z.enum(["UTC", "CET"])})
    });
    const withTools = chat({maxTokens: 120, useResponsesApi: true});
    const messages = [new HumanMessage("What time is it?")];
    const call = await withTools.bindTools([getTime], {tool_choice: "get_time"}).invoke(messages);
    assert.equal(call.tool_calls?.length, 1);
    const result = await getTime.invoke(call.tool_calls![0]);
    const last = await withTools.bindTools([getTime], {tool_choice: "none"}).invoke([...messages, call, result]);
    assert.equal(last.tool_calls?.length ?? 0, 0);
    assert.ok(last.text.length > 0);
});

test("streamed tool calls (bindTools + stream) gather into one call; jsonMode structured output parses", async () => {
    const getTime = tool(async ({zone}) => `12:00 ${zone}`, {
        name: "get_time", description: "The time in a zone", schema: z.object({zone: z.enum(["UTC", "CET"])})
    });
    let gathered: AIMessageChunk | undefined;
    for await (const chunk of await chat({maxTokens: 120}).bindTools([getTime], {tool_choice: "get_time"}).stream("What time is it?"))
        gathered = gathered == null ? chunk : gathered.concat(chunk);
    assert.equal(gathered?.tool_calls?.length, 1, JSON.stringify(gathered?.tool_call_chunks));
    assert.ok(["UTC", "CET"].includes(gathered!.tool_calls![0].args.zone));

    const {schema} = ZOD_CLIENT_CASES.find((entry) => entry.name === "z.uuid()")!;
    const {raw} = await chat({maxTokens: 200}).withStructuredOutput(schema, {method: "jsonMode", includeRaw: true}).invoke("JSON please");
    assert.doesNotThrow(() => JSON.parse(raw.content as string), raw.content as string);
});
