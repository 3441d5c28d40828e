import assert from "node:assert/strict";
import {postJson} from "./http.js";

/**
 * Shared checks of the determinism guarantee (docs/determinism.md): the tokens of an answer, and
 * the logprob of each, depend only on the model, the rendered prompt, the sampling parameters and
 * the seed. They run against any worker URL, so the same checks cover in-process workers and
 * workers spawned on forced CPU kernels.
 */

export interface Sampling {
    name: string;
    temperature: number;
    /** A seed per request, so seeded sampling is checked, not just greedy decoding. */
    seed: (request: number) => number;
}

export const SAMPLINGS: readonly Sampling[] = [
    {name: "greedy", temperature: 0, seed: () => 7},
    {name: "seeded", temperature: 0.9, seed: (request) => 1000 + request}
];

export interface Answer {
    response: string;
    /** [token, logprob, top alternatives] per generated token. */
    logprobs: Array<[string, number, Array<[string, number]>]>;
    cachedTokens: number;
}

interface Turn {
    sender: "user" | "assistant";
    content: string;
}

export async function ask(url: string, body: Record<string, unknown>): Promise<Answer> {
    const answer = await postJson(`${url}/chat`, {logprobs: true, top_logprobs: 3, ...body});
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    const content = answer.json.logprobs.content as Array<{token: string; logprob: number; top_logprobs: Array<{token: string; logprob: number}>}>;
    assert.equal(content.length, answer.json.usage.completion_tokens, "one logprob entry per generated token");
    return {
        response: answer.json.response,
        logprobs: content.map((entry) => [entry.token, entry.logprob, entry.top_logprobs.map((top) => [top.token, top.logprob])]),
        cachedTokens: answer.json.usage.cached_tokens
    };
}

/** Asserts two answers are the same tokens with bit-identical logprobs; the message names where they part. */
export function assertSameAnswer(actual: Answer, expected: Answer, what: string): void {
    const first = actual.logprobs.findIndex((entry, index) => JSON.stringify(entry) !== JSON.stringify(expected.logprobs[index]));
    assert.ok(first === -1 && actual.logprobs.length === expected.logprobs.length && actual.response === expected.response,
        `${what}: the answers part at token ${first}: ${JSON.stringify(actual.logprobs[first])} vs ${JSON.stringify(expected.logprobs[first])}`);
}

const SYSTEM = "You are a terse assistant in a determinism test.";

function turnBody(conversation: number, turn: number, history: Turn[], sampling: Sampling, request: number) {
    return {
        message: `conversation ${conversation} turn ${turn}: ${"abcdefgh".repeat(conversation + 2)}`,
        system_prompt: SYSTEM,
        conversation_id: `conv-${sampling.name}-${conversation}`,
        conversation_history: history,
        max_tokens: 24,
        temperature: sampling.temperature,
        seed: sampling.seed(request)
    };
}

/**
 * More conversations than the cached worker has sequences, all turns of a round sent at once, so
 * prefixes come back warm, restored from spilled states, or not at all; every answer must equal the
 * one a worker without any cache gives to the same request sent alone.
 * Returns the prompt tokens the cache saved.
 */
export async function checkCacheEquivalence(
    cachedUrl: string, freshUrl: string, sampling: Sampling, conversations = 6, turns = 3
): Promise<number> {
    const histories: Turn[][] = Array.from({length: conversations}, () => []);
    let saved = 0;
    for (let turn = 0; turn < turns; turn++) {
        const bodies = histories.map((history, conversation) =>
            turnBody(conversation, turn, history, sampling, turn * conversations + conversation));
        const answers = await Promise.all(bodies.map((body) => ask(cachedUrl, body)));
        for (const [conversation, answer] of answers.entries()) {
            const reference = await ask(freshUrl, bodies[conversation]);
            assert.equal(reference.cachedTokens, 0, "the reference evaluates every prompt from scratch");
            assertSameAnswer(answer, reference, `${sampling.name}, conversation ${conversation}, turn ${turn}`);
            saved += answer.cachedTokens;
            histories[conversation].push({sender: "user", content: bodies[conversation].message}, {sender: "assistant", content: answer.response});
        }
    }
    return saved;
}

/**
 * Each of 8 requests of different lengths alone, then all 8 at once: every answer must be the same
 * tokens with the same logprobs (the target worker needs PARALLEL >= 8 to batch them all).
 */
export async function checkBatchInvariance(url: string, sampling: Sampling): Promise<void> {
    const bodies = Array.from({length: 8}, (_, index) => ({
        message: `request ${index}: ${"the quick brown fox ".repeat(1 + index * 3)}`,
        system_prompt: index % 2 === 0 ? SYSTEM : `${SYSTEM} ${"Be brief. ".repeat(index)}`,
        max_tokens: 12 + index * 4,
        temperature: sampling.temperature,
        seed: sampling.seed(index)
    }));
    const alone: Answer[] = [];
    for (const body of bodies)
        alone.push(await ask(url, body));
    const together = await Promise.all(bodies.map((body) => ask(url, body)));
    for (const [index, answer] of together.entries())
        assertSameAnswer(answer, alone[index], `${sampling.name}, request ${index} among 8 vs alone`);
}
