import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {zodFunction, zodResponseFormat, zodTextFormat} from "openai/helpers/zod";
import {z} from "zod";
import {parseSse, startTestWorker, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {apiError, user} from "../helpers/openaiMessages.js";
import {ZOD_CLIENT_CASES} from "../helpers/zodClientCases.js";

// What real clients send and expect (issue 25): conversations replayed from OpenAI, the
// fingerprint, how streams begin and end, through the official `openai` client (and raw SSE where
// the bytes matter) against a spawned worker and the real engine.

let server: TestWorker;
let client: OpenAI;

before(async () => {
    // Tool descriptions make long prompts with the synthetic model's byte-level tokens.
    server = await startTestWorker({MAX_TOKENS_LIMIT: "1600", CONTEXT_SIZE: "2048"});
    client = new OpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0});
});
after(() => server.close());

test("a conversation replayed from OpenAI, with its assistant messages' output-only fields, is answered as the bare one", async () => {
    // What OpenAI's own answers carry, as a client appends them to its history.
    const replayed = {
        role: "assistant", content: "Hi there.", refusal: null, annotations: [], audio: null, function_call: null,
        reasoning_content: "The user greets me."
    } as unknown as OpenAI.ChatCompletionAssistantMessageParam;
    const bare = {role: "assistant" as const, content: "Hi there."};
    const ask = (assistant: OpenAI.ChatCompletionMessageParam) => client.chat.completions.create({model: "m",
        messages: [user("Hello"), assistant, user("Tell me a story")], max_tokens: 8, temperature: 0
    });
    const withFields = await ask(replayed);
    const without = await ask(bare);
    assert.equal(withFields.choices[0].message.content, without.choices[0].message.content);
    assert.equal(withFields.usage?.prompt_tokens, without.usage?.prompt_tokens, "the fields add nothing to the prompt");

    // A refused answer replayed: its refusal text and annotations are accepted too.
    const refusedTurn = {role: "assistant", content: null, refusal: "I can't help with that.", annotations: [{type: "url_citation"}]} as
        unknown as OpenAI.ChatCompletionAssistantMessageParam;
    const answer = await ask(refusedTurn);
    assert.equal(answer.choices[0].finish_reason, "length");

    // The same fields on a user message, and unknown fields anywhere, stay a 400 naming them.
    const onUser = await apiError(client.chat.completions.create({model: "m", messages: [{...user("x"), annotations: []} as never], max_tokens: 2}));
    assert.equal(onUser.status, 400);
    assert.equal(onUser.param, "messages[0].annotations");
    const unknown = await apiError(client.chat.completions.create({model: "m", messages: [user("x"), {...bare, citations: []} as never, user("y")], max_tokens: 2}));
    assert.equal(unknown.status, 400);
    assert.match(unknown.message, /messages\[1\]\.citations/);
});

test("system_fingerprint: the loaded model's, on answers and chunks of both endpoints; same fingerprint and seed, same answer", async () => {
    const body = {model: "m", messages: [user("Once upon a time")], max_tokens: 8, seed: 11, temperature: 0.9};
    const first = await client.chat.completions.create(body);
    assert.match(first.system_fingerprint ?? "", /^fp_[0-9a-f]{12}$/);
    assert.equal(first.system_fingerprint, server.worker.engine.info().fingerprint);
    const again = await client.chat.completions.create(body);
    assert.equal(again.system_fingerprint, first.system_fingerprint);
    assert.equal(again.choices[0].message.content, first.choices[0].message.content);
    for await (const chunk of await client.chat.completions.create({...body, stream: true}))
        assert.equal(chunk.system_fingerprint, first.system_fingerprint);
    const completion = await client.completions.create({model: "m", prompt: "Once", max_tokens: 2});
    assert.equal(completion.system_fingerprint, first.system_fingerprint);
});

