import {ContextOverflowError} from "../errors.js";
import type {ChatInput, Engine, PreparedPrompt, RawInput, RenderedPrompt, ToolSet} from "./types.js";

/**
 * Renders the prompt with `engine`, leaving out the oldest history entries until prompt +
 * max_tokens fit its context. Throws ContextOverflowError when even the system prompt and the
 * current message (or the raw prompt) do not fit.
 */
export async function fitPrompt(
    engine: Pick<Engine, "contextSize" | "lowerBoundTokens" | "render" | "renderRaw">, input: ChatInput | RawInput, maxTokens: number, tools: ToolSet | null
): Promise<PreparedPrompt> {
    const budget = engine.contextSize;
    // The pinned messages alone may be too long to be worth tokenizing (a megabyte message).
    const pinnedTexts = "raw" in input ? [input.raw] : [...input.prefix, ...input.tail].map((message) => message.content);
    const pinned = pinnedTexts.reduce((sum, text) => sum + (engine.lowerBoundTokens?.(text) ?? 0), 0);
    if (pinned + maxTokens > budget)
        throw new ContextOverflowError({promptTokens: pinned, maxTokens, contextSize: budget, culprit: "prompt", atLeast: true});
    if ("raw" in input) {
        const prompt = await engine.renderRaw(input.raw);
        if (prompt.tokenCount != null && prompt.tokenCount + maxTokens > budget)
            throw new ContextOverflowError({promptTokens: prompt.tokenCount, maxTokens, contextSize: budget, culprit: "prompt"});
        return {prompt, historyDropped: 0};
    }
    const render = (dropped: number) =>
        engine.render([...input.prefix, ...input.history.slice(dropped), ...input.tail], tools);
    const fits = (prompt: RenderedPrompt) => prompt.tokenCount == null || prompt.tokenCount + maxTokens <= budget;

    const full = await render(0);
    if (fits(full))
        return {prompt: full, historyDropped: 0};
    const minimal = await render(input.history.length);
    if (!fits(minimal))
        throw new ContextOverflowError({promptTokens: minimal.tokenCount ?? 0, maxTokens, contextSize: budget, culprit: "prompt"});
    // Fewer kept entries never need more tokens, so the smallest drop that fits is found by bisection.
    let low = 1;
    let high = input.history.length;
    let best = minimal;
    while (low < high) {
        const middle = Math.floor((low + high) / 2);
        const candidate = await render(middle);
        if (fits(candidate)) {
            high = middle;
            best = candidate;
        } else
            low = middle + 1;
    }
    return {prompt: best, historyDropped: low};
}

/** The prompt fitted by the engine itself when it can (one call where the tokens are), else through its `render`. */
export function preparePrompt(engine: Engine, input: ChatInput | RawInput, maxTokens: number, tools: ToolSet | null): Promise<PreparedPrompt> {
    return engine.prepare != null ? engine.prepare(input, maxTokens, tools) : fitPrompt(engine, input, maxTokens, tools);
}
