import path from "node:path";
import {getModuleVersion, type Llama, type LlamaModel, type Token} from "node-llama-cpp";
import type {Config, ModelSource} from "../../config/config.js";
import {modelDisplayName} from "../../config/modelSource.js";
import {ContextOverflowError, LoadFailure, ModelNotReadyError, WorkerError} from "../../errors.js";
import {
    unloadedStatus, type CacheEvent, type ChatInput, type ChatMessage, type Engine, type EngineLogger, type EngineStatus,
    type GenerateRequest, type GenerationEvent, type MemoryReport, type ModelInfo, type PreparedPrompt, type RawInput,
    type RenderedPrompt, type SequenceHint, type ToolSet
} from "../types.js";
import {GrammarCache} from "./grammarCache.js";
import {checkLogitBias, generateTokens, type GenerationOutcome} from "./generation.js";
import {MIN_EVALUATED_TOKENS} from "./determinism.js";
import {StateStore, type StateDiscardReason} from "./stateStore.js";
import {pickSequence, prefixDigest, type SequenceView} from "./sequenceAffinity.js";
import {PreparedPrompts} from "./preparedPrompts.js";
import {renderPrompt, renderRawPrompt} from "./promptRender.js";
import {openContext, type ModelContext} from "./contextSetup.js";
import {PlainChatWrapper} from "./plainChatWrapper.js";
import {toolPlan} from "./toolPlan.js";
import {holdPrompt, PromptGroups, type Exclusive} from "./promptSharing.js";
import type {SequenceRecord} from "./prefixReuse.js";
import {endSettling, settleReply} from "./replySettle.js";
import {modelIdentity} from "./modelIdentity.js";
import {systemFingerprint} from "./fingerprint.js";
import {failedStatus, filesSize, modelSetting, readModelFacts, type ModelFacts} from "./modelFile.js";
import {ModelFilesFinder} from "./modelFiles.js";
import {checkMemory} from "./memoryCheck.js";
import {memoryReport} from "./memoryReport.js";
import {startBackend} from "./backend.js";

interface Loaded extends ModelContext {
    model: LlamaModel;
    grammars: GrammarCache;
    loadTimeSeconds: number;
    /** OpenAI's system_fingerprint for answers of this load (fingerprint.ts). */
    fingerprint: string;
    /** Spilled sequence states of this exact model, or null when CONVERSATION_CACHE_MAX_BYTES is 0. */
    store: StateStore | null;
    records: SequenceRecord[];
}

type EngineSettings = Pick<Config,
    "modelsDir" | "hfToken" | "hfEndpoint" | "modelName" | "contextSize" | "parallel" | "threads" | "batchSize" | "batchFill" |
    "gpu" | "gpuLayers" | "memoryCheck" | "conversationCache" | "conversationCacheDir" | "conversationCacheMaxBytes" | "deterministic"> & {model: ModelSource};

export interface LlamaEngineHooks {
    /** Called once per generation with how much of the prompt was reused (metrics). */
    onCache?(event: CacheEvent): void;
    /** Called when a stored conversation state is thrown away instead of used (metrics). */
    onStateDiscarded?(reason: StateDiscardReason): void;
    /** Called for each evaluation batch, with its tokens and the sequences they belong to (metrics). */
    onBatch?(tokens: number, sequences: number): void;
}

/**
 * The embedded engine: one llama.cpp model and one context with `parallel` sequences. The
 * context batches the evaluation of all its sequences by itself; we only hand each generation the
 * sequence that the scheduler leased to it.
 */
export class LlamaEngine implements Engine {
    readonly sequences: number;
    readonly contextSize: number;
    /**
     * The llama.cpp backend outlives unloads: a reload skips the backend start (about a second),
     * and the GPU's memory stays observable while no model is loaded. `close()` frees it.
     */
    private llama: Llama | null = null;
    private loaded: Loaded | null = null;
    /** The GGUF header's facts, kept after an unload or a failed load so /model/info still has them. */
    private facts: ModelFacts | null = null;
    private state: EngineStatus = unloadedStatus();
    private loading: Promise<void> | null = null;
    private unloading: Promise<void> | null = null;
    private closed = false;
    private nodeLlamaCppVersion: string | null = null;
    /** node-llama-cpp's estimate of the RAM the model and context need (memory check); null before it ran. */
    private expectedRamBytes: number | null = null;
    /** The model's files, downloaded first for MODEL; they stay known after an unload. */
    private readonly modelFiles: ModelFilesFinder;
    private readonly promptGroups = new PromptGroups();
    private readonly prepared = new PreparedPrompts();

