import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from "prom-client";

/** Live figures the gauges read at scrape time, so they are never stale copies. */
export interface MetricsSources {
    /** Requests waiting for a sequence or for the model. */
    queueDepth(): number;
    /** Sequences generating now. */
    runningSequences(): number;
    /** Each served model by name, and whether it is loaded and ready. */
    modelsLoaded(): Array<{model: string; loaded: boolean}>;
}

const PREFIX = "chat_worker_";

/** Running totals read from the counters, for /health's `stats` (the same numbers /metrics exposes). */
export interface MetricTotals {
    /** Generations that reached an end (any finish reason). */
    generations: number;
    /** Sum of their durations, in seconds (`generationSeconds`). */
    generationSeconds: number;
    generatedTokens: number;
    promptTokens: number;
    /** HTTP responses with a 5xx status. */
    serverErrors: number;
    /** HTTP responses with a 4xx status (bad input, auth, not found, full queue, unload conflict). */
    clientErrors: number;
    modelLoads: number;
    failedModelLoads: number;
    modelUnloads: number;
}

/**
 * The worker's Prometheus metrics, in a registry of its own (not prom-client's global one), so
 * several workers in one process (tests) keep separate counts.
 */
export class WorkerMetrics {
    readonly registry = new Registry();
    readonly httpRequests: Counter<"method" | "route" | "status">;
    readonly httpRequestSeconds: Histogram<"method" | "route">;
    readonly promptTokens: Counter;
    readonly generatedTokens: Counter;
    readonly timeToFirstToken: Histogram;
    readonly interTokenLatency: Histogram;
    readonly generations: Counter<"finish_reason">;
    /** From the start of a generation (prompt evaluation included, queue excluded) to its end. */
    readonly generationSeconds: Histogram;
    readonly modelLoadSeconds: Gauge<"model">;
    /** Tokens in each evaluation batch (prompt pieces and generation steps of every sequence together). */
    readonly decodeBatchTokens: Histogram;
    /** Sequences with tokens in each evaluation batch. */
    readonly decodeBatchSequences: Histogram;
    readonly modelLoads: Counter<"result">;
    readonly modelUnloads: Counter<"cause">;
    /** Conversation cache: a request whose prefix was reused, from a warm sequence or a restored state. */
    readonly cacheHits: Counter<"source">;
    /** Conversation cache: a request that had to evaluate its prompt from scratch. Incremented by the cache. */
    readonly cacheMisses: Counter;
    /** Conversation cache: prompt tokens reused instead of evaluated. Incremented by the cache. */
    readonly cachedTokens: Counter;
    /** Conversation cache: stored states thrown away (damaged bytes, gone, wrong tokens). */
    readonly cacheDiscards: Counter<"reason">;
    /** The model runner process: exits it did not ask for, by signal or exit code. */
    readonly runnerCrashes: Counter<"cause">;

    /** Counts one generation's prompt reuse (called by the engine through worker.ts). */
    /** `count` evaluation batches of `tokens` tokens from `sequences` sequences. */
    recordBatches(tokens: number, sequences: number, count: number): void {
        for (let i = 0; i < count; i++) {
            this.decodeBatchTokens.observe(tokens);
            this.decodeBatchSequences.observe(sequences);
        }
    }

    recordCache(event: {source: "warm" | "restored" | "miss"; reusedTokens: number}): void {
        if (event.source === "miss")
            this.cacheMisses.inc();
        else {
            this.cacheHits.inc({source: event.source});
            this.cachedTokens.inc(event.reusedTokens);
        }
    }

