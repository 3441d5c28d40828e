import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {OpenAI, OpenAIResponses} from "@llamaindex/openai";
import {FunctionTool} from "@llamaindex/core/tools";
import type {ChatMessage, ToolCallLLMMessageOptions} from "@llamaindex/core/llms";
import {z} from "zod";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {ZOD_CLIENT_CASES} from "../helpers/zodClientCases.js";

// LlamaIndex's OpenAI LLM (@llamaindex/openai, issue 25) against a spawned worker: chat, streaming,
// structured output (responseFormat) and tool calls, with the zod schemas an application writes.

let server: TestWorker;

before(async () => {
    // Tool descriptions make long prompts with the synthetic model's byte-level tokens.
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "2048"});
});
after(() => server?.close());

/**
 * An LLM on the worker; `seed` in additionalChatOptions makes every output the same on every run.
 * Temperature 1, not LlamaIndex's default 0.1: nearly greedy, the synthetic model repeats itself
 * under a record's or recursive schema's grammar until the token limit.
 */
const llm = (maxTokens: number, seed = 1) => new OpenAI({
    model: "m", apiKey: "not-checked", baseURL: `${server.url}/v1`, maxRetries: 0, maxTokens, temperature: 1, additionalChatOptions: {seed}
});

/** The tool calls of a message or chunk, if it has any. */
const toolCalls = (options: ToolCallLLMMessageOptions | undefined) => options != null && "toolCall" in options ? options.toolCall : undefined;

type Message = ChatMessage<ToolCallLLMMessageOptions>;
const user = (content: string): Message => ({role: "user", content});

test("chat: the answer, its usage and finish reason; baseURL or additionalSessionOptions.baseURL reach the worker alike", async () => {
    const answer = await llm(8).chat({messages: [{role: "system", content: "Be brief."}, user("Once upon a time")]});
    assert.equal(answer.message.role, "assistant");
    assert.ok(typeof answer.message.content === "string" && answer.message.content.length > 0);
    const raw = answer.raw as {choices: Array<{finish_reason: string}>; usage: {completion_tokens: number}};
    assert.equal(raw.choices[0].finish_reason, "length");
    assert.equal(raw.usage.completion_tokens, 8);

    const viaSession = new OpenAI({model: "m", apiKey: "not-checked", maxTokens: 8, temperature: 1, additionalChatOptions: {seed: 1},
        additionalSessionOptions: {baseURL: `${server.url}/v1`}});
    const again = await viaSession.chat({messages: [{role: "system", content: "Be brief."}, user("Once upon a time")]});
    assert.equal(again.message.content, answer.message.content);
    assert.equal((await llm(8).complete({prompt: "Once upon a time"})).text.length > 0, true);
});

test("chat with stream: the deltas add up to the answer chat gives", async () => {
    const messages = [user("Once upon a time")];
    let text = "";
    for await (const chunk of await llm(8).chat({messages, stream: true})) text += chunk.delta;
    assert.equal(text, (await llm(8).chat({messages})).message.content);
});

test("structured output: responseFormat with a zod schema, every construct of issue 25", async (t) => {
    for (const [index, {name, schema}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const answer = await llm(500, index).chat({messages: [user("JSON please")], responseFormat: schema});
            const raw = answer.raw as {choices: Array<{finish_reason: string}>};
            assert.equal(raw.choices[0].finish_reason, "stop");
            const value = JSON.parse(answer.message.content as string);
            assert.deepEqual(value, schema.parse(value));
        });
});

/** A tool whose parameters are `schema`, as LlamaIndex's documentation builds them (FunctionTool.from with zod). */
const recordTool = (schema: z.ZodObject, calls: unknown[] = []) => FunctionTool.from({
    name: "record_value", description: "Records a value", parameters: schema,
    execute: (input: unknown) => {
        calls.push(input);
        return "recorded";
    }
});

test("tools with zod parameters: every construct; a forced call's input validates", async (t) => {
    for (const [index, {name, schema}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const answer = await llm(500, index).chat({
                messages: [user("Call it")], tools: [recordTool(schema)],
                additionalChatOptions: {seed: index, tool_choice: {type: "function", function: {name: "record_value"}}}
            });
            const calls = toolCalls(answer.message.options);
            assert.equal(calls?.length, 1, JSON.stringify(answer.message));
            assert.equal(calls![0].name, "record_value");
            const input = JSON.parse(calls![0].input as string);
            assert.deepEqual(input, schema.parse(input));
        });
});

test("tools over two steps, streamed: the call streams, runs, and its result in the replayed messages is answered", async () => {
    const schema = z.object({zone: z.enum(["UTC", "CET"])});
    const calls: unknown[] = [];
    const getTime = recordTool(schema, calls);
    const messages: Message[] = [user("What time is it?")];
    let call: ReturnType<typeof toolCalls>;
    for await (const chunk of await llm(120).chat({messages, tools: [getTime], stream: true, additionalChatOptions: {seed: 1, tool_choice: "required"}}))
        call = toolCalls(chunk.options) ?? call;
    assert.equal(call?.length, 1);
    const input = call![0].input;
    assert.deepEqual(input, schema.parse(typeof input === "string" ? JSON.parse(input) : input));
    const result = await getTime.call(input as never);
    assert.equal(calls.length, 1);

    messages.push({role: "assistant", content: "", options: {toolCall: call!}},
        {role: "user", content: String(result), options: {toolResult: {id: call![0].id, result: String(result), isError: false}}});
    const answer = await llm(6).chat({messages, tools: [getTime], additionalChatOptions: {seed: 1, tool_choice: "none"}});
    assert.ok((answer.message.content as string).length > 0);
    assert.equal(toolCalls(answer.message.options), undefined);
});

test("OpenAIResponses (the Responses API): chat, streamed chat, and a forced tool call; its `reasoning: {}` and nulls are accepted", async () => {
    // `seed` (the worker's extension) is not in OpenAIResponsesChatOptions' type; LlamaIndex passes it on.
    const seed = {seed: 1} as object;
    const responses = (maxOutputTokens: number) => new OpenAIResponses({
        model: "m", apiKey: "not-checked", baseURL: `${server.url}/v1`, maxRetries: 0, maxOutputTokens, temperature: 1, additionalChatOptions: seed
    });
    const answer = await responses(8).chat({messages: [user("Once upon a time")]});
    assert.ok(typeof answer.message.content === "string" && answer.message.content.length > 0);
    const raw = answer.raw as {status: string; usage: {output_tokens: number}};
    assert.equal(raw.status, "incomplete");
    assert.equal(raw.usage.output_tokens, 8);
    let text = "";
    // @llamaindex/openai 0.4.23 repeats the last delta on every later event (output_text.done,
    // content_part.done, ...), whatever the server: only the text delta events carry new text.
    for await (const chunk of await responses(8).chat({messages: [user("Once upon a time")], stream: true}))
        if ((chunk.raw as {type?: string}).type === "response.output_text.delta") text += chunk.delta;
    assert.equal(text, answer.message.content);

    const schema = z.object({zone: z.enum(["UTC", "CET"]), at: z.iso.datetime()});
    const called = await responses(120).chat({
        messages: [user("What time is it?")], tools: [recordTool(schema)], additionalChatOptions: {...seed, tool_choice: "required"}
    });
    const calls = toolCalls(called.message.options);
    assert.equal(calls?.length, 1, JSON.stringify(called.message));
    const input = calls![0].input;
    const parsed = typeof input === "string" ? JSON.parse(input) : input;
    assert.deepEqual(parsed, schema.parse(parsed));
});