    constructor(
        private readonly settings: EngineSettings,
        private readonly logger: EngineLogger,
        private readonly hooks: LlamaEngineHooks = {}
    ) {
        this.sequences = settings.parallel;
        this.contextSize = settings.contextSize;
        const {model, modelsDir: directory, hfToken: token, hfEndpoint: endpoint} = settings;
        this.modelFiles = new ModelFilesFinder(model, {directory, token, endpoint}, logger, (download) => {
            if (this.state.state === "loading") this.state = {...this.state, download};
        });
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

    /**
     * Finds the model's files, downloading them first for MODEL; settles like a load (a failure
     * leaves the engine failed). The runner calls it before `load()`: a download is not a load's time.
     */
    async fetch(): Promise<void> {
        if (this.closed || this.loaded != null) return;
        this.state = {state: "loading", reason: null, loadProgress: 0, code: null};
        await this.modelFiles.find().catch((err: unknown) => this.fail(err));
    }

    private fail(err: unknown): void {
        this.state = failedStatus(err, this.settings.model, this.modelFiles.files?.entrypoint ?? null, this.logger);
    }

    private async doLoad(): Promise<void> {
        const started = performance.now();
        this.state = {state: "loading", reason: null, loadProgress: 0, code: null};
        let model: LlamaModel | null = null;
        try {
            const files = await this.modelFiles.find();
            const llama = await this.backend();
            // node-llama-cpp's own version (its package.json is not importable through its exports
            // map); read before the conversation cache identity, which depends on it.
            this.nodeLlamaCppVersion ??= await getModuleVersion().catch(() => null);
            const facts = await readModelFacts(llama, files.files, modelSetting(this.settings.model));
            this.facts = facts;
            if (this.settings.memoryCheck) {
                const verdict = await checkMemory(llama, facts.insights, this.settings);
                this.expectedRamBytes = verdict.need.ramBytes;
                if (!verdict.fits)
                    throw new LoadFailure("insufficient_memory", verdict.reason);
                this.logger.info({
                    ramBytes: verdict.need.ramBytes, freeRamBytes: verdict.need.freeRamBytes,
                    vramBytes: verdict.need.vramBytes, freeVramBytes: verdict.need.freeVramBytes
                }, "memory check passed");
            }
            model = await llama.loadModel({
                modelPath: files.entrypoint,
                gpuLayers: this.settings.gpuLayers ?? "auto",
                onLoadProgress: (progress) => {
                    if (this.state.state === "loading")
                        this.state = {...this.state, loadProgress: Math.min(0.99, progress)};
                }
            });
            const opened = await openContext(llama, model, facts, this.settings, (tokens, sequences) => this.hooks.onBatch?.(tokens, sequences));
            const {context, sequences, chatWrapper, deterministic} = opened;
            let store: StateStore | null = null;
            if (this.settings.conversationCache && this.settings.conversationCacheMaxBytes > 0) {
                // States are only loadable into the model (and context layout) that wrote them.
                const identity = await modelIdentity(files.files, {
                    nodeLlamaCpp: this.nodeLlamaCppVersion, kvKey: context.kvCacheKeyType, kvValue: context.kvCacheValueType,
                    flashAttention: context.flashAttention, gpu: llama.gpu, deterministic
                }, this.settings.conversationCacheDir);
                store = new StateStore(path.join(this.settings.conversationCacheDir, identity), this.settings.conversationCacheMaxBytes,
                    this.logger, (reason) => this.hooks.onStateDiscarded?.(reason));
                await store.open();
            }
            const fingerprint = await systemFingerprint(files.files, {
                nodeLlamaCpp: this.nodeLlamaCppVersion, llamaCpp: llama.llamaCppRelease.release, contextSize: context.contextSize,
                kvKey: context.kvCacheKeyType, kvValue: context.kvCacheValueType, flashAttention: context.flashAttention, gpu: llama.gpu, deterministic
            }, this.settings.conversationCacheDir);
            const loadTimeSeconds = (performance.now() - started) / 1000;
            this.loaded = {
                model, ...opened,
                grammars: new GrammarCache(llama), loadTimeSeconds, fingerprint, store,
                records: sequences.map(() => ({conversationId: null, lastUsed: 0, lastExchange: null, reusableEnd: Number.POSITIVE_INFINITY, settling: null}))
            };
            this.state = {state: "ready", reason: null, loadProgress: null, code: null};
            this.logger.info({
                modelPath: files.entrypoint, files: files.files.length, chatWrapper: chatWrapper.wrapperName, deterministic,
                flashAttention: context.flashAttention, gpu: llama.gpu, gpuLayers: model.gpuLayers, loadTimeSeconds: Number(loadTimeSeconds.toFixed(3))
            }, "model loaded");
        } catch (err) {
            this.fail(err);
            await model?.dispose().catch(() => undefined);
        }
    }

    private async backend(): Promise<Llama> {
        this.llama ??= await startBackend(this.settings, this.logger);
        return this.llama;
    }

    /** Frees the model and its context; generations still running fail on their next step. */
    unload(): Promise<void> {
        this.unloading ??= (async () => {
            await this.loading;
            const loaded = this.loaded;
            this.loaded = null;
            this.state = unloadedStatus();
            if (loaded != null) {
                await loaded.model.dispose();
                this.logger.info({modelPath: this.modelFiles.files?.entrypoint}, "model unloaded");
            }
        })().finally(() => {
            this.unloading = null;
        });
        return this.unloading;
    }

    async close(): Promise<void> {
        this.closed = true;
        this.modelFiles.abort();
        await this.unload();
        const llama = this.llama;
        this.llama = null;
        await llama?.dispose();
    }

    async memory(): Promise<MemoryReport> {
        return await memoryReport(this.llama, this.loaded != null, this.settings.gpu);
    }

    info(): ModelInfo {
        const loaded = this.loaded;
        const llama = this.llama;
        const facts = this.facts;
        return {
            engine: "embedded",
            modelName: this.settings.modelName ?? facts?.name ?? modelDisplayName(this.modelFiles.files?.entrypoint ?? this.settings.model),
            modelPath: this.modelFiles.files?.entrypoint ?? (this.settings.model.kind === "file" ? this.settings.model.path : null),
            architecture: facts?.architecture ?? null,
            parameterCount: facts?.parameterCount ?? null,
            fileSizeBytes: filesSize(this.modelFiles.knownPaths()),
            weightsBytes: facts?.insights.modelSize ?? null,
            quantization: facts?.quantization ?? null,
            trainedContextSize: facts?.trainContextSize ?? null,
            contextSize: this.contextSize,
            parallel: this.sequences,
            threads: llama != null ? llama.maxThreads : null,
            gpu: llama == null ? null : llama.gpu === false ? "cpu" : llama.gpu,
            gpuLayers: loaded?.model.gpuLayers ?? null,
            chatTemplate: loaded?.chatWrapper.wrapperName ?? null,
            modelType: loaded == null ? null : loaded.chatWrapper instanceof PlainChatWrapper ? "base" : "instruct",
            nodeLlamaCppVersion: this.nodeLlamaCppVersion,
            llamaCppRelease: llama?.llamaCppRelease.release ?? null,
            loadTimeSeconds: loaded?.loadTimeSeconds ?? null,
            deterministic: loaded?.deterministic ?? null,
            fingerprint: loaded?.fingerprint ?? null
        };
    }

    async render(messages: ChatMessage[], tools: ToolSet | null = null): Promise<RenderedPrompt> {
        const {text, tokens} = renderPrompt(this.requireLoaded(), messages, true, tools);
        return this.prepared.keep({messages, tools, text, tokenCount: tokens.length}, tokens);
    }

    async renderRaw(raw: string): Promise<RenderedPrompt> {
        const {text, tokens} = renderRawPrompt(this.requireLoaded().model, raw);
        return this.prepared.keep({messages: [], raw: true, text, tokenCount: tokens.length}, tokens);
    }

    /** Fits the prompt here, where the tokens are (PreparedPrompts.fit). */
    async prepare(input: ChatInput | RawInput, maxTokens: number, tools: ToolSet | null): Promise<PreparedPrompt> {
        return await this.prepared.fit(this.requireLoaded(), {contextSize: this.contextSize, maxTokenChars: this.facts?.maxTokenChars ?? null},
            input, maxTokens, tools);
    }

    async countTokens(text: string): Promise<number> {
        return this.requireLoaded().model.tokenize(text, false).length;
    }

    /** The prompt's tokens: those kept when it was rendered here, so `generate` does not tokenize them again. */
    private tokensOf(loaded: Loaded, prompt: RenderedPrompt): Token[] {
        return this.prepared.tokens(prompt) ?? (prompt.raw === true && prompt.text != null
            ? renderRawPrompt(loaded.model, prompt.text).tokens
            : renderPrompt(loaded, prompt.messages, true, prompt.tools ?? null).tokens);
    }

    /** The tokens kept for a prompt rendered here (tests check what the model evaluates); null when they are gone. */
    async promptTokens(key: number): Promise<number[] | null> {
        return this.prepared.tokens({messages: [], text: null, tokenCount: null, key});
    }

    /** The id of a special token such as "<|im_start|>", or null if the model has none. */
    async specialTokenId(text: string): Promise<number | null> {
        const tokens = this.requireLoaded().model.tokenize(text, true);
        return tokens.length === 1 ? tokens[0] : null;
    }

    /** What bounds the runner process: see RunnerState. */
    limits(): {maxTokenChars: number | null; expectedRamBytes: number | null} {
        return {maxTokenChars: this.facts?.maxTokenChars ?? null, expectedRamBytes: this.expectedRamBytes};
    }

    /** What each sequence holds, for a sequence picker that runs in another process. */
    sequenceViews(): SequenceView[] {
        const loaded = this.loaded;
        if (loaded == null) return [];
        return loaded.sequences.map((contextSequence, sequence) => ({
            sequence, held: prefixDigest(contextSequence.contextTokens), conversationId: loaded.records[sequence].conversationId, lastUsed: loaded.records[sequence].lastUsed
        }));
    }

    /**
     * Chooses among free sequences the one holding the longest prefix of `prompt` (conversation
     * affinity); the scheduler calls it whenever it hands out a sequence.
     */
    pickSequence(free: readonly number[], {prompt, conversationId}: SequenceHint): number {
        const loaded = this.loaded;
        if (loaded == null)
            return free[0];
        const views = this.sequenceViews();
        const digest = prompt == null ? null : prompt.prefix ?? prefixDigest(this.tokensOf(loaded, prompt));
        return pickSequence(free.map((sequence) => views[sequence]), digest, conversationId, views.length);
    }

    async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent> {
        const loaded = this.requireLoaded();
        const sequence = loaded.sequences[request.sequence];
        if (sequence == null)
            throw new WorkerError("internal", "bad_sequence", `no sequence ${request.sequence}`);
        const {params} = request;
        const tokens = this.tokensOf(loaded, request.prompt);
        if (tokens.length + params.maxTokens > this.contextSize)
            throw new ContextOverflowError({
                promptTokens: tokens.length, maxTokens: params.maxTokens, contextSize: this.contextSize, culprit: "max_tokens"
            });

        checkLogitBias(params, this.facts?.vocabularySize ?? null);
        const tools = await toolPlan(loaded, request.prompt.tools);
        const grammar = params.grammar != null ? await loaded.grammars.get(params.grammar) : null;

        const conversationId = request.conversationId ?? null;
        // Erasing, saving and restoring take the context's lock, which busy token loops never let go of.
        const exclusive: Exclusive = (work) => loaded.gate.exclusive(work);
        const record = loaded.records[request.sequence];
        const renderHistory = (messages: ChatMessage[]) => renderPrompt(loaded, messages, false).tokens;
        await endSettling(record, tokens);
        const reuse = await holdPrompt({
            sequence, record, store: loaded.store, conversationCache: this.settings.conversationCache,
            minEvaluated: loaded.deterministic ? MIN_EVALUATED_TOKENS : 1, renderHistory
        }, tokens, conversationId, request.promptGroup != null ? this.promptGroups.join(request.promptGroup) : null, request.signal, exclusive);
        this.hooks.onCache?.({source: reuse.source, reusedTokens: reuse.cached, promptTokens: tokens.length});
        record.conversationId = conversationId;
        record.lastUsed = Date.now();
        record.lastExchange = null;
        // Deterministic: the prompt is reusable, the reply (evaluated a token at a time) is not.
        record.reusableEnd = loaded.deterministic ? tokens.length : Number.POSITIVE_INFINITY;

        const outcome: GenerationOutcome = {reply: ""};
        for await (const event of generateTokens({
            model: loaded.model, sequence, eogBias: loaded.eogBias, grammar, tokens, reused: reuse.reused, cached: reuse.cached, params,
            signal: request.signal, abortReason: request.abortReason, tools, gate: loaded.gate
        }, outcome)) {
            // Before the end is told: a consumer may stop reading at the end event, and the next lease ends `settling`.
            if (event.type === "end") {
                const exchange = record.lastExchange = {messages: request.prompt.messages, reply: outcome.reply};
                if (loaded.deterministic && this.settings.conversationCache && request.prompt.raw !== true) {
                    const settling = record.settling = settleReply(sequence, record,
                        renderHistory([...exchange.messages, {role: "assistant", content: exchange.reply}]), exclusive, loaded.gate);
                    void settling.done.catch(() => undefined).finally(() => { if (record.settling === settling) record.settling = null; });
                }
            }
            yield event;
        }
    }

    private requireLoaded(): Loaded {
        if (this.loaded == null)
            throw new ModelNotReadyError(this.state.state, this.state.reason);
        return this.loaded;
    }
}
