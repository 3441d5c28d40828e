import {getModuleVersion, type Llama, type LlamaEmbeddingContext, type LlamaModel, type Token} from "node-llama-cpp";
import type {Config, ModelSource} from "../../config/config.js";
import {modelDisplayName} from "../../config/modelSource.js";
import {LoadFailure, ModelNotReadyError} from "../../errors.js";
import {unloadedStatus, type EmbeddingInput, type EmbeddingOutcome, type EngineLogger, type EngineStatus, type MemoryReport, type ModelInfo} from "../types.js";
import {failedStatus, filesSize, modelSetting, readModelFacts, type ModelFacts} from "./modelFile.js";
import {ModelFilesFinder} from "./modelFiles.js";
import {checkMemory} from "./memoryCheck.js";
import {memoryReport} from "./memoryReport.js";
import {startBackend} from "./backend.js";

export type EmbeddingEngineSettings = Pick<Config,
    "modelsDir" | "hfToken" | "hfEndpoint" | "modelName" | "contextSize" | "threads" | "gpu" | "gpuLayers" | "memoryCheck"> & {model: ModelSource};

interface Loaded {
    model: LlamaModel;
    context: LlamaEmbeddingContext;
    /** Tokens an input may take: the context, less one (node-llama-cpp refuses an input that fills it). */
    maxInputTokens: number;
    loadTimeSeconds: number;
}

/**
 * An embedding model (MODELS' `?kind=embedding`), served in a runner of its own like a chat model:
 * node-llama-cpp's embedding context, one sequence. That context evaluates one input at a time
 * (concurrent `getEmbeddingFor` calls wait on its lock), so the batching across requests happens
 * before it: the service hands every input waiting at once to one `embed` call, which costs one
 * message each way and no lock hand-offs between inputs (see EmbeddingBatcher).
 *
 * llama.cpp's compute threads are THREADS (cores - 1 by default), as for chat: node-llama-cpp's
 * own default for an embedding context is 6, which oversubscribes a small machine.
 */
export class LlamaEmbeddingEngine {
    private llama: Llama | null = null;
    private loaded: Loaded | null = null;
    private facts: ModelFacts | null = null;
    private state: EngineStatus = unloadedStatus();
    private loading: Promise<void> | null = null;
    private closed = false;
    private nodeLlamaCppVersion: string | null = null;
    private expectedRamBytes: number | null = null;
    private readonly modelFiles: ModelFilesFinder;

    constructor(private readonly settings: EmbeddingEngineSettings, private readonly logger: EngineLogger) {
        const {model, modelsDir: directory, hfToken: token, hfEndpoint: endpoint} = settings;
        this.modelFiles = new ModelFilesFinder(model, {directory, token, endpoint}, logger, (download) => {
            if (this.state.state === "loading") this.state = {...this.state, download};
        });
    }

    status(): EngineStatus {
        return {...this.state};
    }

    /** Finds (or downloads) the model's files; as LlamaEngine.fetch. */
    async fetch(): Promise<void> {
        if (this.closed || this.loaded != null) return;
        this.state = {state: "loading", reason: null, loadProgress: 0, code: null};
        await this.modelFiles.find().catch((err: unknown) => this.fail(err));
    }

