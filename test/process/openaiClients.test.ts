import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {apiError, user} from "../helpers/openaiMessages.js";

// What real clients send and expect (issue 25): conversations replayed from OpenAI, through the
// official `openai` client against a spawned worker and the real engine.

let server: TestWorker;
let client: OpenAI;

before(async () => {
    server = await startTestWorker({MAX_TOKENS_LIMIT: "800"});
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
