import {randomUUID} from "node:crypto";
import {ClientClosedError, ContextOverflowError, WorkerError} from "../errors.js";
import type {
    ChatMessage, Engine, EngineStatus, FinishReason, ModelInfo, RenderedPrompt, SamplingParams, TokenLogprob, ToolCallEvent, ToolSet,
    Usage
} from "../engine/types.js";

export type {
    ChatMessage, EngineStatus, FinishReason, ModelInfo, RenderedPrompt, SamplingParams, TokenLogprob, ToolCallEvent, ToolCallRecord,
    ToolChoice, ToolFunction, ToolSet, Usage
} from "../engine/types.js";
import type {Lease, LeaseHint, Scheduler} from "../scheduler/scheduler.js";
import {OPEN_GATE, type ModelGate} from "./modelLifecycle.js";
import type {WorkerMetrics} from "./metrics.js";

/**
 * A chat prompt in three parts. Only `history` may be shortened to fit the context, oldest
 * entries first; `prefix` (the system prompt) and `tail` (the current message) are never dropped.
 */
export interface ChatInput {
    prefix: ChatMessage[];
    history: ChatMessage[];
    tail: ChatMessage[];
}

/** A raw prompt (OpenAI's /v1/completions): no template, nothing to drop. */
export interface RawInput {
    raw: string;
}

export interface PreparedPrompt {
    prompt: RenderedPrompt;
    /** How many of the oldest history entries were left out to fit the context. */
    historyDropped: number;
}

export interface ChatJob {
    input: ChatInput | RawInput;
    params: SamplingParams;
    /** Tools offered to the model; null or absent: none. */
    tools?: ToolSet | null;
    conversationId: string | null;
    /** Fires on client disconnect or shutdown. */
    signal: AbortSignal;
    /**
     * Answers to generate for the one prompt (default 1), each on a sequence of its own, leased
     * like a request of its own. With a seed, choice i samples with seed + i.
     */
    n?: number;
}

export interface ChatStart {
    prepared: PreparedPrompt;
    queueSeconds: number;
}

export interface ChatHooks {
    /** Called once a sequence is leased, just before generation starts: errors before it are pre-stream errors. */
    onStart?(start: ChatStart): void;
    /** Each piece of text as it becomes final, with the logprobs of the tokens it completes when they were asked for. */
    onText?(text: string, logprobs: TokenLogprob[] | null, choice: number): void;
    /** Each piece of a tool call (see ToolCallEvent). */
    onToolCall?(call: ToolCallEvent, choice: number): void;
    /** A choice has ended (others may still be generating). */
    onChoiceEnd?(result: ChatResult, choice: number): void;
}

/** A tool call the model made, whole. */
export interface ToolCall {
    id: string;
    name: string;
    /** The arguments' JSON text, as the model wrote it. */
    arguments: string;
}

export interface ChatResult {
    text: string;
    finishReason: FinishReason;
    usage: Usage;
    historyDropped: number;
    prompt: RenderedPrompt;
    queueSeconds: number;
    /** From the first model step to the end, in seconds. */
    generationSeconds: number;
    timeToFirstTokenSeconds: number | null;
    /** One entry per generated token when `params.logprobs` asked for them, else null. */
    logprobs: TokenLogprob[] | null;
    /** The tool calls the answer made, in order (empty without tools). */
    toolCalls: ToolCall[];
    /** Set when the worker, not the client, cut the generation short (a forced unload, the end of the shutdown grace). */
    interruption: WorkerError | null;
}

export interface ChatServiceOptions {
    /** 0 disables the limit. */
    requestTimeoutSeconds: number;
    /** Makes sure the model is loaded (lazily after an unload) and stays loaded while a request uses it. */
    gate?: ModelGate;
    metrics?: WorkerMetrics;
}

/**
 * The one chat pipeline behind every protocol (/chat, /enhance, /v1/chat/completions): fit the
 * prompt to the context, wait for a sequence, stream the generation, release the sequence.
 */
export class ChatService {
    constructor(
        private readonly engine: Engine,
        private readonly scheduler: Scheduler,
        private readonly options: ChatServiceOptions
    ) {}

    /**
     * Renders the prompt, leaving out the oldest history entries until prompt + max_tokens fit.
     * Throws ContextOverflowError when even the system prompt and current message do not fit.
     */
    async prepare(input: ChatInput, maxTokens: number, signal?: AbortSignal): Promise<PreparedPrompt> {
        const hold = await this.gate.enter(signal);
        try {
            return await this.fit(input, maxTokens, null);
        } finally {
            hold.release();
        }
    }

    private get gate(): ModelGate {
        return this.options.gate ?? OPEN_GATE;
    }

