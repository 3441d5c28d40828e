import type {Config, ModelKind, ModelSource} from "../../config/config.js";
import type {ErrorKind, OverflowFacts} from "../../errors.js";
import type {
    CacheEvent, ChatInput, ChatMessage, EmbeddingInput, EmbeddingOutcome, EngineStatus, FinishReason, GenerateRequest, GenerationEvent, MemoryReport, ModelInfo,
    PreparedPrompt, RawInput, RenderedPrompt, ToolSet
} from "../types.js";
import type {SequenceView} from "../llama/sequenceAffinity.js";
import type {StateDiscardReason} from "../llama/stateStore.js";

/**
 * The messages between the HTTP process and its model runner (a child process that owns
 * llama.cpp), over Node's IPC channel. The runner answers calls by id and streams generation
 * events, batched per turn of its event loop.
 */

const RUNNER_SETTINGS = [
    "modelsDir", "hfToken", "hfEndpoint", "modelName", "contextSize", "parallel", "threads", "batchSize", "batchFill", "gpu", "gpuLayers",
    "memoryCheck", "conversationCache", "conversationCacheDir", "conversationCacheMaxBytes", "deterministic"
] as const satisfies ReadonlyArray<keyof Config>;

/** The embedded engine's settings, handed to the runner at start: the worker's, and the one model it serves (a chat or an embedding model). */
export type RunnerSettings = Pick<Config, (typeof RUNNER_SETTINGS)[number]> & {model: ModelSource; kind: ModelKind};

/**
 * Only what the engine reads crosses to the runner: no API or service keys. HF_TOKEN does, because
 * the runner downloads the model; the runner logs no settings.
 */
export function runnerSettings(config: Config): Omit<RunnerSettings, "model" | "kind"> {
    return Object.fromEntries(RUNNER_SETTINGS.map((name) => [name, config[name]])) as Omit<RunnerSettings, "model" | "kind">;
}

export interface RunnerCalls {
    /** Finds (or downloads) the model's files; settles like `load`, the status saying how it went. */
    fetchModel: {args: []; result: void};
    load: {args: []; result: void};
    render: {args: [ChatMessage[], ToolSet | null]; result: RenderedPrompt};
    /** Fits the prompt to the context in the runner (promptFit.ts): one round trip, and the tokens stay there. */
    prepare: {args: [ChatInput | RawInput, number, ToolSet | null]; result: PreparedPrompt};
    promptTokens: {args: [number]; result: number[] | null};
    renderRaw: {args: [string]; result: RenderedPrompt};
    countTokens: {args: [string]; result: number};
    specialTokenId: {args: [string]; result: number | null};
    /** An embedding model's runner only: each request's inputs, batched into one call. */
    embed: {args: [EmbeddingInput[][]]; result: EmbeddingOutcome[]};
}
export type RunnerCall = keyof RunnerCalls;

export type ParentMessage =
    | {type: "init"; settings: RunnerSettings}
    | {type: "call"; id: number; method: RunnerCall; args: unknown[]}
    /** The engine's GenerateRequest, less what stays in the parent (the signal and its reason: "abort" says it). */
    | {type: "generate"; id: number; request: Omit<GenerateRequest, "signal" | "abortReason">}
    | {type: "abort"; id: number; reason: FinishReason}
    /** The heartbeat (runnerLiveness.ts): answered at once by a pong with the same `seq`. */
    | {type: "ping"; seq: number}
    | {type: "close"};

/** A WorkerError (or anything thrown) as it crosses the process boundary. */
export interface WireError {
    name: string;
    kind: ErrorKind;
    code: string;
    message: string;
    details: {param?: string; retryAfterSeconds?: number};
    facts?: OverflowFacts;
}

/** The runner's report of itself, kept by the parent as the last one sent: status, model facts and the prompt-size bound (facts: ModelLifecycle decides). */
export interface RunnerState {
    status: EngineStatus;
    info: ModelInfo;
    /** Characters of the longest token, for refusing text that cannot fit before tokenizing it; null until loaded. */
    maxTokenChars: number | null;
    /** node-llama-cpp's estimate of the RAM the load needs, once the memory check ran; bounds the runner's memory. */
    expectedRamBytes: number | null;
}

export type RunnerMessage =
    | {type: "ready"}
    /** A ping's answer; `stalledMs`: how long the running generations have made no progress (null: none runs). */
    | {type: "pong"; seq: number; stalledMs: number | null}
    /** The device's memory as the runner last measured it (after each ping, and before a load answers): the parent keeps it. */
    | {type: "memory"; report: MemoryReport}
    | {type: "state"; state: RunnerState}
    | {type: "result"; id: number; value: unknown}
    | {type: "error"; id: number; error: WireError}
    | {type: "events"; events: Array<{id: number; event: GenerationEvent}>}
    | {type: "generateError"; id: number; error: WireError}
    | {type: "sequence"; view: SequenceView}
    | {type: "cache"; event: CacheEvent}
    | {type: "discard"; reason: StateDiscardReason}
    /** Evaluation batches since the last report, as [tokens, sequences, count] (sent with the state ticks, not per batch). */
    | {type: "batches"; batches: Array<[number, number, number]>}
    | {type: "log"; level: "info" | "warn" | "error"; details: Record<string, unknown>; message: string};
