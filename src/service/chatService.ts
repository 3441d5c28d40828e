import {randomUUID} from "node:crypto";
import {ClientClosedError, WorkerError} from "../errors.js";
import type {
    ChatMessage, Engine, EngineStatus, FinishReason, ModelInfo, RenderedPrompt, SamplingParams, TokenLogprob, ToolCallEvent, ToolSet,
    Usage
} from "../engine/types.js";

export type {
    ChatMessage, EngineStatus, FinishReason, ModelInfo, RenderedPrompt, SamplingParams, TokenLogprob, ToolCallEvent, ToolCallRecord,
    ToolChoice, ToolFunction, ToolSet, Usage
} from "../engine/types.js";
import type {Lease, LeaseHint} from "../scheduler/scheduler.js";
import type {ModelPool, ServedModel} from "./modelPool.js";
import type {WorkerMetrics} from "./metrics.js";
import {preparePrompt} from "../engine/promptFit.js";
import type {MaskStream, TermMask} from "./termMask.js";

export type {ChatInput, PreparedPrompt, RawInput} from "../engine/types.js";
import type {ChatInput, PreparedPrompt, RawInput} from "../engine/types.js";

export interface ChatJob {
    /** The model the request names (`model`); null: the default one. */
    model?: string | null;
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
    /** Mask the sfw_mode terms in the text, streamed pieces included (never with logprobs: the tokens would show them). */
    sfwMode?: boolean;
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
    /** The name of the model that answered. */
    model: string;
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
    metrics?: WorkerMetrics;
    /** The terms `sfwMode` masks; without them a job asking for it is refused. */
    sfwTerms?: TermMask;
}

/**
 * The one chat pipeline behind every protocol (/chat, /generate, /enhance, /v1): pick the model
 * the request names, fit the prompt to its context, wait for one of its sequences, stream the
 * generation, release the sequence. Each model's lifecycle gates its use: a request that finds
 * its model unloaded loads it again, and holds it until the answer is done.
 */
export class ChatService {
    constructor(
        readonly models: ModelPool,
        private readonly options: ChatServiceOptions
    ) {}

    /** Whether sfw_mode can be honoured (a term list was loaded). */
    get sfwAvailable(): boolean {
        return this.options.sfwTerms != null;
    }

    /** The chat model a request names (400 `unknown_model` listing the known ones when unknown, `model_not_supported` for an embedding model). */
    model(name?: string | null): ServedModel {
        return this.models.resolve(name, "model", "chat");
    }

    /**
     * Renders the prompt, leaving out the oldest history entries until prompt + max_tokens fit.
     * Throws ContextOverflowError when even the system prompt and current message do not fit.
     */
    async prepare(input: ChatInput, maxTokens: number, signal?: AbortSignal, model?: string | null): Promise<PreparedPrompt> {
        const served = this.model(model);
        const hold = await served.lifecycle.enter(signal);
        try {
            return await preparePrompt(served.engine, input, maxTokens, null);
        } finally {
            hold.release();
        }
    }

    /** Tokens of plain text by the model's tokenizer; null when the engine cannot tell. */
    async countTokens(text: string, model?: string | null): Promise<number | null> {
        const {engine} = this.model(model);
        return engine.countTokens != null ? engine.countTokens(text) : null;
    }

    /**
     * The prompt exactly as the model would see it, without fitting (llama-server's /apply-template).
     * Through the model's lifecycle like `prepare`, so an unloaded model loads again instead of answering 503.
     */
    async render(messages: ChatMessage[], tools: ToolSet | null = null, signal?: AbortSignal, model?: string | null): Promise<RenderedPrompt> {
        const served = this.model(model);
        const hold = await served.lifecycle.enter(signal);
        try {
            return await served.engine.render(messages, tools);
        } finally {
            hold.release();
        }
    }

    engineStatus(model?: string | null): EngineStatus {
        return this.model(model).lifecycle.status();
    }

    engineInfo(model?: string | null): ModelInfo {
        return this.model(model).engine.info();
    }

