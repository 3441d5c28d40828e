import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {parseSse, startTestWorker, until, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {apiError} from "../helpers/openaiMessages.js";
import {RESPONSES_FIELDS} from "../../src/api/responses/responsesFields.js";
import {responsesRequestSchema} from "../../src/api/responses/responsesSchemas.js";

// OpenAI's Responses API (POST /v1/responses), driven by the official `openai` client
// (`responses.create` and `responses.stream`) against a spawned worker and the real engine.

let server: TestWorker;
let client: OpenAI;

before(async () => {
    // Tool descriptions make long prompts with the synthetic model's byte-level tokens.
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "2048"});
    client = new OpenAI({baseURL: `${server.url}/v1`, apiKey: "not-checked", maxRetries: 0});
});
after(() => server.close());

const timeTool: OpenAI.Responses.FunctionTool = {
    type: "function", name: "get_time", description: "The time in a zone", strict: true,
    parameters: {type: "object", properties: {zone: {enum: ["UTC", "CET"]}}, required: ["zone"], additionalProperties: false}
};

test("the compatibility table names exactly the fields the request schema knows", () => {
    const limits = {maxTokensLimit: 1, maxStopSequences: 1, maxHistoryMessages: 1};
    assert.deepEqual(Object.keys(RESPONSES_FIELDS).sort(), Object.keys(responsesRequestSchema(limits).properties).sort());
});

test("responses.create: instructions and input give the answer chat completions gives, in the Response shape", async () => {
    const response = await client.responses.create({
        model: "m", instructions: "You are terse.", input: "Once upon a time", max_output_tokens: 8, temperature: 0, metadata: {team: "a"}
    });
    assert.match(response.id, /^resp_[0-9a-f]{32}$/);
    assert.equal(response.object, "response");
    assert.equal(response.model, server.worker.engine.info().modelName);
    assert.equal(response.status, "incomplete");
    assert.deepEqual(response.incomplete_details, {reason: "max_output_tokens"});
    assert.deepEqual(response.metadata, {team: "a"});
    assert.equal(response.output.length, 1);
    const message = response.output[0] as OpenAI.Responses.ResponseOutputMessage;
    assert.equal(message.type, "message");
    assert.match(message.id, /^msg_/);
    assert.equal(message.content[0].type, "output_text");
    assert.equal(response.usage?.output_tokens, 8);
    assert.equal(response.usage?.total_tokens, response.usage!.input_tokens + 8);

    const chat = await client.chat.completions.create({
        model: "m", messages: [{role: "system", content: "You are terse."}, {role: "user", content: "Once upon a time"}], max_tokens: 8, temperature: 0
    });
    assert.equal(response.output_text, chat.choices[0].message.content, "one pipeline: the same answer");
    assert.equal(response.usage?.input_tokens, chat.usage?.prompt_tokens);

    // Input items: messages with parts, and an earlier answer replayed as OpenAI returned it.
    const items = await client.responses.create({
        model: "m", max_output_tokens: 8, temperature: 0, input: [
            {role: "developer", content: "You are terse."},
            {role: "user", content: [{type: "input_text", text: "Once upon a time"}]},
            {type: "message", role: "assistant", id: "msg_1", status: "completed",
                content: [{type: "output_text", text: "there was a cat.", annotations: []}]} as never,
            {role: "user", content: "Go on"}
        ]
    });
    assert.equal(items.output[0].type, "message");
});

test("responses.stream: OpenAI's event sequence, deltas that add up to the final text, and sequence numbers in order", async () => {
    const stream = client.responses.stream({model: "m", input: "Once upon a time", max_output_tokens: 6, seed: 3} as {model: string});
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();
    const types = events.map((event) => event.type);
    const deltas = events.filter((event) => event.type === "response.output_text.delta");
    assert.deepEqual(types, [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        ...deltas.map(() => "response.output_text.delta"),
        "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"
    ]);
    assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, index) => index));
    const text = deltas.map((event) => (event as OpenAI.Responses.ResponseTextDeltaEvent).delta).join("");
    assert.equal(final.output_text, text);
    const created = events[0] as OpenAI.Responses.ResponseCreatedEvent;
    assert.equal(created.response.id, final.id);
    assert.equal(created.response.status, "in_progress");
    assert.equal(final.usage?.output_tokens, 6);
    // `seed` is our extension: the client's types do not know it.
    const again = await client.responses.create({model: "m", input: "Once upon a time", max_output_tokens: 6, seed: 3} as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.equal(again.output_text, text, "streamed or not, the same seed gives the same answer");
});

