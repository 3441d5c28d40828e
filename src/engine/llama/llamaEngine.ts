import fs from "node:fs";
import os from "node:os";
import {createRequire} from "node:module";
import {
    getLlama, LlamaLogLevel, resolveChatWrapper, ChatMLChatWrapper, TokenBias,
    LlamaGrammarEvaluationState,
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
import {GrammarCache, grammarStopTexts} from "./grammarCache.js";

/** llama-server's repeat_last_n: the repetition penalty looks back this many tokens. */
const REPEAT_PENALTY_WINDOW = 64;

const nodeLlamaCppVersion: string | null = (() => {
    try {
        return (createRequire(import.meta.url)("node-llama-cpp/package.json") as {version: string}).version;
    } catch {
        return null;
    }
})();

interface Loaded {
    llama: Llama;
    model: LlamaModel;
    context: LlamaContext;
    sequences: LlamaContextSequence[];
    chatWrapper: ChatWrapper;
    eogBias: TokenBias;
    grammars: GrammarCache;
    loadTimeSeconds: number;
}

type EngineSettings = Pick<Config,
    "modelPath" | "modelName" | "contextSize" | "parallel" | "threads" | "batchSize" | "gpu" | "gpuLayers">;

/**
 * The embedded engine: one llama.cpp model and one context with `parallel` sequences. The
 * context batches the evaluation of all its sequences by itself; we only hand each generation the
 * sequence (slot) that the scheduler leased to it.
 */
export class LlamaEngine implements Engine {
    readonly slots: number;
    readonly contextSize: number;
    private loaded: Loaded | null = null;
    private state: EngineStatus = {state: "unloaded", reason: null, loadProgress: null};
    private loading: Promise<void> | null = null;

    constructor(private readonly settings: EngineSettings, private readonly logger: EngineLogger) {
        this.slots = settings.parallel;
        this.contextSize = settings.contextSize;
    }

    status(): EngineStatus {
        return {...this.state};
    }

    /** Starts loading in the background (idempotent); `whenSettled()` tells when it is done. */
    load(): Promise<void> {
        if (this.loaded != null)
            return Promise.resolve();
        this.loading ??= this.doLoad().finally(() => {
            this.loading = null;
        });
        return this.loading;
    }

    async whenSettled(): Promise<void> {
        await this.loading;
    }

    private async doLoad(): Promise<void> {
        const started = performance.now();
        this.state = {state: "loading", reason: null, loadProgress: 0};
        let llama: Llama | null = null;
        try {
            if (!fs.existsSync(this.settings.modelPath))
                throw new Error(`model file not found: ${this.settings.modelPath} (set MODEL_PATH to a GGUF file)`);
            llama = await getLlama({
                gpu: this.settings.gpu === "false" ? false : this.settings.gpu,
                maxThreads: this.settings.threads,
                build: "never",
                logLevel: LlamaLogLevel.warn,
                logger: (level, message) => this.logLlama(level, message)
            });
            const model = await llama.loadModel({
                modelPath: this.settings.modelPath,
                gpuLayers: this.settings.gpuLayers ?? "auto",
                onLoadProgress: (progress) => {
                    this.state = {state: "loading", reason: null, loadProgress: Math.min(0.99, progress)};
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
            this.loaded = {
                llama, model, context, sequences, chatWrapper, eogBias,
                grammars: new GrammarCache(llama), loadTimeSeconds
            };
            this.state = {state: "ready", reason: null, loadProgress: null};
            this.logger.info({
                modelPath: this.settings.modelPath, chatWrapper: chatWrapper.wrapperName,
                gpu: llama.gpu, loadTimeSeconds: Number(loadTimeSeconds.toFixed(3))
            }, "model loaded");
        } catch (err) {
            const reason = describeLoadError(err);
            this.state = {state: "failed", reason, loadProgress: null};
            this.logger.error({modelPath: this.settings.modelPath, reason}, "model failed to load");
            await llama?.dispose().catch(() => undefined);
        }
    }

    /** Frees the model; generations still running fail with ModelNotReadyError on their next step. */
    async unload(): Promise<void> {
        await this.loading;
        const loaded = this.loaded;
        this.loaded = null;
        this.state = {state: "unloaded", reason: null, loadProgress: null};
        if (loaded != null)
            await loaded.llama.dispose();
    }

    async close(): Promise<void> {
        await this.unload();
    }

    async memory(): Promise<MemoryReport> {
        const loaded = this.loaded;
        const modelBytes = loaded != null
            ? loaded.model.size + loaded.context.stateSize
            : null;
        if (loaded != null && loaded.llama.gpu !== false) {
            const vram = await loaded.llama.getVramState();
            return {
                deviceType: String(loaded.llama.gpu), device: `${loaded.llama.gpu}:0`, memoryKind: "vram",
                totalBytes: vram.total, usedBytes: vram.used, freeBytes: vram.free, modelBytes
            };
        }
        const total = os.totalmem();
        const free = os.freemem();
        return {deviceType: "cpu", device: "cpu", memoryKind: "ram", totalBytes: total, usedBytes: total - free, freeBytes: free, modelBytes};
    }

    info(): ModelInfo {
        const loaded = this.loaded;
        const metadata = loaded?.model.fileInfo.metadata;
        const general = metadata?.general as {name?: string; file_type?: number} | undefined;
        const fileSize = fileSizeOf(this.settings.modelPath);
        return {
            engine: "embedded",
            modelName: this.settings.modelName ?? general?.name ?? baseName(this.settings.modelPath),
            modelPath: this.settings.modelPath,
            architecture: loaded?.model.fileInfo.metadata.general.architecture ?? null,
            parameterCount: loaded != null ? countParameters(loaded.model) : null,
            fileSizeBytes: fileSize,
            quantization: loaded?.model.fileInsights != null ? quantizationName(loaded.model) : null,
            trainedContextSize: loaded?.model.trainContextSize ?? null,
            contextSize: this.contextSize,
            parallel: this.slots,
            threads: loaded != null ? loaded.llama.maxThreads : null,
            gpu: loaded != null ? String(loaded.llama.gpu) : null,
            gpuLayers: loaded?.model.gpuLayers ?? null,
            chatTemplate: loaded?.chatWrapper.wrapperName ?? null,
            nodeLlamaCppVersion,
            llamaCppRelease: loaded?.llama.llamaCppRelease.release ?? null,
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

        const grammar = params.grammar != null ? await loaded.grammars.get(params.grammar) : null;
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
            grammarEvaluationState: grammar != null
                ? new LlamaGrammarEvaluationState({model: loaded.model, grammar})
                : undefined
        };

        const detokenizer = new IncrementalDetokenizer(
            (pending, last) => loaded.model.detokenize(pending as Token[], false, last as Token[]));
        const stops = new StopMatcher([...params.stop, ...grammarStopTexts(grammar)]);
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

function describeLoadError(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    if (/magic|gguf|invalid|failed to load model/i.test(message))
        return `model file is not a valid GGUF model: ${message}`;
    return message;
}

function fileSizeOf(filePath: string): number | null {
    try {
        return fs.statSync(filePath).size;
    } catch {
        return null;
    }
}

function baseName(filePath: string): string {
    return filePath.split(/[\\/]/).pop()?.replace(/\.gguf$/i, "") ?? filePath;
}

function countParameters(model: LlamaModel): number {
    let total = 0;
    for (const tensor of model.fileInfo.fullTensorInfo ?? [])
        total += tensor.dimensions.reduce((product: number, dim) => product * Number(dim), 1);
    return total;
}

function quantizationName(model: LlamaModel): string | null {
    const fileType = (model.fileInfo.metadata.general as {file_type?: number}).file_type;
    return model.typeDescription.split(" ").pop() ?? (fileType != null ? `file_type ${fileType}` : null);
}
