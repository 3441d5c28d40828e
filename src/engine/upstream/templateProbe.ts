import type {ChatMessage, EngineLogger, RenderedPrompt, ToolSet} from "../types.js";
import type {UpstreamClient} from "./upstreamClient.js";
import {wireMessages, wireTools} from "./upstreamRequest.js";

/**
 * How the upstream renders prompts: llama-server (and chat-worker) answer POST /apply-template;
 * vLLM tokenizes chat messages at POST /tokenize; others keep their template to themselves.
 */
export type RenderMode = "unknown" | "apply-template" | "tokenize" | "none";

/**
 * Finds out, on first use, which template endpoint the upstream has beside its /v1 (at the server
 * root), and renders prompts with it, so the debug endpoint shows the exact prompt and context
 * fitting counts real tokens. Without one, it says so (text and count null).
 */
export class TemplateProbe {
    private renderMode: RenderMode = "unknown";

    constructor(private readonly client: UpstreamClient, private readonly logger: Pick<EngineLogger, "info">) {}

    get mode(): RenderMode {
        return this.renderMode;
    }

    /** Renders with the upstream's template, finding out once which endpoint it has. */
    async render(model: string, messages: ChatMessage[], tools: ToolSet | null = null): Promise<RenderedPrompt> {
        // The tools' descriptions are part of the prompt; llama-server and vLLM render them from `tools`.
        const plain = {messages: wireMessages(messages), ...(tools != null ? {tools: wireTools(tools).tools} : {})};
        if (this.renderMode === "unknown" || this.renderMode === "apply-template") {
            const url = this.client.url("/apply-template", true);
            const response = await this.client.json("POST", url, plain);
            const body = response.body as {prompt?: unknown; prompt_tokens?: unknown} | null;
            if (response.status === 200 && typeof body?.prompt === "string") {
                this.renderMode = "apply-template";
                const tokenCount = typeof body.prompt_tokens === "number" ? body.prompt_tokens : await this.countRenderedTokens(body.prompt);
                return {messages, tools, text: body.prompt, tokenCount};
            }
            if (response.status !== 404 && response.status !== 405)
                throw this.client.errorFromStatus(response.status, response.body, response.text, response.headers.get("retry-after"), url);
            this.renderMode = "unknown";
        }
        if (this.renderMode === "unknown" || this.renderMode === "tokenize") {
            const url = this.client.url("/tokenize", true);
            const response = await this.client.json("POST", url, {model, ...plain, add_generation_prompt: true});
            const body = response.body as {count?: unknown; tokens?: unknown} | null;
            if (response.status === 200 && typeof body?.count === "number") {
                this.renderMode = "tokenize";
                return {messages, tools, text: await this.detokenize(model, body.tokens), tokenCount: body.count};
            }
            // 404/405: no such endpoint; 200 without a count: a /tokenize that does not read messages.
            if (response.status !== 404 && response.status !== 405 && response.status !== 200)
                throw this.client.errorFromStatus(response.status, response.body, response.text, response.headers.get("retry-after"), url);
            this.renderMode = "none";
            this.logger.info({upstream: this.client.displayUrl}, "the upstream exposes no chat template endpoint; it renders prompts itself");
        }
        return {messages, tools, text: null, tokenCount: null};
    }

    /** Plain text tokenized as text (the /enhance budget check); null when the upstream has no /tokenize. */
    countTokens(text: string): Promise<number | null> {
        return this.tokenizeCount(text, false);
    }

    /** llama-server's /tokenize of rendered text (special tokens parsed); null when the upstream has none. */
    private countRenderedTokens(prompt: string): Promise<number | null> {
        return this.tokenizeCount(prompt, true);
    }

    private async tokenizeCount(content: string, parseSpecial: boolean): Promise<number | null> {
        const response = await this.client.json("POST", this.client.url("/tokenize", true),
            {content, add_special: false, parse_special: parseSpecial});
        const tokens = (response.body as {tokens?: unknown} | null)?.tokens;
        return response.status === 200 && Array.isArray(tokens) ? tokens.length : null;
    }

    /** vLLM's /detokenize of the rendered prompt's tokens; null when the upstream has none. */
    private async detokenize(model: string, tokens: unknown): Promise<string | null> {
        if (!Array.isArray(tokens)) return null;
        const response = await this.client.json("POST", this.client.url("/detokenize", true), {model, tokens});
        const prompt = (response.body as {prompt?: unknown} | null)?.prompt;
        return response.status === 200 && typeof prompt === "string" ? prompt : null;
    }

    /** The render mode found so far, for the debug endpoint's note. */
    get templateSource(): RenderMode {
        return this.renderMode;
    }
}
