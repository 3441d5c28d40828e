import type {Token} from "node-llama-cpp";
import type {RenderedPrompt} from "../types.js";
import {prefixDigest} from "./slotAffinity.js";

/** Prompts kept: enough for every sequence's request and those queued behind them; an evicted one is rendered again. */
const KEPT_PROMPTS = 64;

/**
 * The tokens of prompts rendered for a request, kept where they were made: the prompt goes to the
 * service (and over IPC to the HTTP process) with a key and a prefix digest for slot choice, and
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

    clear(): void {
        this.kept.clear();
    }
}
