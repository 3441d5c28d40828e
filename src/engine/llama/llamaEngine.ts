import os from "node:os";
import {
    getLlama, LlamaLogLevel, resolveChatWrapper, ChatMLChatWrapper, TokenBias,
    LlamaGrammarEvaluationState, getModuleVersion,
    type Llama, type LlamaModel, type LlamaContext, type LlamaContextSequence, type ChatHistoryItem, type ChatWrapper,
    type Token, type SequenceEvaluateOptions
} from "node-llama-cpp";
import type {Config} from "../../config/config.js";
import {ModelNotReadyError, WorkerError} from "../errors.js";
import type {
    ChatMessage, Engine, EngineLogger, EngineStatus, FinishReason, GenerateRequest, GenerationEvent, MemoryReport,
    ModelInfo, RenderedPrompt
} from "../types.js";
import {IncrementalDetokenizer, StopMatcher} from "./textStream.js";
import {GrammarCache} from "./grammarCache.js";
import {baseName, classifyLoadError, fileSizeOf, LoadFailure, readModelFacts, type ModelFacts} from "./modelFile.js";
import {checkMemory, freeRamBytes} from "./memoryCheck.js";

/** llama-server's repeat_last_n: the repetition penalty looks back this many tokens. */
const REPEAT_PENALTY_WINDOW = 64;

/** node-llama-cpp's own version (its package.json is not importable through its exports map). */
let nodeLlamaCppVersion: string | null = null;
void getModuleVersion().then((version) => {
    nodeLlamaCppVersion = version;
}, () => undefined);

interface Loaded {
    model: LlamaModel;
    context: LlamaContext;
    sequences: LlamaContextSequence[];
    chatWrapper: ChatWrapper;
    eogBias: TokenBias;
    grammars: GrammarCache;
    loadTimeSeconds: number;
}

type EngineSettings = Pick<Config,
    "modelPath" | "modelName" | "contextSize" | "parallel" | "threads" | "batchSize" | "gpu" | "gpuLayers" | "memoryCheck">;

/**
 * The embedded engine: one llama.cpp model and one context with `parallel` sequences. The
 * context batches the evaluation of all its sequences by itself; we only hand each generation the
 * sequence (slot) that the scheduler leased to it.
 */
export class LlamaEngine implements Engine {
    readonly slots: number;
    readonly contextSize: number;
    /**
     * The llama.cpp backend outlives unloads: a reload skips the backend start (about a second),
     * and the GPU's memory stays observable while no model is loaded. `close()` frees it.
     */
    private llama: Llama | null = null;
    private loaded: Loaded | null = null;
    /** The GGUF header's facts, kept after an unload or a failed load so /model/info still has them. */
    private facts: ModelFacts | null = null;
    private state: EngineStatus = {state: "unloaded", reason: null, loadProgress: null, code: null};
    private loading: Promise<void> | null = null;
    private unloading: Promise<void> | null = null;
    private closed = false;

    constructor(private readonly settings: EngineSettings, private readonly logger: EngineLogger) {
        this.slots = settings.parallel;
        this.contextSize = settings.contextSize;
    }

    status(): EngineStatus {
        return {...this.state};
    }

    /** Starts loading (idempotent) and resolves when it has settled; `whenSettled()` tells the same. */
    load(): Promise<void> {
        if (this.loaded != null || this.closed)
            return Promise.resolve();
        this.loading ??= (async () => {
            await this.unloading;
            await this.doLoad();
        })().finally(() => {
            this.loading = null;
        });
        return this.loading;
    }

    async whenSettled(): Promise<void> {
        await this.loading;
    }