    /** See `systemPromptInTemplate`. */
    async systemPromptInTemplate(prompt: RenderedPrompt, system: string, model?: string | null): Promise<boolean> {
        const served = this.model(model);
        const hold = await served.lifecycle.enter();
        try {
            return await systemPromptInTemplate(served.engine, prompt, system);
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
        const served = this.model(job.model);
        if (job.sfwMode === true) this.checkSfw(job);
        for (let attempt = 1; ; attempt++) {
            const hold = await served.lifecycle.enter(job.signal);
            const cancel = new AbortController();
            let prepared: PreparedPrompt;
            let leases: Array<Promise<Lease>> = [];
            try {
                prepared = await preparePrompt(served.engine, job.input, job.params.maxTokens, job.tools ?? null);
                const hint: LeaseHint = {conversationId: job.conversationId, prompt: prepared.prompt};
                const waiting = AbortSignal.any([job.signal, hold.signal, cancel.signal]);
                leases = served.scheduler.acquireAll(n, hint, waiting).map((lease) => lease.catch((err: unknown) => {
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
                return await this.runChoices(served, job, prepared, leases, received, hooks, hold.signal, cancel);
            } finally {
                hold.release();
            }
        }
    }

    /** sfw_mode needs a term list, and excludes logprobs. */
    private checkSfw(job: ChatJob): void {
        if (this.options.sfwTerms == null)
            throw new WorkerError("invalid_request", "unsupported_parameter", "sfw_mode: this worker has no term list", {param: "sfw_mode"});
        if (job.params.logprobs != null)
            throw new WorkerError("invalid_request", "invalid_request",
                "logprobs: not available with sfw_mode (the tokens would show the masked terms)", {param: "logprobs"});
    }

    private async runChoices(
        served: ServedModel, job: ChatJob, prepared: PreparedPrompt, leases: Array<Promise<Lease>>, received: number, hooks: ChatHooks,
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
                const result = await this.generate(served, {...job, params}, choice, promptGroup, prepared, lease, received, hooks, revoked, cancel.signal);
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
        served: ServedModel, job: ChatJob, choice: number, promptGroup: string | null, prepared: PreparedPrompt, lease: Lease, received: number, hooks: ChatHooks,
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
        // Checked by chatChoices() before the lease was taken.
        const mask: MaskStream | null = job.sfwMode === true ? this.options.sfwTerms?.stream() ?? null : null;
        try {
            for await (const event of served.engine.generate({
                sequence: lease.sequence, prompt: prepared.prompt, params: job.params, conversationId: job.conversationId,
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
                    const shown = mask != null ? mask.push(event.text) : event.text;
                    text += shown;
                    if (shown !== "" || mask == null)
                        hooks.onText?.(shown, logprobs != null ? event.logprobs ?? [] : null, choice);
                } else if (event.type === "tool_call") {
                    const call = toolCalls[event.index] ??= {id: event.id ?? "", name: event.name ?? "", arguments: ""};
                    call.arguments += event.arguments;
                    hooks.onToolCall?.(event, choice);
                } else {
                    const rest = mask?.end() ?? "";
                    if (rest !== "") {
                        text += rest;
                        hooks.onText?.(rest, null, choice);
                    }
                    metrics?.promptTokens.inc(event.usage.promptTokens);
                    metrics?.generatedTokens.inc(event.usage.completionTokens);
                    metrics?.generations.inc({finish_reason: event.finishReason});
                    const generationSeconds = (performance.now() - started) / 1000;
                    metrics?.generationSeconds.observe(generationSeconds);
                    return {
                        model: served.name, text, finishReason: event.finishReason, usage: event.usage,
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
 * True when `system` sits verbatim in the system message of `prompt`: the same messages rendered
 * with a marker in place of the system text must give exactly the same prompt once the marker is
 * swapped back. This holds for any chat template, and fails if the template (or anything else)
 * changed, moved or dropped the system prompt.
 */
export async function systemPromptInTemplate(engine: Pick<Engine, "render">, prompt: RenderedPrompt, system: string): Promise<boolean> {
    if (prompt.text == null)
        return false;
    const index = prompt.messages.findIndex((message) => message.role === "system");
    if (index === -1 || prompt.messages[index].content !== system)
        return false;
    const marker = `\u2063system-marker-${Math.random().toString(36).slice(2)}\u2063`;
    const marked = await engine.render(prompt.messages.map((message, i) => i === index ? {...message, content: marker} : message));
    if (marked.text == null || marked.text.split(marker).length !== 2)
        return false;
    return marked.text.split(marker).join(system) === prompt.text;
}