test("a streamed tool call's first chunk has the role and the call, and no chunk has empty content", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{type: "function", function: {name: "get_time",
        parameters: {type: "object", properties: {zone: {enum: ["UTC", "CET"]}}, required: ["zone"], additionalProperties: false}}}];
    const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({messages: [user("time?")], tools, tool_choice: {type: "function", function: {name: "get_time"}}, max_tokens: 120, stream: true})
    });
    const chunks = parseSse(await response.text()).map((event) => event.data).filter((data) => data !== "[DONE]").map((data) => JSON.parse(data));
    const deltas = chunks.map((chunk) => chunk.choices[0].delta);
    assert.equal(deltas[0].role, "assistant");
    assert.equal(deltas[0].content, null, "a call has no text to begin");
    assert.equal(deltas[0].tool_calls[0].function.name, "get_time");
    assert.ok(deltas.every((delta) => delta.content !== ""), JSON.stringify(deltas.slice(0, 3)));
    assert.equal(chunks.at(-1).choices[0].finish_reason, "tool_calls");
    // Text still opens as OpenAI's does: the role with empty content, then the text.
    const text = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({messages: [user("hi")], max_tokens: 3, stream: true})
    });
    const first = JSON.parse(parseSse(await text.text())[0].data);
    assert.deepEqual(first.choices[0].delta, {role: "assistant", content: ""});
});

test("a stream cut by a forced unload: no finish_reason, the error in OpenAI's shape, then [DONE]; the client raises it", async () => {
    const long = {messages: [user("keep going")], max_tokens: 1500, ignore_eos: true, stream: true};
    const raw = fetch(`${server.url}/v1/chat/completions`, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(long)});
    await until(() => server.worker.scheduler.running === 1, 10_000, "the generation to run");
    assert.equal((await postJson(`${server.url}/memory/unload`, {force: true})).status, 200);
    const events = parseSse(await (await raw).text()).map((event) => event.data);
    assert.equal(events.at(-1), "[DONE]");
    const error = JSON.parse(events.at(-2)!);
    assert.deepEqual(Object.keys(error), ["error"]);
    assert.equal(error.error.code, "model_unloaded");
    assert.equal(typeof error.error.message, "string");
    const reasons = events.slice(0, -2).map((data) => JSON.parse(data).choices[0]?.finish_reason ?? null);
    assert.ok(reasons.every((reason) => reason == null), `no finish_reason before the error: ${reasons.filter((reason) => reason != null)}`);

    // The official client: the chunks before, then the error raised.
    const stream = await client.chat.completions.create({model: "m", ...long} as OpenAI.ChatCompletionCreateParamsStreaming);
    const seen: Array<string | null> = [];
    // Settled at once (to the error or null), so the rejection is never unhandled while the test waits.
    const reading = (async () => {
        for await (const chunk of stream) seen.push(chunk.choices[0]?.finish_reason ?? null);
    })().then(() => null, (err: unknown) => err);
    await until(() => seen.length > 2, 10_000, "the client to read chunks");
    assert.equal((await postJson(`${server.url}/memory/unload`, {force: true})).status, 200);
    const raised = await reading;
    assert.ok(raised instanceof OpenAI.APIError, String(raised));
    assert.equal(raised.code, "model_unloaded");
    assert.ok(seen.every((reason) => reason == null));
});

/** The JSON Schema the `openai` package sends for a case its strict helpers refuse (see ZodClientCase.openAiStrict). */
const plainFormat = (schema: z.ZodObject) => ({name: "answer", schema: z.toJSONSchema(schema, {target: "draft-7"}), strict: false});

test("structured output with zod: chat.completions.parse with zodResponseFormat, every construct of issue 25", async (t) => {
    for (const [index, {name, schema, openAiStrict}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const body = {model: "m", messages: [user("JSON please")], seed: index, max_tokens: 500};
            const completion = openAiStrict === false ?
                await client.chat.completions.create({...body, response_format: {type: "json_schema", json_schema: plainFormat(schema)}}) :
                await client.chat.completions.parse({...body, response_format: zodResponseFormat(schema, "answer")});
            const message = completion.choices[0].message;
            assert.equal(completion.choices[0].finish_reason, "stop", message.content ?? "");
            const value = schema.parse(JSON.parse(message.content!));
            if (openAiStrict !== false)
                assert.deepEqual((message as {parsed?: unknown}).parsed, value);
        });
});

test("structured output with zod, streamed: chat.completions.stream's final message is parsed", async () => {
    const {schema} = ZOD_CLIENT_CASES.find((entry) => entry.name.startsWith("z.uuid"))!;
    const stream = client.chat.completions.stream({model: "m", messages: [user("JSON please")], max_tokens: 200, response_format: zodResponseFormat(schema, "answer")});
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].message.content, streamed);
    assert.deepEqual(final.choices[0].message.parsed, schema.parse(JSON.parse(streamed)));
});