    private async doLoad(): Promise<void> {
        const started = performance.now();
        this.state = {state: "loading", reason: null, loadProgress: 0, code: null};
        let model: LlamaModel | null = null;
        try {
            const llama = await this.backend();
            const facts = await readModelFacts(llama, this.settings.modelPath);
            this.facts = facts;
            if (this.settings.memoryCheck) {
                const verdict = await checkMemory(llama, facts.insights, this.settings);
                if (!verdict.fits)
                    throw new LoadFailure("insufficient_memory", verdict.reason);
                this.logger.info({
                    ramBytes: verdict.need.ramBytes, freeRamBytes: verdict.need.freeRamBytes,
                    vramBytes: verdict.need.vramBytes, freeVramBytes: verdict.need.freeVramBytes
                }, "memory check passed");
            }
            model = await llama.loadModel({
                modelPath: this.settings.modelPath,
                gpuLayers: this.settings.gpuLayers ?? "auto",
                onLoadProgress: (progress) => {
                    if (this.state.state === "loading")
                        this.state = {...this.state, loadProgress: Math.min(0.99, progress)};
                }
            });
            const context = await model.createContext({
                sequences: this.settings.parallel,
                contextSize: this.settings.contextSize,
                batchSize: this.settings.batchSize,
                threads: this.settings.threads
            });
            const sequences = Array.from({length: this.settings.parallel}, () => context.getSequence());
            const chatWrapper = resolveChatWrapper(model, {fallbackToOtherWrappersOnJinjaError: true}) ?? new ChatMLChatWrapper();
            const eogBias = new TokenBias(model.tokenizer);
            for (const token of [model.tokens.eos, model.tokens.eot].filter((token): token is Token => token != null))
                eogBias.set(token, "never");
            const loadTimeSeconds = (performance.now() - started) / 1000;
            this.loaded = {model, context, sequences, chatWrapper, eogBias, grammars: new GrammarCache(llama), loadTimeSeconds};
            this.state = {state: "ready", reason: null, loadProgress: null, code: null};
            this.logger.info({
                modelPath: this.settings.modelPath, chatWrapper: chatWrapper.wrapperName,
                gpu: llama.gpu, gpuLayers: model.gpuLayers, loadTimeSeconds: Number(loadTimeSeconds.toFixed(3))
            }, "model loaded");
        } catch (err) {
            const failure = classifyLoadError(err);
            this.state = {state: "failed", reason: failure.message, loadProgress: null, code: failure.code};
            this.logger.error({modelPath: this.settings.modelPath, code: failure.code, reason: failure.message}, "model failed to load");
            await model?.dispose().catch(() => undefined);
        }
    }

    private async backend(): Promise<Llama> {
        if (this.llama != null)
            return this.llama;
        try {
            this.llama = await getLlama({
                gpu: this.settings.gpu === "false" ? false : this.settings.gpu,
                maxThreads: this.settings.threads,
                build: "never",
                logLevel: LlamaLogLevel.warn,
                logger: (level, message) => this.logLlama(level, message)
            });
        } catch (err) {
            throw new LoadFailure("backend_unavailable",
                `cannot start the llama.cpp backend for GPU=${this.settings.gpu}: ${(err as Error).message}`);
        }
        return this.llama;
    }

    /** Frees the model and its context; generations still running fail on their next step. */
    unload(): Promise<void> {
        this.unloading ??= (async () => {
            await this.loading;
            const loaded = this.loaded;
            this.loaded = null;
            this.state = {state: "unloaded", reason: null, loadProgress: null, code: null};
            if (loaded != null) {
                await loaded.model.dispose();
                this.logger.info({modelPath: this.settings.modelPath}, "model unloaded");
            }
        })().finally(() => {
            this.unloading = null;
        });
        return this.unloading;
    }

    async close(): Promise<void> {
        this.closed = true;
        await this.unload();
        const llama = this.llama;
        this.llama = null;
        await llama?.dispose();
    }

    async memory(): Promise<MemoryReport> {
        const llama = this.llama;
        const usage = llama != null && this.loaded != null ? await llama.getLlamaMemoryUsage() : null;
        if (llama == null && this.settings.gpu !== "false")
            // The backend has not started, so which device it would use is not known yet.
            return {deviceType: "unknown", device: null, memoryKind: null, totalBytes: null, usedBytes: null, freeBytes: null, modelBytes: null};
        if (llama != null && llama.gpu !== false) {
            const vram = await llama.getVramState();
            return {
                deviceType: llama.gpu, device: `${llama.gpu}:0`, memoryKind: "vram",
                totalBytes: vram.total, usedBytes: vram.used, freeBytes: vram.free, modelBytes: usage?.gpuVram ?? 0
            };
        }
        const total = os.totalmem();
        const free = Math.min(total, freeRamBytes(llama != null ? (await llama.getRamState()).free : undefined));
        return {
            deviceType: "cpu", device: "cpu", memoryKind: "ram",
            totalBytes: total, usedBytes: total - free, freeBytes: free, modelBytes: usage?.cpuRam ?? 0
        };
    }