    constructor(sources: MetricsSources) {
        const registers = [this.registry];
        this.httpRequests = new Counter({
            name: `${PREFIX}http_requests_total`, help: "HTTP requests by method, route pattern and status code.",
            labelNames: ["method", "route", "status"], registers
        });
        this.httpRequestSeconds = new Histogram({
            name: `${PREFIX}http_request_duration_seconds`, help: "HTTP request duration by route pattern (streams: until the last event).",
            labelNames: ["method", "route"], buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers
        });
        new Gauge({
            name: `${PREFIX}queue_depth`, help: "Requests waiting for a free sequence or for the model to load.", registers,
            collect() {
                this.set(sources.queueDepth());
            }
        });
        new Gauge({
            name: `${PREFIX}running_sequences`, help: "Sequences generating now.", registers,
            collect() {
                this.set(sources.runningSequences());
            }
        });
        new Gauge({
            name: `${PREFIX}model_loaded`, help: "1 when the model is loaded and ready, else 0.", labelNames: ["model"] as const, registers,
            collect() {
                this.reset();
                for (const {model, loaded} of sources.modelsLoaded()) this.set({model}, loaded ? 1 : 0);
            }
        });
        this.promptTokens = new Counter({name: `${PREFIX}prompt_tokens_total`, help: "Prompt tokens of completed generations.", registers});
        this.generatedTokens = new Counter({name: `${PREFIX}generation_tokens_total`, help: "Tokens generated.", registers});
        this.timeToFirstToken = new Histogram({
            name: `${PREFIX}time_to_first_token_seconds`, help: "From request arrival (queue included) to the first generated text.",
            buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers
        });
        this.interTokenLatency = new Histogram({
            name: `${PREFIX}inter_token_latency_seconds`, help: "Time between consecutive pieces of generated text (about one token each).",
            buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers
        });
        this.generations = new Counter({
            name: `${PREFIX}generations_total`, help: "Finished generations by finish reason.", labelNames: ["finish_reason"], registers
        });
        this.generationSeconds = new Histogram({
            name: `${PREFIX}generation_duration_seconds`,
            help: "Generation time, from the start of prompt evaluation (queue excluded) to the end of the generation.",
            buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers
        });
        this.modelLoadSeconds = new Gauge({name: `${PREFIX}model_load_seconds`, help: "Duration of the last successful load of each model.", labelNames: ["model"], registers});
        this.decodeBatchTokens = new Histogram({
            name: `${PREFIX}decode_batch_tokens`, help: "Tokens in each llama.cpp evaluation batch (prompt pieces and generation steps together).",
            buckets: [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 32, 64, 128, 256, 512, 1024, 2048], registers
        });
        this.decodeBatchSequences = new Histogram({
            name: `${PREFIX}decode_batch_sequences`, help: "Sequences with tokens in each evaluation batch.",
            buckets: [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 64], registers
        });
        this.modelLoads = new Counter({name: `${PREFIX}model_loads_total`, help: "Model loads by result (ready, failed).", labelNames: ["result"], registers});
        this.modelUnloads = new Counter({name: `${PREFIX}model_unloads_total`, help: "Model unloads by cause (request, idle).", labelNames: ["cause"], registers});
        this.cacheHits = new Counter({
            name: `${PREFIX}conversation_cache_hits_total`, labelNames: ["source"] as const, registers,
            help: "Requests whose prompt prefix was reused: source=warm (still in the sequence) or restored (loaded from the conversation cache folder)."
        });
        this.cacheMisses = new Counter({name: `${PREFIX}conversation_cache_misses_total`, help: "Requests that evaluated their prompt from scratch.", registers});
        this.cachedTokens = new Counter({name: `${PREFIX}conversation_cache_tokens_total`, help: "Prompt tokens reused from a sequence instead of evaluated.", registers});
        this.cacheDiscards = new Counter({
            name: `${PREFIX}conversation_cache_discards_total`, labelNames: ["reason"] as const, registers,
            help: "Stored conversation states thrown away instead of restored: reason=checksum (bytes damaged), missing, tokens."
        });
        this.runnerCrashes = new Counter({
            name: `${PREFIX}runner_crashes_total`, labelNames: ["cause"] as const, registers,
            help: "Exits of the model runner process the worker did not ask for (cause: the signal, exit code, memory or timeout)."
        });
        collectDefaultMetrics({register: this.registry, prefix: PREFIX});
    }

    async totals(): Promise<MetricTotals> {
        const [generations, generationSeconds, generatedTokens, promptTokens, http, loads, unloads] = await Promise.all([
            this.generations.get(), this.generationSeconds.get(), this.generatedTokens.get(), this.promptTokens.get(),
            this.httpRequests.get(), this.modelLoads.get(), this.modelUnloads.get()
        ]);
        const sum = (values: ReadonlyArray<{value: number}>) => values.reduce((total, sample) => total + sample.value, 0);
        // /ready answers 503 while a model loads: that is the probe's answer, not a failed request.
        const withStatus = (digit: string) => sum(http.values.filter((sample) =>
            String(sample.labels.status).startsWith(digit) && !(sample.labels.route === "/ready" && sample.labels.status === "503")));
        return {
            generations: sum(generations.values),
            generationSeconds: sum(generationSeconds.values.filter((sample) => sample.metricName?.endsWith("_sum"))),
            generatedTokens: sum(generatedTokens.values),
            promptTokens: sum(promptTokens.values),
            serverErrors: withStatus("5"),
            clientErrors: withStatus("4"),
            modelLoads: sum(loads.values.filter((sample) => sample.labels.result === "ready")),
            failedModelLoads: sum(loads.values.filter((sample) => sample.labels.result === "failed")),
            modelUnloads: sum(unloads.values)
        };
    }

    get contentType(): string {
        return this.registry.contentType;
    }

    text(): Promise<string> {
        return this.registry.metrics();
    }
}