    private async fit(input: ChatInput | RawInput, maxTokens: number, tools: ToolSet | null): Promise<PreparedPrompt> {
        const budget = this.engine.contextSize;
        // The pinned messages alone may be too long to be worth tokenizing (a megabyte message).
        const pinnedTexts = "raw" in input ? [input.raw] : [...input.prefix, ...input.tail].map((message) => message.content);
        const pinned = pinnedTexts.reduce((sum, text) => sum + (this.engine.lowerBoundTokens?.(text) ?? 0), 0);
        if (pinned + maxTokens > budget)
            throw new ContextOverflowError({promptTokens: pinned, maxTokens, contextSize: budget, culprit: "prompt", atLeast: true});
        if ("raw" in input) {
            const prompt = await this.engine.renderRaw(input.raw);
            if (prompt.tokenCount != null && prompt.tokenCount + maxTokens > budget)
                throw new ContextOverflowError({promptTokens: prompt.tokenCount, maxTokens, contextSize: budget, culprit: "prompt"});
            return {prompt, historyDropped: 0};
        }
        const render = (dropped: number) =>
            this.engine.render([...input.prefix, ...input.history.slice(dropped), ...input.tail], tools);
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

    /** Tokens of plain text by the model's tokenizer; null when the engine cannot tell. */
    async countTokens(text: string): Promise<number | null> {
        return this.engine.countTokens != null ? this.engine.countTokens(text) : null;
    }

    /**
     * The prompt exactly as the model would see it, without fitting (llama-server's /apply-template).
     * Through the gate like `prepare`, so an unloaded model loads again instead of answering 503.
     */
    async render(messages: ChatMessage[], tools: ToolSet | null = null, signal?: AbortSignal): Promise<RenderedPrompt> {
        const hold = await this.gate.enter(signal);
        try {
            return await this.engine.render(messages, tools);
        } finally {
            hold.release();
        }
    }

    engineStatus(): EngineStatus {
        return this.engine.status();
    }

    engineInfo(): ModelInfo {
        return this.engine.info();
    }

    /** See `systemPromptInSlot`. */
    async systemPromptInSlot(prompt: RenderedPrompt, system: string): Promise<boolean> {
        const hold = await this.gate.enter();
        try {
            return await systemPromptInSlot(this.engine, prompt, system);
        } finally {
            hold.release();
        }
    }

    /** One answer (`job.n` is taken as 1). */
    async chat(job: ChatJob, hooks: ChatHooks = {}): Promise<ChatResult> {
        return (await this.chatChoices({...job, n: 1}, hooks))[0];
    }

    /**
     * `job.n` answers to one prompt: the prompt is fitted once, each choice gets a sequence of
     * its own (admitted together, then queued like separate requests), and the choices generate
     * in parallel. One choice failing stops the others and fails the request.
     */
    async chatChoices(job: ChatJob, hooks: ChatHooks = {}): Promise<ChatResult[]> {
        const received = performance.now();
        const n = job.n ?? 1;
        for (let attempt = 1; ; attempt++) {
            const hold = await this.gate.enter(job.signal);
            const cancel = new AbortController();
            let prepared: PreparedPrompt;
            let leases: Array<Promise<Lease>> = [];
            try {
                prepared = await this.fit(job.input, job.params.maxTokens, job.tools ?? null);
                const hint: LeaseHint = {conversationId: job.conversationId, prompt: prepared.prompt};
                const waiting = AbortSignal.any([job.signal, hold.signal, cancel.signal]);
                leases = this.scheduler.acquireAll(n, hint, waiting).map((lease) => lease.catch((err: unknown) => {
                    if (err instanceof Error && err.name === "AbortError")
                        throw hold.signal.aborted && hold.signal.reason instanceof WorkerError
                            ? hold.signal.reason
                            : new ClientClosedError("queue");
                    throw err;
                }));
                // Until the first sequence is leased, nothing has started.
                await Promise.race(leases);
            } catch (err) {
                cancel.abort();
                for (const lease of leases) lease.then((granted) => granted.release(), () => undefined);
                hold.release();
                // A forced unload took the model before this request got a sequence: like a request
                // arriving now, it waits for the model to load again and is then served.
                if (attempt < MAX_UNLOAD_RETRIES && !job.signal.aborted && isUnloadRevocation(hold.signal))
                    continue;
                throw err;
            }
            try {
                return await this.runChoices(job, prepared, leases, received, hooks, hold.signal, cancel);
            } finally {
                hold.release();
            }
        }
    }

    private async runChoices(
        job: ChatJob, prepared: PreparedPrompt, leases: Array<Promise<Lease>>, received: number, hooks: ChatHooks,
        revoked: AbortSignal, cancel: AbortController
    ): Promise<ChatResult[]> {
        let failure: {error: unknown} | null = null;
        let started = false;
        const promptGroup = leases.length > 1 ? randomUUID() : null;
        const results = await Promise.all(leases.map(async (pending, choice) => {
            try {
                const lease = await pending;
                if (!started) {
                    started = true;
                    try {
                        hooks.onStart?.({prepared, queueSeconds: lease.waitedSeconds});
                    } catch (err) {
                        lease.release();
                        throw err;
                    }
                }
                const params = choice > 0 && job.params.seed != null ? {...job.params, seed: (job.params.seed + choice) % 2 ** 32} : job.params;
                const result = await this.generate({...job, params}, choice, promptGroup, prepared, lease, received, hooks, revoked, cancel.signal);
                hooks.onChoiceEnd?.(result, choice);
                return result;
            } catch (err) {
                failure ??= {error: err};
                cancel.abort();
                return null;
            }
        }));
        if (failure != null)
            throw (failure as {error: unknown}).error;
        return results as ChatResult[];
    }

    private async generate(
        job: ChatJob, choice: number, promptGroup: string | null, prepared: PreparedPrompt, lease: Lease, received: number, hooks: ChatHooks,
        revoked: AbortSignal, cancelled: AbortSignal
    ): Promise<ChatResult> {
        const controller = new AbortController();
        let reason: FinishReason = "abort";
        // A client disconnect, a forced unload, the end of the shutdown grace or a failed sibling choice all stop the generation.
        const onClientAbort = () => controller.abort();
        const stoppers = [job.signal, revoked, cancelled];
        for (const signal of stoppers) signal.addEventListener("abort", onClientAbort, {once: true});
        if (stoppers.some((signal) => signal.aborted)) controller.abort();
        const timer = this.options.requestTimeoutSeconds > 0
            ? setTimeout(() => {
                reason = "timeout";
                controller.abort();
            }, this.options.requestTimeoutSeconds * 1000)
            : null;
        timer?.unref();

        const started = performance.now();
        let firstText: number | null = null;
        let lastText: number | null = null;
        let text = "";
        const toolCalls: ToolCall[] = [];
        const logprobs: TokenLogprob[] | null = job.params.logprobs != null ? [] : null;
        const metrics = this.options.metrics;
        try {
            for await (const event of this.engine.generate({
                slot: lease.slot, prompt: prepared.prompt, params: job.params, conversationId: job.conversationId,
                signal: controller.signal, abortReason: () => reason, promptGroup
            })) {
                if (event.type === "text") {
                    if (logprobs != null && event.logprobs != null)
                        for (const entry of event.logprobs) logprobs.push(entry);
                    if (event.text === "") {
                        hooks.onText?.("", event.logprobs ?? null, choice);
                        continue;
                    }
                    const now = performance.now();
                    if (firstText == null) {
                        firstText = now;
                        metrics?.timeToFirstToken.observe((now - received) / 1000);
                    } else if (lastText != null)
                        metrics?.interTokenLatency.observe((now - lastText) / 1000);
                    lastText = now;
                    text += event.text;
                    hooks.onText?.(event.text, logprobs != null ? event.logprobs ?? [] : null, choice);
                } else if (event.type === "tool_call") {
                    const call = toolCalls[event.index] ??= {id: event.id ?? "", name: event.name ?? "", arguments: ""};
                    call.arguments += event.arguments;
                    hooks.onToolCall?.(event, choice);
                } else {
                    metrics?.promptTokens.inc(event.usage.promptTokens);
                    metrics?.generatedTokens.inc(event.usage.completionTokens);
                    metrics?.generations.inc({finish_reason: event.finishReason});
                    const generationSeconds = (performance.now() - started) / 1000;
                    metrics?.generationSeconds.observe(generationSeconds);
                    return {
                        text, finishReason: event.finishReason, usage: event.usage,
                        historyDropped: prepared.historyDropped, prompt: prepared.prompt,
                        queueSeconds: lease.waitedSeconds,
                        generationSeconds,
                        timeToFirstTokenSeconds: firstText != null ? (firstText - received) / 1000 : null,
                        logprobs,
                        toolCalls,
                        interruption: event.finishReason === "abort" && revoked.aborted && revoked.reason instanceof WorkerError
                            ? revoked.reason : null
                    };
                }
            }
            throw new WorkerError("internal", "engine_no_end", "the engine stopped without an end event");
        } finally {
            if (timer != null) clearTimeout(timer);
            for (const signal of stoppers) signal.removeEventListener("abort", onClientAbort);
            lease.release();
        }
    }
}

/** How often one request goes back to wait for the model after forced unloads took it away. */
const MAX_UNLOAD_RETRIES = 3;

function isUnloadRevocation(signal: AbortSignal): boolean {
    return signal.aborted && signal.reason instanceof WorkerError && signal.reason.code === "model_unloaded";
}

/**
 * True when `system` sits verbatim in the system slot of `prompt`: the same messages rendered
 * with a marker in place of the system text must give exactly the same prompt once the marker is
 * swapped back. This holds for any chat template, and fails if the template (or anything else)
 * changed, moved or dropped the system prompt.
 */
export async function systemPromptInSlot(engine: Pick<Engine, "render">, prompt: RenderedPrompt, system: string): Promise<boolean> {
    if (prompt.text == null)
        return false;
    const index = prompt.messages.findIndex((message) => message.role === "system");
    if (index === -1 || prompt.messages[index].content !== system)
        return false;
    const marker = `\u2063system-slot-${Math.random().toString(36).slice(2)}\u2063`;
    const marked = await engine.render(prompt.messages.map((message, i) => i === index ? {...message, content: marker} : message));
    if (marked.text == null || marked.text.split(marker).length !== 2)
        return false;
    return marked.text.split(marker).join(system) === prompt.text;
}