test("structured output with zod through the Responses API: responses.parse with zodTextFormat, every construct", async (t) => {
    for (const [index, {name, schema, openAiStrict}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const body = {model: "m", input: "JSON please", max_output_tokens: 500, seed: index};
            const response = openAiStrict === false ?
                await client.responses.create({...body, text: {format: {type: "json_schema", ...plainFormat(schema)}}} as OpenAI.Responses.ResponseCreateParamsNonStreaming) :
                await client.responses.parse({...body, text: {format: zodTextFormat(schema, "answer")}} as Parameters<typeof client.responses.parse>[0]);
            assert.equal(response.status, "completed", response.output_text);
            const value = schema.parse(JSON.parse(response.output_text));
            if (openAiStrict !== false)
                assert.deepEqual((response as {output_parsed?: unknown}).output_parsed, value);
        });
});

test("tools with zod parameters: zodFunction, every construct; a forced call's arguments parse", async (t) => {
    for (const [index, {name, schema, openAiStrict}] of ZOD_CLIENT_CASES.entries())
        await t.test(name, async () => {
            const body = {model: "m", messages: [user("Call it")], seed: index, max_tokens: 500,
                tool_choice: {type: "function" as const, function: {name: "record_value"}}};
            const completion = openAiStrict === false ?
                await client.chat.completions.create({...body, tools: [{type: "function", function: {name: "record_value", parameters: z.toJSONSchema(schema, {target: "draft-7"})}}]}) :
                await client.chat.completions.parse({...body, tools: [zodFunction({name: "record_value", parameters: schema})]});
            const choice = completion.choices[0];
            assert.equal(choice.finish_reason, "tool_calls");
            const call = choice.message.tool_calls?.[0];
            assert.ok(call?.type === "function", JSON.stringify(choice.message));
            const value = schema.parse(JSON.parse(call.function.arguments));
            if (openAiStrict !== false)
                assert.deepEqual((call.function as {parsed_arguments?: unknown}).parsed_arguments, value);
        });
});

test("tools over two steps: runTools runs a zod tool; the assistant message pushed back as returned, with the tool's result, is answered", async () => {
    const {schema} = ZOD_CLIENT_CASES.find((entry) => entry.name.startsWith("z.string().regex"))!;
    const codes: string[] = [];
    const lookUp = zodFunction({name: "look_up", parameters: schema, function: ({code}) => {
        codes.push(String(code));
        return {found: true};
    }});
    const runner = client.chat.completions.runTools({
        model: "m", messages: [user("Look up the code")], max_tokens: 200, tools: [lookUp], tool_choice: {type: "function", function: {name: "look_up"}}
    });
    await runner.done();
    assert.equal(codes.length, 1);
    assert.match(codes[0], /^[A-Z]{3}-\d{4}$/);
    assert.deepEqual(runner.messages.map((message) => message.role), ["user", "assistant", "tool"]);

    // The hand-written loop of OpenAI's function-calling guide: the returned message is pushed as it is.
    const tools: OpenAI.ChatCompletionTool[] = [{type: "function", function: {name: "look_up", parameters: z.toJSONSchema(schema)}}];
    const messages: OpenAI.ChatCompletionMessageParam[] = [user("Look up the code")];
    const first = await client.chat.completions.create({model: "m", messages, tools, tool_choice: "required", max_tokens: 200});
    const call = first.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    messages.push(first.choices[0].message, {role: "tool", tool_call_id: call.id, content: JSON.stringify({found: true})});
    const second = await client.chat.completions.create({model: "m", messages, tools, tool_choice: "none", max_tokens: 6});
    assert.equal(second.choices[0].finish_reason, "length");
    assert.ok((second.choices[0].message.content ?? "").length > 0);
    assert.ok(second.usage!.prompt_tokens > first.usage!.prompt_tokens, "the call and its result are in the prompt");
});

test("responses.stream with zodTextFormat: the final response's parsed output validates", async () => {
    const {schema} = ZOD_CLIENT_CASES.find((entry) => entry.name === "z.iso.datetime()")!;
    const stream = client.responses.stream({model: "m", input: "JSON please", max_output_tokens: 200, text: {format: zodTextFormat(schema, "answer")}});
    let text = "";
    for await (const event of stream)
        if (event.type === "response.output_text.delta") text += event.delta;
    const final = await stream.finalResponse();
    assert.equal(final.output_text, text);
    assert.deepEqual(final.output_parsed, schema.parse(JSON.parse(text)));
});
