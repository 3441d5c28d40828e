import type {Config} from "../../config/config.js";
import {MalformedChunkError, ModelNotReadyError, WorkerError} from "../../errors.js";
import {unloadedStatus} from "../types.js";
import type {
    ChatMessage, Engine, EngineLogger, EngineStatus, FinishReason, GenerateRequest, GenerationEvent, MemoryReport,
    ModelInfo, RenderedPrompt, ToolSet
} from "../types.js";
import {UpstreamClient, type JsonResponse, type UpstreamStream} from "./upstreamClient.js";
import {parseChunk, type ParsedChunk, type UpstreamUsage} from "./upstreamStream.js";
import {upstreamRequestBody} from "./upstreamRequest.js";
import {TemplateProbe, type RenderMode} from "./templateProbe.js";

type UpstreamSettings = Pick<Config,
    "upstreamUrl" | "upstreamApiKey" | "upstreamModel" | "upstreamTimeoutSeconds" | "upstreamGrammarField" |
    "modelName" | "contextSize" | "parallel">;

/** /health reads `status()` often; the upstream is asked again at most this often. */
const PROBE_INTERVAL_MS = 2000;

/**
 * The engine for `ENGINE=openai`: forwards every generation to an OpenAI-compatible upstream (vLLM,
 * llama-server, Ollama, TGI, or another chat-worker's /v1). It has no sequences of its own; its
 * sequences are the PARALLEL requests it forwards at once, so the scheduler queues the rest.
 */
export class UpstreamEngine implements Engine {
    readonly sequences: number;
    /** An unreachable upstream may come back at any moment: requests still go through and report the real fault. */
    readonly failureIsTransient = true;
    private readonly client: UpstreamClient;
    private state: EngineStatus = unloadedStatus();
    private unloaded = false;
    private closed = false;
    /** The model id we ask for: UPSTREAM_MODEL, or the first one the upstream lists. */
    private model: string | null;
    /** The upstream's context window when its /models says (vLLM's max_model_len). */
    private upstreamContextSize: number | null = null;
    private readonly templates: TemplateProbe;
    private loading: Promise<void> | null = null;
    private probing: Promise<void> | null = null;
    private lastProbeAt = 0;
    private warnedNoUsage = false;

    constructor(private readonly settings: UpstreamSettings, private readonly logger: EngineLogger) {
        if (settings.upstreamUrl == null)
            throw new Error("UpstreamEngine needs UPSTREAM_URL");
        this.sequences = settings.parallel;
        this.model = settings.upstreamModel;
        this.client = new UpstreamClient({
            baseUrl: settings.upstreamUrl, apiKey: settings.upstreamApiKey, timeoutSeconds: settings.upstreamTimeoutSeconds
        });
        this.templates = new TemplateProbe(this.client, logger);
    }

    get contextSize(): number {
        return this.upstreamContextSize ?? this.settings.contextSize;
    }

    /** The last known reachability; a stale answer starts a fresh probe in the background. */
    status(): EngineStatus {
        if (!this.unloaded && !this.closed && this.loading == null && this.probing == null &&
            Date.now() - this.lastProbeAt > PROBE_INTERVAL_MS)
            this.probing = this.probe().finally(() => {
                this.probing = null;
            });
        return {...this.state};
    }

    load(): Promise<void> {
        this.unloaded = false;
        if (this.state.state === "ready")
            return Promise.resolve();
        this.loading ??= (async () => {
            this.state = {state: "loading", reason: null, loadProgress: null};
            await this.probe();
        })().finally(() => {
            this.loading = null;
        });
        return this.loading;
    }

    async whenSettled(): Promise<void> {
        await this.loading;
    }

    /** Stops forwarding; the upstream keeps its model (its memory is not ours to free). */
    async unload(): Promise<void> {
        await this.loading;
        this.unloaded = true;
        this.state = unloadedStatus();
    }

    async close(): Promise<void> {
        this.closed = true;
        this.client.abortAll();
        await Promise.allSettled([this.loading, this.probing]);
        await this.unload();
    }

    /** The memory belongs to the upstream; we cannot see it, so every figure is null. */
    async memory(): Promise<MemoryReport> {
        return {deviceType: "upstream", device: null, deviceName: null, memoryKind: null, totalBytes: null, usedBytes: null, freeBytes: null, modelBytes: null};
    }