test("a forced function call, streamed and not; its output in a follow-up (previous_response_id) resumes the cached sequence", async () => {
    const ask: OpenAI.Responses.ResponseCreateParamsNonStreaming = {
        model: "m", input: "What time is it?", tools: [timeTool], tool_choice: {type: "function", name: "get_time"}, max_output_tokens: 120
    };
    const called = await client.responses.create(ask);
    assert.equal(called.status, "completed");
    const call = called.output.find((item) => item.type === "function_call") as OpenAI.Responses.ResponseFunctionToolCall;
    assert.ok(call != null, JSON.stringify(called.output));
    assert.equal(call.name, "get_time");
    assert.match(call.call_id, /^call_/);
    assert.ok(["UTC", "CET"].includes(JSON.parse(call.arguments).zone), call.arguments);

    const follow = await client.responses.create({
        model: "m", previous_response_id: called.id, tools: [timeTool], max_output_tokens: 8,
        input: [{type: "function_call_output", call_id: call.call_id, output: "12:00"}]
    });
    assert.equal(follow.previous_response_id, called.id);
    assert.equal(follow.output[0].type, "message");
    assert.ok((follow.usage?.input_tokens_details.cached_tokens ?? 0) > 0,
        `the follow-up pays only for its new tokens: ${JSON.stringify(follow.usage)}`);
    assert.ok(follow.usage!.input_tokens > called.usage!.input_tokens);
    assert.equal((await client.responses.retrieve(follow.id)).id, follow.id, "stored responses can be read back");
    // As the AI SDK replays a stored conversation: the whole input, with the earlier answer's items as references.
    const replayed = await client.responses.create({
        model: "m", tools: [timeTool], max_output_tokens: 8, input: [
            {role: "user", content: "What time is it?"}, {type: "item_reference", id: call.id!},
            {type: "function_call_output", call_id: call.call_id, output: "12:00"}
        ]
    });
    assert.equal(replayed.usage?.input_tokens, follow.usage?.input_tokens, "the same conversation as the previous_response_id follow-up");

    const stream = client.responses.stream({...ask, stream: undefined});
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((event) => event.type).filter((type) => type !== "response.function_call_arguments.delta");
    assert.deepEqual(types, ["response.created", "response.in_progress", "response.output_item.added",
        "response.function_call_arguments.done", "response.output_item.done", "response.completed"]);
    const pieces = events.filter((event) => event.type === "response.function_call_arguments.delta")
        .map((event) => (event as OpenAI.Responses.ResponseFunctionCallArgumentsDeltaEvent).delta);
    const done = events.find((event) => event.type === "response.function_call_arguments.done") as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
    assert.ok(pieces.length > 0);
    assert.equal(pieces.join(""), done.arguments);
    assert.equal(done.name, "get_time");
    const final = await stream.finalResponse();
    assert.equal((final.output[0] as OpenAI.Responses.ResponseFunctionToolCall).arguments, done.arguments);
});

test("a plain follow-up through previous_response_id is evaluated from the cache; without store there is nothing to follow", async () => {
    const first = await client.responses.create({model: "m", input: `A story: ${"once upon a time ".repeat(10)}`, max_output_tokens: 4});
    const next = await client.responses.create({model: "m", previous_response_id: first.id, input: "Go on", max_output_tokens: 4});
    assert.ok(next.usage!.input_tokens_details.cached_tokens >= first.usage!.input_tokens - 2,
        `cached ${next.usage!.input_tokens_details.cached_tokens} of the earlier ${first.usage!.input_tokens}`);
    const unstored = await client.responses.create({model: "m", input: "x", max_output_tokens: 2, store: false});
    const missing = await apiError(client.responses.create({model: "m", previous_response_id: unstored.id, input: "y"}));
    assert.equal(missing.status, 404);
    assert.equal(missing.param, "previous_response_id");
});