    info(): ModelInfo {
        const loaded = this.loaded;
        const llama = this.llama;
        const facts = this.facts;
        return {
            engine: "embedded",
            modelName: this.settings.modelName ?? facts?.name ?? baseName(this.settings.modelPath),
            modelPath: this.settings.modelPath,
            architecture: facts?.architecture ?? null,
            parameterCount: facts?.parameterCount ?? null,
            fileSizeBytes: fileSizeOf(this.settings.modelPath),
            quantization: facts?.quantization ?? null,
            trainedContextSize: facts?.trainContextSize ?? null,
            contextSize: this.contextSize,
            parallel: this.slots,
            threads: llama != null ? llama.maxThreads : null,
            gpu: llama == null ? null : llama.gpu === false ? "cpu" : llama.gpu,
            gpuLayers: loaded?.model.gpuLayers ?? null,
            chatTemplate: loaded?.chatWrapper.wrapperName ?? null,
            nodeLlamaCppVersion,
            llamaCppRelease: llama?.llamaCppRelease.release ?? null,
            loadTimeSeconds: loaded?.loadTimeSeconds ?? null
        };
    }

    async render(messages: ChatMessage[]): Promise<RenderedPrompt> {
        const loaded = this.requireLoaded();
        const {text, tokens} = renderPrompt(loaded, messages);
        const prompt: RenderedPrompt = {messages, text, tokenCount: tokens.length};
        this.renderedTokens.set(prompt, {loaded, tokens});
        return prompt;
    }

    /** Tokens of prompts rendered by `render`, so `generate` does not tokenize them again. */
    private readonly renderedTokens = new WeakMap<RenderedPrompt, {loaded: Loaded; tokens: Token[]}>();

    private tokensOf(loaded: Loaded, prompt: RenderedPrompt): Token[] {
        const cached = this.renderedTokens.get(prompt);
        if (cached != null && cached.loaded === loaded)
            return cached.tokens;
        return renderPrompt(loaded, prompt.messages).tokens;
    }

    /** The token ids `generate` would evaluate for a rendered prompt (tests check special tokens with it). */
    promptTokenIds(prompt: RenderedPrompt): readonly number[] {
        return this.tokensOf(this.requireLoaded(), prompt);
    }

    /** The id of a special token such as "<|im_start|>", or null if the model has none. */
    specialTokenId(text: string): number | null {
        const tokens = this.requireLoaded().model.tokenize(text, true);
        return tokens.length === 1 ? tokens[0] : null;
    }

    /** Tokens that the sequence in `slot` currently holds (used to route a conversation back to it). */
    slotTokens(slot: number): readonly Token[] {
        return this.loaded?.sequences[slot]?.contextTokens ?? [];
    }

