import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";

/**
 * Cache correctness: a worker with more conversations than sequences, reusing warm sequences and
 * spilling/restoring states, must answer exactly what a worker that evaluates every prompt from
 * scratch answers (greedy decoding, fixed seed).
 */

const SYSTEM = "You are a terse assistant in a cache correctness test.";
const CONVERSATIONS = 6;
const TURNS = 4;

let cached: TestWorker;
let fresh: TestWorker;
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-cache-test-"));

before(async () => {
    [cached, fresh] = [
        await startTestWorker({PARALLEL: "2", CONTEXT_SIZE: "2048", CONVERSATION_CACHE_DIR: stateDir, CONVERSATION_CACHE_MAX_BYTES: "200000000"}),
        await startTestWorker({PARALLEL: "2", CONTEXT_SIZE: "2048", CONVERSATION_CACHE: "false", CONVERSATION_CACHE_MAX_BYTES: "0"})
    ];
});
after(async () => {
    await cached?.close();
    await fresh?.close();
});

interface Turn {
    sender: "user" | "assistant";
    content: string;
}

function turnBody(conversation: number, turn: number, history: Turn[]) {
    return {
        message: `conversation ${conversation} turn ${turn}: ${"abcdefgh".repeat(conversation + 2)}`,
        system_prompt: SYSTEM,
        conversation_id: `conv-${conversation}`,
        conversation_history: history,
        max_tokens: 24,
        temperature: 0,
        seed: 7
    };
}

test("interleaved conversations, more than sequences, answer exactly as a worker without cache", async () => {
    const histories: Turn[][] = Array.from({length: CONVERSATIONS}, () => []);
    let cachedTokens = 0;
    for (let turn = 0; turn < TURNS; turn++) {
        // All conversations of a turn run concurrently, so they compete for the 2 sequences.
        const answers = await Promise.all(histories.map((history, conversation) =>
            postJson(`${cached.url}/chat`, turnBody(conversation, turn, history))));
        for (const [conversation, answer] of answers.entries()) {
            assert.equal(answer.status, 200, JSON.stringify(answer.json));
            const reference = await postJson(`${fresh.url}/chat`, turnBody(conversation, turn, histories[conversation]));
            assert.equal(reference.json.usage.cached_tokens, 0, "the reference evaluates everything");
            assert.equal(answer.json.response, reference.json.response, `conversation ${conversation} turn ${turn}`);
            cachedTokens += answer.json.usage.cached_tokens;
            histories[conversation].push(
                {sender: "user", content: turnBody(conversation, turn, []).message},
                {sender: "assistant", content: answer.json.response});
        }
    }
    assert.ok(cachedTokens > 1000, `the cache saved work (${cachedTokens} tokens)`);
    const stateFiles = fs.readdirSync(stateDir, {recursive: true}).filter((name) => String(name).endsWith(".state"));
    assert.ok(stateFiles.length > 0, "conversations were spilled to the conversation cache folder");
});

test("a continuing conversation on a warm sequence evaluates only its new turn (deterministic: the reply was evaluated again when it ended)", async () => {
    const nondeterministic = await startTestWorker({PARALLEL: "2", CONTEXT_SIZE: "2048", DETERMINISTIC: "false"});
    try {
        for (const worker of [cached, nondeterministic]) {
            const history: Turn[] = [];
            const first = await postJson(`${worker.url}/chat`, {...turnBody(0, 0, history), conversation_id: "warm"});
            history.push({sender: "user", content: turnBody(0, 0, []).message}, {sender: "assistant", content: first.json.response});
            const second = await postJson(`${worker.url}/chat`, {...turnBody(0, 1, history), conversation_id: "warm"});
            const newTokens = second.json.usage.prompt_tokens - second.json.usage.cached_tokens;
            // The whole first prompt and the reply are reused: deterministic mode evaluates the reply
            // again in prompt mode as soon as it ends (replySettle.ts), and the next turn waits for that.
            assert.ok(second.json.usage.cached_tokens >= first.json.usage.prompt_tokens + first.json.usage.completion_tokens / 2,
                JSON.stringify({first: first.json.usage, second: second.json.usage}));
            // The new user message is ~45 byte-level tokens, the template adds a few.
            assert.ok(newTokens < 70, `evaluated ${newTokens} tokens, expected fewer than 70`);
        }
    } finally {
        await nondeterministic.close();
    }
});

test("a state whose recorded tokens do not match its file is discarded, not used", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-cache-tamper-"));
    const worker = await startTestWorker({PARALLEL: "1", CONTEXT_SIZE: "2048", CONVERSATION_CACHE_DIR: dir});
    try {
        const a = await postJson(`${worker.url}/chat`, turnBody(1, 0, []));
        // Another conversation takes the only sequence: conversation 1 is spilled to disk.
        await postJson(`${worker.url}/chat`, turnBody(2, 0, []));
        // Sidecars sit in the model's identity folder (beside them, at the top, the model-hash cache).
        const sidecars = fs.readdirSync(dir, {recursive: true}).map(String).filter((name) => name.endsWith(".json") && name.includes(path.sep));
        assert.equal(sidecars.length, 1);
        const history: Turn[] = [{sender: "user", content: turnBody(1, 0, []).message}, {sender: "assistant", content: a.json.response}];
        // Swap the state file for conversation 2's (spilled next): the sidecar's tokens no longer match the file.
        await postJson(`${worker.url}/chat`, turnBody(3, 0, []));
        const files = fs.readdirSync(dir, {recursive: true}).map(String).filter((name) => name.endsWith(".state"));
        assert.equal(files.length, 2);
        const target = sidecars[0].replace(/\.json$/, ".state");
        const other = files.find((name) => name !== target)!;
        fs.copyFileSync(path.join(dir, other), path.join(dir, target));
        const answer = await postJson(`${worker.url}/chat`, turnBody(1, 1, history));
        const reference = await postJson(`${fresh.url}/chat`, turnBody(1, 1, history));
        assert.equal(answer.status, 200);
        assert.equal(answer.json.response, reference.json.response);
        assert.ok(!fs.existsSync(path.join(dir, target)), "the mismatching state was deleted");
    } finally {
        await worker.close();
    }
});

test("the conversation cache survives a restart and is used only for the same model", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-cache-restart-"));
    const history: Turn[] = [];
    const first = await startTestWorker({PARALLEL: "1", CONTEXT_SIZE: "2048", CONVERSATION_CACHE_DIR: dir});
    const a = await postJson(`${first.url}/chat`, turnBody(5, 0, history));
    await postJson(`${first.url}/chat`, turnBody(6, 0, [])); // spills conversation 5
    await first.close();
    history.push({sender: "user", content: turnBody(5, 0, []).message}, {sender: "assistant", content: a.json.response});

    const second = await startTestWorker({PARALLEL: "1", CONTEXT_SIZE: "2048", CONVERSATION_CACHE_DIR: dir});
    try {
        const b = await postJson(`${second.url}/chat`, turnBody(5, 1, history));
        const reference = await postJson(`${fresh.url}/chat`, turnBody(5, 1, history));
        assert.equal(b.json.response, reference.json.response);
        assert.ok(b.json.usage.cached_tokens >= a.json.usage.prompt_tokens,
            `served from the saved state: ${JSON.stringify(b.json.usage)}`);
    } finally {
        await second.close();
    }
});