test("text.format json_schema: the output parses and has the schema's shape", async () => {
    const schema = {type: "object", properties: {n: {type: "integer"}, ok: {type: "boolean"}}, required: ["n", "ok"], additionalProperties: false};
    for (const seed of [1, 2]) {
        const response = await client.responses.create({
            model: "m", input: "JSON please", seed, max_output_tokens: 200, text: {format: {type: "json_schema", name: "answer", schema, strict: true}}
        } as never) as OpenAI.Responses.Response;
        const value = JSON.parse(response.output_text);
        assert.deepEqual(Object.keys(value).sort(), ["n", "ok"]);
        assert.ok(Number.isInteger(value.n) && typeof value.ok === "boolean");
    }
});

test("what the worker cannot honour is a 400 naming the field; unknown fields as OpenAI refuses them", async () => {
    for (const [patch, param, code] of [
        [{reasoning: {effort: "low"}}, "reasoning", "unsupported_parameter"],
        [{truncation: "disabled"}, "truncation", "unsupported_parameter"],
        [{tools: [{type: "web_search"}]}, "tools[0].type", "unsupported_parameter"],
        [{input: [{role: "user", content: [{type: "input_image", image_url: "https://x/y.png"}]}]}, "input[0].content[0]", "unsupported_parameter"],
        [{input: [{type: "function_call_output", call_id: "nope", output: "x"}]}, "input[0].call_id", "invalid_request"],
        [{input: [{type: "function_call", call_id: "c1", name: "f", arguments: "{}"}]}, "input[0]", "invalid_request"],
        [{text: {verbosity: "low"}}, "text.verbosity", "unsupported_parameter"],
        [{future_field: 1}, "future_field", "unknown_parameter"],
        [{input: [{role: "user", content: "x", foo: 1}]}, "input[0].foo", "unknown_parameter"]
    ] as const) {
        const err = await apiError(client.responses.create({model: "m", input: "x", max_output_tokens: 2, ...patch} as never));
        assert.equal(err.status, 400, JSON.stringify(patch));
        assert.equal(err.param, param, JSON.stringify(patch));
        assert.equal(err.code, code, JSON.stringify(patch));
    }
    // Values of refused rows that ask for nothing new pass.
    const fine = await client.responses.create({model: "m", input: "x", max_output_tokens: 2, truncation: "auto", include: [], background: false});
    assert.equal(fine.status, "incomplete");
    // As LlamaIndex's OpenAIResponses sends every request: an empty `reasoning` and nulls.
    const empty = await client.responses.create({model: "m", input: "x", max_output_tokens: 2, reasoning: {}, include: null, truncation: null});
    assert.equal(empty.status, "incomplete");
    assert.equal((await client.responses.create({model: "m", input: "x", max_output_tokens: 2, reasoning: {effort: null}})).status, "incomplete");
});

test("a stream cut by a forced unload ends with an error event, never response.completed", async () => {
    const answer = fetch(`${server.url}/v1/responses`, {
        method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({input: "keep going", max_output_tokens: 700, stream: true})
    });
    await until(() => server.worker.scheduler.running === 1, 10_000, "the generation to run");
    assert.equal((await postJson(`${server.url}/memory/unload`, {force: true})).status, 200);
    const events = parseSse(await (await answer).text());
    const last = events.at(-1)!;
    assert.equal(last.event, "error");
    const error = JSON.parse(last.data);
    assert.equal(error.type, "error");
    assert.equal(error.code, "model_unloaded");
    assert.equal(error.sequence_number, events.length - 1);
    assert.ok(!events.some((event) => event.event === "response.completed" || event.event === "response.incomplete"));
});