    info(): ModelInfo {
        return {
            engine: "openai",
            modelName: this.settings.modelName ?? this.model ?? "unknown",
            modelPath: null,
            architecture: null,
            parameterCount: null,
            fileSizeBytes: null,
            weightsBytes: null,
            quantization: null,
            trainedContextSize: null,
            contextSize: this.contextSize,
            parallel: this.sequences,
            threads: null,
            gpu: null,
            gpuLayers: null,
            chatTemplate: null,
            modelType: null,
            nodeLlamaCppVersion: null,
            llamaCppRelease: null,
            loadTimeSeconds: null,
            deterministic: null,
            fingerprint: null
        };
    }

    /**
     * Asks GET /models whether the upstream answers and which model it serves. Never throws: the
     * outcome is the engine's state, which /health reports.
     */
    private async probe(): Promise<void> {
        this.lastProbeAt = Date.now();
        let next: EngineStatus;
        try {
            const response = await this.client.json("GET", this.client.url("/models"));
            if (response.status !== 200)
                throw this.client.errorFromStatus(response.status, response.body, response.text, response.headers.get("retry-after"),
                    this.client.url("/models"));
            next = this.adoptModelList(response);
        } catch (err) {
            next = {state: "failed", reason: err instanceof Error ? err.message : String(err), loadProgress: null};
        }
        if (this.unloaded || this.closed)
            return;
        if (next.state !== this.state.state || next.reason !== this.state.reason)
            (next.state === "ready" ? this.logger.info : this.logger.warn).call(this.logger,
                {upstream: this.client.displayUrl, model: this.model, state: next.state, reason: next.reason}, "upstream state changed");
        this.state = next;
    }

    private adoptModelList(response: JsonResponse): EngineStatus {
        const data = (response.body as {data?: unknown} | null)?.data;
        if (!Array.isArray(data))
            return failed(`The upstream at ${this.client.displayUrl} answered GET /models without a model list`);
        const models = data.filter((entry): entry is {id: string; max_model_len?: unknown} =>
            typeof entry === "object" && entry != null && typeof entry.id === "string");
        const wanted = this.settings.upstreamModel ?? models[0]?.id ?? null;
        if (wanted == null)
            return failed(`The upstream at ${this.client.displayUrl} lists no models`);
        const entry = models.find((model) => model.id === wanted);
        if (entry == null)
            return failed(`The upstream at ${this.client.displayUrl} does not serve UPSTREAM_MODEL ${JSON.stringify(wanted)}; ` +
                `it serves ${models.map((model) => JSON.stringify(model.id)).join(", ")}`);
        this.model = wanted;
        this.upstreamContextSize = typeof entry.max_model_len === "number" && entry.max_model_len > 0 ? entry.max_model_len : null;
        return {state: "ready", reason: null, loadProgress: null};
    }

    /** The model to ask for; an upstream that was down at boot is asked again before giving up. */
    private async requireModel(): Promise<string> {
        if (this.unloaded || this.closed)
            throw new ModelNotReadyError("unloaded", null);
        if (this.model == null)
            await (this.loading ?? this.load());
        if (this.model == null)
            throw new ModelNotReadyError(this.state.state, this.state.reason);
        return this.model;
    }

    /** Records what a request learned about reachability, so /health does not wait for the next probe. */
    private observe(error: WorkerError | null): void {
        if (this.unloaded || this.closed) return;
        if (error == null) {
            if (this.state.state === "failed" && this.model != null)
                this.state = {state: "ready", reason: null, loadProgress: null};
        } else if (error.code === "upstream_unreachable" || error.code === "upstream_timeout")
            this.state = {state: "failed", reason: error.message, loadProgress: null};
    }

    async render(messages: ChatMessage[], tools: ToolSet | null = null): Promise<RenderedPrompt> {
        const model = await this.requireModel();
        try {
            const prompt = await this.templates.render(model, messages, tools);
            this.observe(null);
            return prompt;
        } catch (err) {
            if (err instanceof WorkerError) this.observe(err);
            throw err;
        }
    }

    /** Plain text tokenized as text (the /enhance budget check); null when the upstream has no /tokenize. */
    async countTokens(text: string): Promise<number | null> {
        return this.templates.countTokens(text);
    }

    /** A raw prompt goes to the upstream's /completions as it is; its token count when the upstream can tell. */
    async renderRaw(text: string): Promise<RenderedPrompt> {
        await this.requireModel();
        return {messages: [], raw: true, text, tokenCount: await this.templates.countTokens(text)};
    }

    /** The render mode found so far, for the debug endpoint's note. */
    get templateSource(): RenderMode {
        return this.templates.mode;
    }

