import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {apiError, user} from "../helpers/openaiMessages.js";

// Tool calling through the official `openai` client against the real engine and the synthetic
// Qwen-template model: its random weights never call a tool by themselves, so a forced call (named
// or required) is written by grammars, which is what makes it a real test: the call must come back
// valid JSON that validates against the function's schema, streamed and not.

let server: TestWorker;
let client: OpenAI;

before(async () => {
    // Tool descriptions make long prompts with the synthetic model's byte-level tokens.
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "2048"});
    client = new OpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0});
});
after(() => server.close());

const weatherSchema = {
    type: "object",
    properties: {
        city: {type: "string", minLength: 1, maxLength: 12},
        days: {type: "integer"},
        unit: {enum: ["C", "F"]}
    },
    required: ["city", "days", "unit"],
    additionalProperties: false
} as const;
const timeSchema = {type: "object", properties: {zone: {enum: ["UTC", "CET"]}}, required: ["zone"], additionalProperties: false} as const;

const tools: OpenAI.ChatCompletionTool[] = [
    {type: "function", function: {name: "get_weather", description: "The weather in a city", parameters: weatherSchema}},
    {type: "function", function: {name: "get_time", description: "The time in a zone", parameters: timeSchema}}
];

/** Checks arguments against the schema of the function called, keyword by keyword. */
function assertValidCall(call: OpenAI.ChatCompletionMessageToolCall, context: string): void {
    assert.equal(call.type, "function", context);
    assert.match(call.id, /^call_[A-Za-z0-9_-]{24}$/, context);
    const args = JSON.parse((call as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments) as Record<string, unknown>;
    const name = (call as OpenAI.ChatCompletionMessageFunctionToolCall).function.name;
    if (name === "get_weather") {
        assert.deepEqual(Object.keys(args).sort(), ["city", "days", "unit"], context);
        assert.ok(typeof args.city === "string" && args.city.length >= 1 && args.city.length <= 12, context);
        assert.ok(Number.isInteger(args.days), context);
        assert.ok(args.unit === "C" || args.unit === "F", context);
    } else {
        assert.equal(name, "get_time", context);
        assert.deepEqual(Object.keys(args), ["zone"], context);
        assert.ok(args.zone === "UTC" || args.zone === "CET", context);
    }
}

const ask = {model: "any", messages: [user("What is the weather in Paris?")], tools, max_tokens: 120, temperature: 1};

test("a named tool call comes back valid, in OpenAI's shape, across seeds, streamed and not", async () => {
    const named = {type: "function", function: {name: "get_weather"}} as const;
    for (const seed of [1, 2, 3]) {
        const answer = await client.chat.completions.create({...ask, tool_choice: named, seed});
        const [choice] = answer.choices;
        assert.equal(choice.finish_reason, "tool_calls", `seed ${seed}`);
        assert.equal(choice.message.content, null);
        assert.equal(choice.message.tool_calls?.length, 1);
        const call = choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
        assert.equal(call.function.name, "get_weather");
        assertValidCall(call, `seed ${seed}: ${call.function.arguments}`);
    }

    // Streamed: the client's stream helper assembles the pieces into the same kind of call.
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    const stream = client.chat.completions.stream({...ask, tool_choice: named, seed: 4});
    stream.on("chunk", (chunk) => chunks.push(chunk));
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    assertValidCall(final.choices[0].message.tool_calls![0], "streamed");
    const pieces = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    assert.equal(pieces[0].id, final.choices[0].message.tool_calls![0].id, "the first piece carries the id");
    assert.equal(pieces[0].type, "function");
    assert.equal(pieces[0].function?.name, "get_weather");
    assert.ok(pieces.length > 3, `the arguments come in pieces (${pieces.length})`);
    assert.ok(pieces.slice(1).every((piece) => piece.index === 0 && piece.id == null && piece.function?.name == null));
    assert.equal(chunks.filter((chunk) => chunk.choices[0]?.finish_reason === "tool_calls").length, 1);
});

test("a required call picks one of the tools and comes back valid, streamed and not", async () => {
    const names = new Set<string>();
    for (const seed of [1, 2, 3, 4]) {
        const answer = await client.chat.completions.create({...ask, tool_choice: "required", seed});
        assert.equal(answer.choices[0].finish_reason, "tool_calls");
        const call = answer.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
        names.add(call.function.name);
        assertValidCall(call, `seed ${seed}: ${call.function.arguments}`);
    }
    assert.ok(names.size >= 1);
    const final = await client.chat.completions.stream({...ask, tool_choice: "required", seed: 5}).finalChatCompletion();
    assertValidCall(final.choices[0].message.tool_calls![0], "streamed");

    // n choices each make their own call.
    const several = await client.chat.completions.create({...ask, tool_choice: "required", seed: 6, n: 2});
    assert.equal(several.choices.length, 2);
    for (const choice of several.choices) assertValidCall(choice.message.tool_calls![0], `choice ${choice.index}`);
});

test("auto reads calls out of the answer in the template's syntax; none and plain answers stay text", async () => {
    const call = (city: string) => `<tool_call>\\n{\\"name\\": \\"get_weather\\", \\"arguments\\": {\\"city\\": \\"${city}\\"}}\\n</tool_call>`;
    // A grammar makes the model write two calls, as a model trained for tools would.
    const grammar = `root ::= "${call("Rome")}\\n${call("Oslo")}"`;
    const both = await client.chat.completions.create({...ask, max_tokens: 400, tool_choice: "auto", grammar} as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(both.choices[0].finish_reason, "tool_calls");
    assert.deepEqual(both.choices[0].message.tool_calls!.map((item) =>
        JSON.parse((item as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments).city), ["Rome", "Oslo"]);
    const one = await client.chat.completions.create({...ask, max_tokens: 400, grammar, parallel_tool_calls: false} as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(one.choices[0].message.tool_calls!.length, 1, "parallel_tool_calls: false ends the turn after the first call");
    let streamed = "";
    for await (const chunk of await client.chat.completions.create({...ask, max_tokens: 400, grammar, stream: true} as OpenAI.ChatCompletionCreateParamsStreaming))
        streamed += chunk.choices[0]?.delta.content ?? "";
    assert.equal(streamed, "", "streamed, the call syntax never leaks into the content");

    const none = await client.chat.completions.create({...ask, max_tokens: 400, tool_choice: "none", grammar} as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(none.choices[0].message.tool_calls, undefined);
    assert.match(none.choices[0].message.content ?? "", /^<tool_call>/, "with none, what the model writes is its answer");
    const plain = await client.chat.completions.create({...ask, max_tokens: 8, seed: 1});
    assert.equal(plain.choices[0].finish_reason, "length");
    assert.ok((plain.choices[0].message.content ?? "").length > 0);
    assert.equal(plain.choices[0].message.tool_calls, undefined);
});

test("tool calls and tool results in the history are rendered through the model's template, client text as text", async () => {
    const history = (result: string) => [
        user("Weather in Paris?"),
        {role: "assistant", content: null, tool_calls: [{id: "call_1", type: "function", function: {name: "get_weather", arguments: "{\"city\": \"Paris\"}"}}]},
        {role: "tool", tool_call_id: "call_1", content: result}
    ];
    const {status, json} = await postJson(`${server.url}/apply-template`, {messages: history("{\"temp\": 21}"), tools});
    assert.equal(status, 200, JSON.stringify(json));
    const prompt = json.prompt as string;
    assert.match(prompt, /# Tools[\s\S]*<tools>\n\{"type": "function", "function": \{"name": "get_weather", "description": "The weather in a city"/);
    assert.ok(prompt.endsWith(
        "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n" +
        "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"), prompt.slice(-400));
    const spelled = await postJson(`${server.url}/apply-template`, {messages: history("<|im_end|>"), tools});
    const empty = await postJson(`${server.url}/apply-template`, {messages: history(""), tools});
    assert.ok(spelled.json.prompt_tokens - empty.json.prompt_tokens > 3, "a result spelling a special token is tokenized as text");

    const answer = await client.chat.completions.create({model: "any", messages: history("sunny") as never, tools, max_tokens: 4});
    assert.equal(answer.choices[0].finish_reason, "length");
    // The assistant turn that follows the results, then a new question, renders too.
    const longer = await client.chat.completions.create({
        model: "any", tools, max_tokens: 2,
        messages: [...history("sunny"), {role: "assistant", content: "It is sunny."}, user("And tomorrow?")] as never
    });
    assert.equal(longer.choices[0].finish_reason, "length");
});

test("what tools cannot do is refused with a 400 naming the field", async () => {
    const call = {id: "call_1", type: "function", function: {name: "get_weather", arguments: "{}"}};
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{messages: [user("x"), {role: "assistant", content: null, tool_calls: [call]}, user("y")]}, "messages[1].tool_calls", /unanswered: call_1/],
        [{messages: [user("x"), {role: "tool", tool_call_id: "call_9", content: "r"}]}, "messages[1].tool_call_id", /must name a call/],
        [{tool_choice: {type: "function", function: {name: "nope"}}}, "tool_choice", /not in tools/],
        [{tools: [{type: "custom", custom: {name: "c"}}]}, "tools[0]", /only function tools/],
        [{tools: [tools[0], tools[0]]}, "tools[1].function.name", /offered twice/],
        [{tool_choice: "required", tools: []}, "tool_choice", /needs tools/],
        [{logprobs: true}, "logprobs", /together with tools/],
        [{tool_choice: "required", response_format: {type: "json_object"}}, "tool_choice", /cannot be combined/],
        [{tool_choice: "required", ignore_eos: true}, "ignore_eos", /forced call/],
        [{tool_choice: {type: "allowed_tools", allowed_tools: {mode: "auto", tools: []}}}, "tool_choice", /only "none"/],
        [{tools: [{type: "function", function: {name: "f", parameters: {type: "object", properties: {s: {type: "array", uniqueItems: true}}}}}],
            tool_choice: "required"}, "tools[0].function.parameters", /properties\.s\.uniqueItems: uniqueItems: true: a grammar cannot compare/]
    ];
    for (const [patch, param, pattern] of cases) {
        const err = await apiError(client.chat.completions.create({...ask, max_tokens: 2, ...patch} as never));
        assert.equal(err.status, 400, JSON.stringify(patch));
        assert.equal(err.param, param, JSON.stringify(patch));
        assert.match(err.message, pattern, JSON.stringify(patch));
    }
});
