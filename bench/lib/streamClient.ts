/** Streaming clients for the two servers, timing each token as it arrives. */

export interface Sampling {
    temperature: number;
    topK: number;
    topP: number;
    minP: number;
    repeatPenalty: number;
    seed: number;
}

export interface Message {
    role: "system" | "user" | "assistant";
    content: string;
}

export interface StreamTiming {
    /** Request sent -> first token, seconds. */
    ttft: number;
    /** Arrival time (ms, performance.now) of every token chunk. */
    chunkTimes: number[];
    started: number;
    ended: number;
    text: string;
    /** Completion tokens as the server counted them (our `usage`, the peer's `timings.predicted_n`). */
    tokens: number;
    /** Prompt tokens the server evaluated for this request (our prompt minus cached; the peer's `timings.prompt_n`). */
    promptEvaluated: number | null;
    /** Server-side milliseconds per generated token (the peer's `predicted_per_token_ms`); null for ours, which does not report one. */
    serverMsPerToken: number | null;
}

export type Protocol = "chat-worker" | "llama-server";

/** Sends one chat turn as a stream and times it. Both servers get the same messages and sampling. */
export async function streamChat(protocol: Protocol, baseUrl: string, messages: Message[], maxTokens: number, sampling: Sampling, extra: Record<string, unknown> = {}): Promise<StreamTiming> {
    const started = performance.now();
    const system = messages.find((message) => message.role === "system")?.content;
    const rest = messages.filter((message) => message.role !== "system");
    const last = rest.at(-1)!;
    const body = protocol === "chat-worker"
        ? {
            message: last.content, system_prompt: system,
            conversation_history: rest.slice(0, -1).map((message) => ({sender: message.role, content: message.content})),
            max_tokens: maxTokens, temperature: sampling.temperature, top_k: sampling.topK, top_p: sampling.topP,
            min_p: sampling.minP, repetition_penalty: sampling.repeatPenalty, seed: sampling.seed, ignore_eos: true,
            stream: true, ...extra
        }
        : {
            messages, max_tokens: maxTokens, temperature: sampling.temperature, top_k: sampling.topK, top_p: sampling.topP,
            min_p: sampling.minP, repeat_penalty: sampling.repeatPenalty, repeat_last_n: 64, seed: sampling.seed,
            ignore_eos: true, stream: true, ...extra
        };
    const url = protocol === "chat-worker" ? `${baseUrl}/chat` : `${baseUrl}/v1/chat/completions`;
    const response = await fetch(url, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
    if (!response.ok || response.body == null)
        throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
    const chunkTimes: number[] = [];
    let text = "";
    let tokens: number | null = null;
    let promptEvaluated: number | null = null;
    let serverMsPerToken: number | null = null;
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const bytes of response.body) {
        buffer += decoder.decode(bytes as Uint8Array, {stream: true});
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("");
            if (data === "" || data === "[DONE]") continue;
            const event = block.match(/^event: (.*)$/m)?.[1] ?? null;
            const parsed = JSON.parse(data) as Record<string, any>;
            let piece: string | undefined;
            if (protocol === "chat-worker") {
                if (event === "error") throw new Error(`stream error: ${data}`);
                if (event === "token") piece = parsed.text as string;
                if (event === "done") {
                    tokens = parsed.usage.completion_tokens as number;
                    promptEvaluated = (parsed.usage.prompt_tokens as number) - (parsed.usage.cached_tokens as number);
                }
            } else {
                piece = parsed.choices?.[0]?.delta?.content as string | undefined;
                if (parsed.timings != null) {
                    tokens = parsed.timings.predicted_n as number;
                    promptEvaluated = parsed.timings.prompt_n as number;
                    serverMsPerToken = parsed.timings.predicted_per_token_ms as number;
                }
            }
            if (piece != null && piece !== "") {
                chunkTimes.push(performance.now());
                text += piece;
            }
        }
    }
    const ended = performance.now();
    if (chunkTimes.length === 0) throw new Error(`${url}: no tokens streamed`);
    if (tokens == null) throw new Error(`${url}: the stream ended without its token count`);
    return {ttft: (chunkTimes[0] - started) / 1000, chunkTimes, started, ended, text, tokens, promptEvaluated, serverMsPerToken};
}

/** Client-side milliseconds per token of one stream: the time between its first and last chunk over the tokens between. */
export function msPerToken(timing: StreamTiming): number {
    return (timing.chunkTimes.at(-1)! - timing.chunkTimes[0]) / Math.max(1, timing.tokens - 1);
}

/** Decode rate of one stream: tokens after the first over the time they took. */
export function decodeRate(timing: StreamTiming, tokens: number): number {
    return (tokens - 1) / ((timing.chunkTimes.at(-1)! - timing.chunkTimes[0]) / 1000);
}

export {median} from "./summary.js";