    async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent> {
        const loaded = this.requireLoaded();
        const sequence = loaded.sequences[request.slot];
        if (sequence == null)
            throw new WorkerError("internal", "bad_slot", `no sequence ${request.slot}`);
        const {params} = request;
        const tokens = this.tokensOf(loaded, request.prompt);
        if (tokens.length + params.maxTokens > this.contextSize)
            throw new WorkerError("invalid_request", "context_length_exceeded",
                `prompt (${tokens.length} tokens) plus max_tokens (${params.maxTokens}) exceeds the context size (${this.contextSize})`,
                {param: "max_tokens"});

        // Reuse the longest prefix the sequence already holds (checked token by token); at least
        // one prompt token is evaluated again so that there are fresh logits to sample from.
        const reused = Math.min(sequence.compareContextTokens(tokens).firstDifferentIndex, tokens.length - 1);
        if (reused < sequence.nextTokenIndex)
            await sequence.eraseContextTokenRanges([{start: reused, end: sequence.nextTokenIndex}]);

        const history: Token[] = tokens.slice(-REPEAT_PENALTY_WINDOW);
        const options: SequenceEvaluateOptions = {
            temperature: params.temperature,
            topK: params.topK,
            topP: params.topP,
            minP: params.minP,
            seed: params.seed ?? undefined,
            repeatPenalty: params.repetitionPenalty === 1 ? undefined : {
                punishTokens: () => history,
                maxPunishTokens: REPEAT_PENALTY_WINDOW,
                penalty: params.repetitionPenalty
            },
            tokenBias: params.ignoreEos ? loaded.eogBias : undefined,
            grammarEvaluationState: params.grammar != null
                ? new LlamaGrammarEvaluationState({model: loaded.model, grammar: await loaded.grammars.get(params.grammar)})
                : undefined
        };

        const detokenizer = new IncrementalDetokenizer(
            (pending, last) => loaded.model.detokenize(pending as Token[], false, last as Token[]));
        const stops = new StopMatcher(params.stop);
        let completionTokens = 0;
        let finishReason: FinishReason = "stop";
        const usage = () => ({promptTokens: tokens.length, completionTokens, cachedTokens: reused});

        if (request.signal.aborted) {
            yield {type: "end", finishReason: request.abortReason?.() ?? "abort", usage: usage()};
            return;
        }
        const iterator = sequence.evaluate(tokens.slice(reused), options);
        let stoppedByString = false;
        try {
            let stopped = false;
            while (!stopped) {
                const next = await iterator.next();
                if (next.done) {
                    finishReason = "stop"; // end-of-generation token or grammar completed
                    break;
                }
                completionTokens++;
                history.push(next.value);
                if (history.length > REPEAT_PENALTY_WINDOW * 2)
                    history.splice(0, history.length - REPEAT_PENALTY_WINDOW);
                const piece = stops.push(detokenizer.push(next.value));
                if (piece.text !== "")
                    yield {type: "text", text: piece.text};
                if (piece.stopped) {
                    finishReason = "stop";
                    stoppedByString = true;
                    stopped = true;
                } else if (completionTokens >= params.maxTokens) {
                    finishReason = "length";
                    stopped = true;
                } else if (request.signal.aborted) {
                    finishReason = request.abortReason?.() ?? "abort";
                    stopped = true;
                }
            }
            if (!stoppedByString) {
                const rest = stops.push(detokenizer.flush());
                const tail = rest.stopped ? rest.text : rest.text + stops.flush();
                if (tail !== "")
                    yield {type: "text", text: tail};
            }
        } finally {
            // Waits for the in-flight evaluation step, so the sequence is idle when the lease is released.
            await iterator.return(undefined);
        }
        yield {type: "end", finishReason, usage: usage()};
    }

    private requireLoaded(): Loaded {
        if (this.loaded == null)
            throw new ModelNotReadyError(this.state.state, this.state.reason);
        return this.loaded;
    }

    private logLlama(level: LlamaLogLevel, message: string): void {
        const text = message.trim();
        if (text === "") return;
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)
            this.logger.error({source: "llama.cpp"}, text);
        else if (level === LlamaLogLevel.warn)
            this.logger.warn({source: "llama.cpp"}, text);
    }
}

function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
        switch (message.role) {
            case "system": return {type: "system", text: message.content};
            case "user": return {type: "user", text: message.content};
            case "assistant": return {type: "model", response: [message.content]};
        }
    });
    // An empty model turn at the end makes the template open the assistant's reply.
    history.push({type: "model", response: []});
    return history;
}

/**
 * Renders with the model's chat wrapper. Client text stays text: the wrapper keeps special tokens
 * apart from message strings, so "<|im_end|>" typed by a client is tokenized as plain characters.
 */
function renderPrompt(loaded: Loaded, messages: ChatMessage[]): {text: string; tokens: Token[]} {
    const {contextText} = loaded.chatWrapper.generateContextState({chatHistory: toChatHistory(messages)});
    return {text: contextText.toString(), tokens: contextText.tokenize(loaded.model.tokenizer)};
}