    async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent> {
        const model = await this.requireModel();
        const {prompt, params, signal} = request;
        let textChunks = 0;
        let logprobEntries = 0;
        let upstreamUsage: UpstreamUsage | null = null;
        const usage = () => upstreamUsage ?? this.estimatedUsage(prompt, textChunks);
        const aborted = (): GenerationEvent => ({type: "end", finishReason: request.abortReason?.() ?? "abort", usage: usage()});
        if (signal.aborted) {
            yield aborted();
            return;
        }

        const url = this.client.url(prompt.raw === true ? "/completions" : "/chat/completions");
        let stream: UpstreamStream | null = null;
        let finishReason: FinishReason | null = null;
        let done = false;
        try {
            stream = await this.client.stream(url, upstreamRequestBody(model, params, prompt, this.settings.upstreamGrammarField), signal);
            if (stream == null) {
                yield aborted();
                return;
            }
            this.observe(null);
            try {
                for await (const data of stream.data) {
                    stream.kick();
                    if (data.trim() === "[DONE]") {
                        done = true;
                        break;
                    }
                    const chunk: ParsedChunk = parseChunk(data, stream.streamed);
                    if (chunk.error != null) {
                        // Before any text, the error is what the upstream answered (it had already
                        // sent its headers); after, the answer broke.
                        throw textChunks === 0 && chunk.error.status != null
                            ? this.client.errorFromStatus(chunk.error.status,
                                {error: {message: chunk.error.message, code: chunk.error.code}}, "", null, url)
                            : new WorkerError("bad_gateway", "upstream_stream_error",
                                `The upstream at ${this.client.displayUrl} failed mid-stream: ${chunk.error.message.slice(0, 300)}`);
                    }
                    if (chunk.logprobs != null) logprobEntries += chunk.logprobs.length;
                    if (chunk.toolCalls.length > 0) textChunks++;
                    yield* chunk.toolCalls;
                    if (chunk.text !== "" || (params.logprobs != null && chunk.logprobs != null)) {
                        if (chunk.text !== "") textChunks++;
                        yield params.logprobs != null
                            ? {type: "text", text: chunk.text, logprobs: chunk.logprobs ?? []}
                            : {type: "text", text: chunk.text};
                    }
                    finishReason = chunk.finishReason ?? finishReason;
                    upstreamUsage = chunk.usage ?? upstreamUsage;
                    if (!stream.streamed) done = true;
                }
            } catch (err) {
                if (signal.aborted) {
                    yield aborted();
                    return;
                }
                if (err instanceof WorkerError) throw err;
                if (stream.timedOut()) throw this.client.timeoutError(url);
                if (err instanceof MalformedChunkError)
                    throw new WorkerError("bad_gateway", "upstream_malformed_stream",
                        `The upstream at ${this.client.displayUrl} sent a malformed stream: ${err.message}`);
                throw new WorkerError("bad_gateway", "upstream_connection_failed",
                    `The connection to the upstream at ${this.client.displayUrl} broke mid-stream (${(err as Error).message})`);
            }
            if (signal.aborted) {
                yield aborted();
                return;
            }
            if (!done && finishReason == null)
                throw new WorkerError("bad_gateway", "upstream_stream_incomplete",
                    `The upstream at ${this.client.displayUrl} closed the stream before the answer was complete`);
            done = true;
            if (params.logprobs != null && textChunks > 0 && logprobEntries === 0)
                throw new WorkerError("bad_gateway", "upstream_logprobs_missing",
                    `logprobs were asked for, but the upstream at ${this.client.displayUrl} sent none`);
            if (upstreamUsage == null && !this.warnedNoUsage) {
                this.warnedNoUsage = true;
                this.logger.warn({upstream: this.client.displayUrl},
                    "the upstream sends no usage; token counts are estimated from the rendered prompt and the streamed chunks");
            }
            yield {type: "end", finishReason: finishReason ?? "stop", usage: usage()};
        } catch (err) {
            if (err instanceof WorkerError) {
                this.observe(err);
                this.logger.warn({upstream: this.client.displayUrl, code: err.code, kind: err.kind}, "upstream request failed");
            }
            throw err;
        } finally {
            stream?.close(done);
        }
    }

    private estimatedUsage(prompt: RenderedPrompt, textChunks: number): UpstreamUsage {
        return {promptTokens: prompt.tokenCount ?? 0, completionTokens: textChunks, cachedTokens: 0};
    }
}

function failed(reason: string): EngineStatus {
    return {state: "failed", reason, loadProgress: null};
}