    load(): Promise<void> {
        if (this.loaded != null || this.closed) return Promise.resolve();
        this.loading ??= this.doLoad().finally(() => {
            this.loading = null;
        });
        return this.loading;
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
            this.llama ??= await startBackend(this.settings, this.logger);
            const llama = this.llama;
            this.nodeLlamaCppVersion ??= await getModuleVersion().catch(() => null);
            const facts = await readModelFacts(llama, files.files, modelSetting(this.settings.model));
            this.facts = facts;
            const contextSize = Math.min(this.settings.contextSize, facts.trainContextSize ?? this.settings.contextSize);
            if (this.settings.memoryCheck) {
                // One sequence, and a batch as large as the context: a pooled embedding is computed in one batch.
                const verdict = await checkMemory(llama, facts.insights, {gpuLayers: this.settings.gpuLayers, contextSize, parallel: 1, batchSize: contextSize});
                this.expectedRamBytes = verdict.need.ramBytes;
                if (!verdict.fits) throw new LoadFailure("insufficient_memory", verdict.reason);
            }
            model = await llama.loadModel({
                modelPath: files.entrypoint,
                gpuLayers: this.settings.gpuLayers ?? "auto",
                onLoadProgress: (progress) => {
                    if (this.state.state === "loading") this.state = {...this.state, loadProgress: Math.min(0.99, progress)};
                }
            });
            const context = await model.createEmbeddingContext({contextSize, batchSize: contextSize, threads: this.settings.threads});
            const loadTimeSeconds = (performance.now() - started) / 1000;
            this.loaded = {model, context, maxInputTokens: contextSize - 1, loadTimeSeconds};
            this.state = {state: "ready", reason: null, loadProgress: null, code: null};
            this.logger.info({modelPath: files.entrypoint, kind: "embedding", contextSize, embeddingSize: model.embeddingVectorSize, gpu: llama.gpu,
                loadTimeSeconds: Number(loadTimeSeconds.toFixed(3))}, "model loaded");
        } catch (err) {
            this.fail(err);
            await model?.dispose().catch(() => undefined);
        }
    }

    async unload(): Promise<void> {
        await this.loading;
        const loaded = this.loaded;
        this.loaded = null;
        this.state = unloadedStatus();
        if (loaded != null) {
            await loaded.context.dispose();
            await loaded.model.dispose();
        }
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

    limits(): {maxTokenChars: number | null; expectedRamBytes: number | null} {
        return {maxTokenChars: this.facts?.maxTokenChars ?? null, expectedRamBytes: this.expectedRamBytes};
    }

    info(): ModelInfo {
        const {loaded, llama, facts} = this;
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
            contextSize: loaded != null ? loaded.maxInputTokens + 1 : this.settings.contextSize,
            parallel: 1,
            threads: llama?.maxThreads ?? null,
            gpu: llama == null ? null : llama.gpu === false ? "cpu" : llama.gpu,
            gpuLayers: loaded?.model.gpuLayers ?? null,
            chatTemplate: null, modelType: null,
            nodeLlamaCppVersion: this.nodeLlamaCppVersion,
            llamaCppRelease: llama?.llamaCppRelease.release ?? null,
            loadTimeSeconds: loaded?.loadTimeSeconds ?? null,
            deterministic: null, fingerprint: null,
            embeddingSize: loaded?.model.embeddingVectorSize ?? null
        };
    }

    /**
     * Each group's inputs, checked first (so a refused group costs no evaluation), then embedded
     * one after another in the one sequence; `progress` is called after each input (the runner's step watchdog).
     */
    async embed(groups: EmbeddingInput[][], progress: () => void = () => undefined): Promise<EmbeddingOutcome[]> {
        const loaded = this.loaded;
        if (loaded == null) throw new ModelNotReadyError(this.state.state, this.state.reason);
        const outcomes: EmbeddingOutcome[] = [];
        for (const group of groups) {
            const checked = this.check(loaded, group);
            if (!checked.ok) {
                outcomes.push(checked);
                continue;
            }
            const vectors: Float32Array[] = [];
            for (const input of group) {
                vectors.push(Float32Array.from((await loaded.context.getEmbeddingFor(typeof input === "string" ? input : [...input] as Token[])).vector));
                progress();
            }
            outcomes.push({ok: true, vectors, promptTokens: checked.promptTokens});
        }
        return outcomes;
    }

    /** The tokens a group takes (beginning and end tokens included), or its first input that cannot be embedded. */
    private check(loaded: Loaded, group: EmbeddingInput[]): {ok: true; promptTokens: number} | Extract<EmbeddingOutcome, {ok: false}> {
        const vocabulary = this.facts?.vocabularySize ?? null;
        let promptTokens = 0;
        for (const [index, input] of group.entries()) {
            if (typeof input !== "string") {
                const bad = input.find((token) => !Number.isInteger(token) || token < 0 || (vocabulary != null && token >= vocabulary));
                if (bad != null)
                    return {ok: false, input: index, reason: `token id ${bad} is not in the model's vocabulary (0..${(vocabulary ?? 1) - 1})`};
            }
            const length = loaded.context.calculateInputLength(typeof input === "string" ? input : [...input] as Token[]);
            if (length === 0)
                return {ok: false, input: index, reason: "is empty"};
            if (length > loaded.maxInputTokens)
                return {ok: false, input: index, reason: `takes ${length} tokens, more than the ${loaded.maxInputTokens} the embedding model's context holds ` +
                    "(CONTEXT_SIZE, or the model's trained context); inputs are not truncated"};
            promptTokens += length;
        }
        return {ok: true, promptTokens};
    }

    /** An embedding model holds no chat sequences (the runner reports none). */
    sequenceViews(): [] {
        return [];
    }
}
