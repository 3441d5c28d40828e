import type {ChatWrapper, LlamaModel, Token} from "node-llama-cpp";
import type {ChatInput, PreparedPrompt, RawInput, RenderedPrompt, ToolSet} from "../types.js";
import {fitPrompt} from "../promptFit.js";
import {prefixDigest} from "./sequenceAffinity.js";
import {renderPrompt, renderRawPrompt} from "./promptRender.js";

/** Prompts kept: enough for every sequence's request and those queued behind them; an evicted one is rendered again. */
const KEPT_PROMPTS = 64;

/**
 * The tokens of prompts rendered for a request, kept where they were made: the prompt goes to the
 * service (and over IPC to the HTTP process) with a key and a prefix digest for sequence choice, and
 * comes back to `generate`, which finds its tokens by the key instead of rendering again.
 */
export class PreparedPrompts {
    private readonly kept = new Map<number, Token[]>();
    private nextKey = 1;

    /** `prompt` with a key to its tokens and their prefix digest. */
    keep(prompt: RenderedPrompt, tokens: Token[]): RenderedPrompt {
        const key = this.nextKey++;
        this.kept.set(key, tokens);
        if (this.kept.size > KEPT_PROMPTS) this.kept.delete(this.kept.keys().next().value!);
        return {...prompt, key, prefix: prefixDigest(tokens)};
    }

    /** The tokens kept for `prompt`, or null when it was not kept here (or was evicted). */
    tokens(prompt: RenderedPrompt): Token[] | null {
        return prompt.key != null ? this.kept.get(prompt.key) ?? null : null;
    }

    /**
     * Fits the prompt to the context (promptFit.ts) in this process: the renders that fitting tries
     * cost no round trip and make no text; only the chosen one gets its text and is kept.
     */
    async fit(
        loaded: {chatWrapper: ChatWrapper; model: LlamaModel}, limits: {contextSize: number; maxTokenChars: number | null},
        input: ChatInput | RawInput, maxTokens: number, tools: ToolSet | null
    ): Promise<PreparedPrompt> {
        const candidates = new WeakMap<RenderedPrompt, Token[]>();
        const candidate = (prompt: Omit<RenderedPrompt, "tokenCount">, tokens: Token[]) => {
            const rendered = {...prompt, tokenCount: tokens.length};
            candidates.set(rendered, tokens);
            return rendered;
        };
        const longest = limits.maxTokenChars ?? 0;
        const fitted = await fitPrompt({
            contextSize: limits.contextSize,
            lowerBoundTokens: (text) => longest > 0 ? Math.ceil(text.length / longest) : 0,
            render: async (messages, tools = null) => candidate({messages, tools, text: null}, renderPrompt(loaded, messages, true, tools).tokens),
            renderRaw: async (raw) => candidate({messages: [], raw: true, text: null}, renderRawPrompt(loaded.model, raw).tokens)
        }, input, maxTokens, tools);
        const {prompt} = fitted;
        const text = "raw" in input ? renderRawPrompt(loaded.model, input.raw).text : renderPrompt(loaded, prompt.messages, true, prompt.tools ?? null).text;
        return {...fitted, prompt: this.keep({...prompt, text}, candidates.get(prompt)!)};
    }
}
