import {test} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {startUpstreamWorker} from "../helpers/testWorker.js";
import {FAKE_MODEL, json, openStream, startFakeUpstream} from "../helpers/fakeUpstream.js";
import {user} from "../helpers/openaiMessages.js";

// ENGINE=openai against fake upstreams (no model): what the front forwards of tools, penalties,
// logit bias and raw prompts, how it reads an upstream's streamed tool calls, and the client's
// retries on a 503 passed on from the upstream.

function sse(res: import("node:http").ServerResponse, events: unknown[]): void {
    openStream(res);
    for (const event of events) res.write(`data: ${JSON.stringify(event)}\n\n`);
    res.end("data: [DONE]\n\n");
}

const delta = (value: unknown, finish: string | null = null) =>
    ({id: "c", object: "chat.completion.chunk", created: 0, model: FAKE_MODEL, choices: [{index: 0, delta: value, finish_reason: finish}]});

test("tools, tool history, penalties and logit bias are forwarded; the upstream's tool call pieces come back as ours", async () => {
    const fake = await startFakeUpstream();
    const front = await startUpstreamWorker(fake.baseUrl);
    try {
        fake.on("POST /v1/chat/completions", (_req, res) => sse(res, [
            delta({role: "assistant", content: null, tool_calls: [{index: 0, id: "call_up", type: "function", function: {name: "pick", arguments: ""}}]}),
            delta({tool_calls: [{index: 0, function: {arguments: "{\"color\": "}}]}),
            delta({tool_calls: [{index: 0, function: {arguments: "\"red\"}"}}]}),
            delta({}, "tool_calls"),
            {id: "c", object: "chat.completion.chunk", created: 0, model: FAKE_MODEL, choices: [], usage: {prompt_tokens: 9, completion_tokens: 4, total_tokens: 13}}
        ]));
        const client = new OpenAI({baseURL: `${front.url}/v1`, apiKey: "x", maxRetries: 0});
        const tools: OpenAI.ChatCompletionTool[] = [{type: "function", function: {name: "pick", parameters: {type: "object"}}}];
        const messages = [
            user("pick"),
            {role: "assistant", content: null, tool_calls: [{id: "call_1", type: "function", function: {name: "pick", arguments: "{}"}}]},
            {role: "tool", tool_call_id: "call_1", content: "done"}
        ] as OpenAI.ChatCompletionMessageParam[];
        const answer = await client.chat.completions.create({
            model: "m", messages, tools, tool_choice: "required", parallel_tool_calls: false, max_tokens: 9,
            frequency_penalty: 0.5, presence_penalty: -0.5, logit_bias: {"17": -100}
        });
        assert.equal(answer.choices[0].finish_reason, "tool_calls");
        assert.deepEqual(answer.choices[0].message.tool_calls, [{id: "call_up", type: "function", function: {name: "pick", arguments: "{\"color\": \"red\"}"}}]);
        const sent = fake.requests.find((request) => request.path === "/v1/chat/completions")!.body;
        assert.deepEqual(sent.tools, [{type: "function", function: {name: "pick", parameters: {type: "object"}}}]);
        assert.equal(sent.tool_choice, "required");
        assert.equal(sent.parallel_tool_calls, false);
        assert.deepEqual(sent.messages, [
            {role: "user", content: "pick"},
            {role: "assistant", content: null, tool_calls: [{id: "call_1", type: "function", function: {name: "pick", arguments: "{}"}}]},
            {role: "tool", tool_call_id: "call_1", content: "done"}
        ]);
        assert.equal(sent.frequency_penalty, 0.5);
        assert.equal(sent.presence_penalty, -0.5);
        assert.deepEqual(sent.logit_bias, {"17": -100});

        // A raw prompt goes to the upstream's /completions.
        fake.on("POST /v1/completions", (_req, res) => sse(res, [
            {id: "t", object: "text_completion", created: 0, model: FAKE_MODEL, choices: [{index: 0, text: " there", finish_reason: null}]},
            {id: "t", object: "text_completion", created: 0, model: FAKE_MODEL, choices: [{index: 0, text: "", finish_reason: "length"}]}
        ]));
        const text = await client.completions.create({model: "m", prompt: "Hello", max_tokens: 2, seed: 4});
        assert.equal(text.choices[0].text, " there");
        assert.equal(text.choices[0].finish_reason, "length");
        const raw = fake.requests.find((request) => request.path === "/v1/completions")!.body;
        assert.equal(raw.prompt, "Hello");
        assert.equal(raw.messages, undefined);
        assert.equal(raw.seed, 4);
    } finally {
        await front.close();
        await fake.close();
    }
});

test("the client's own retries work on a 503 the front passes on, with Retry-After and retry-after-ms", async () => {
    const fake = await startFakeUpstream();
    const front = await startUpstreamWorker(fake.baseUrl);
    try {
        let calls = 0;
        fake.on("POST /v1/chat/completions", (_req, res) => {
            if (++calls === 1)
                json(res, 503, {error: {message: "warming up", type: "server_error"}}, {"retry-after": "1"});
            else
                sse(res, [delta({content: "ok"}), delta({}, "stop")]);
        });
        const statuses: Array<[number, string | null]> = [];
        const client = new OpenAI({
            baseURL: `${front.url}/v1`, apiKey: "x", maxRetries: 1,
            fetch: async (url, init) => {
                const response = await fetch(url, init);
                statuses.push([response.status, response.headers.get("retry-after-ms")]);
                return response;
            }
        });
        const answer = await client.chat.completions.create({model: "m", messages: [user("hi")], max_tokens: 2});
        assert.equal(answer.choices[0].message.content, "ok");
        assert.deepEqual(statuses, [[503, "1000"], [200, null]]);
    } finally {
        await front.close();
        await fake.close();
    }
});
