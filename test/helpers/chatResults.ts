import type {ChatResult, TokenLogprob} from "../../src/service/chatService.js";

/**
 * ChatResults and logprobs built by hand, for the adapters' unit tests: each field a test does
 * not set has a value no adapter would echo by accident.
 */
export function chatResult(fields: Partial<ChatResult> = {}): ChatResult {
    return {
        model: "fake",
        text: "Hello",
        finishReason: "stop",
        usage: {promptTokens: 11, completionTokens: 5, cachedTokens: 3},
        historyDropped: 0,
        prompt: {messages: [], text: "prompt", tokenCount: 11},
        queueSeconds: 0,
        generationSeconds: 0.123456,
        timeToFirstTokenSeconds: null,
        logprobs: null,
        toolCalls: [],
        interruption: null,
        ...fields
    };
}

/** A token's logprob entry with `top` alternatives (the token itself first), bytes as UTF-8. */
export function tokenLogprob(token: string, logprob: number, top: Array<[string, number]> = []): TokenLogprob {
    const bytes = (text: string) => [...Buffer.from(text, "utf8")];
    return {token, logprob, bytes: bytes(token), topLogprobs: top.map(([text, value]) => ({token: text, logprob: value, bytes: bytes(text)}))};
}
