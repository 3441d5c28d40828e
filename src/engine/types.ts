/**
 * The Engine interface: everything above this layer (scheduler, service, http) talks to a model
 * only through these types, so the embedded llama.cpp engine and the OpenAI-compatible upstream
 * engine are interchangeable.
 */
export type Role = "system" | "user" | "assistant";

export interface ChatMessage {
    role: Role;
    content: string;
    /** An assistant turn's tool calls, each with the result the client ran it to (tool messages fold into these). */
    toolCalls?: ToolCallRecord[];
}

/** A tool call made in an earlier turn, and its result. */
export interface ToolCallRecord {
    id: string;
    name: string;
    /** The arguments as the JSON text the model wrote. */
    arguments: string;
    /** What the tool returned, as the client sent it. */
    result: string;
}

/** A function the model may call (OpenAI's `tools[].function`). */
export interface ToolFunction {
    name: string;
    description?: string;
    /** A JSON schema of the arguments; absent: no arguments. */
    parameters?: Record<string, unknown>;
}

/**
 * `none`: the tools are shown, no call is parsed; `auto`: the model may call; `required`: exactly one
 * call, of any function, forced by a grammar; `{name}`: exactly one call of that function.
 */
export type ToolChoice = "none" | "auto" | "required" | {name: string};

export interface ToolSet {
    functions: ToolFunction[];
    choice: ToolChoice;
    /** With `auto`, whether the model may make more than one call in a turn. */
    parallel: boolean;
}

/** Why a generation ended. `timeout` is REQUEST_TIMEOUT_SECONDS; `abort` is a client disconnect or shutdown; `tool_calls`: the turn is tool calls. */
export type FinishReason = "stop" | "length" | "abort" | "timeout" | "tool_calls";

/** `json_object`: any JSON object (OpenAI's `response_format: {type: "json_object"}`). */
export type GrammarSpec =
    | {type: "gbnf"; grammar: string}
    /** `field`: where the schema came from, for errors (default: response_format's schema). */
    | {type: "json_schema"; schema: Record<string, unknown>; field?: string}
    | {type: "json_object"};

export interface SamplingParams {
    maxTokens: number;
    /** 0 means greedy. */
    temperature: number;
    topP: number;
    topK: number;
    minP: number;
    /** 1 disables it. Applied to the last 64 tokens, as llama-server does. */
    repetitionPenalty: number;
    /** Fixed seed for reproducible sampling; null picks a random one. */
    seed: number | null;
    /** Generation ends before the first occurrence of any of these; the stop text is not returned. */
    stop: string[];
    /** Keep generating past end-of-generation tokens, so exactly maxTokens come out (benchmarks). */
    ignoreEos: boolean;
    grammar?: GrammarSpec;
    /** Lowers a token's logit by this times its count in the penalty window (OpenAI's -2..2); 0 disables. */
    frequencyPenalty: number;
    /** Lowers the logit of every token present in the penalty window by this (OpenAI's -2..2); 0 disables. */
    presencePenalty: number;
    /** [token id, value added to its logit] pairs (OpenAI's logit_bias: -100 bans, 100 forces); empty: none. */
    logitBias: Array<[number, number]>;
    /**
     * Report the log-probability of each generated token and of the `top` most likely alternatives
     * (0..20). Null or absent: no logprobs (they cost a full-vocabulary sort per token).
     */
    logprobs?: {top: number} | null;
}

/** One alternative at a generated position. */
export interface TopLogprob {
    token: string;
    logprob: number;
    /** UTF-8 bytes of `token`. */
    bytes: number[];
}

/**
 * The log-probability of one generated token, from the distribution it was sampled from (after
 * repetition penalty, top-k/top-p/min-p and temperature; greedy: the model's own distribution).
 */
export interface TokenLogprob extends TopLogprob {
    /** The `top` most likely tokens at this position, most likely first. */
    topLogprobs: TopLogprob[];
}

export interface Usage {
    promptTokens: number;
    completionTokens: number;
    /** Prompt tokens that were already evaluated in the sequence and not computed again. */
    cachedTokens: number;
}

/**
 * `text` events carry the generated text as it becomes final; with `params.logprobs`, each carries
 * the logprobs of the tokens whose text it completes (a token held back by a stop string or an
 * unfinished UTF-8 character arrives with the text that completes it).
 */
export type GenerationEvent =
    | {type: "text"; text: string; logprobs?: TokenLogprob[]}
    | ToolCallEvent
    | {type: "end"; finishReason: FinishReason; usage: Usage};

/**
 * A piece of a tool call, as OpenAI streams them: the first piece of call `index` carries its id
 * and name, later pieces carry more of the arguments' JSON text.
 */
export interface ToolCallEvent {
    type: "tool_call";
    /** The call's position among this answer's calls, from 0. */
    index: number;
    id?: string;
    name?: string;
    arguments: string;
}

export interface RenderedPrompt {
    /** The messages rendered; `generate` takes this object back so the work is not done twice. */
    messages: ChatMessage[];
    /** The tools it was rendered with (their descriptions are part of it); null or absent: none. */
    tools?: ToolSet | null;
    /** A raw prompt (OpenAI's /v1/completions): `text` is the client's text, no chat template. */
    raw?: boolean;
    /** The exact text the model sees, special tokens written out. Null when the upstream renders it. */
    text: string | null;
    /** Null when it is not known before generation (an upstream without a tokenizer endpoint). */
    tokenCount: number | null;
    /** What sequence affinity needs of the tokens (the engine keeps the tokens themselves); absent when the engine does not tokenize. */
    prefix?: PrefixDigest;
    /** The engine's handle on the tokens it rendered, so `generate` does not render again (it does when the handle is gone). */
    key?: number;
}

/** A token sequence as hashes of its prefixes: `hashes[i]` covers tokens 0 .. (i + 1) * block (see sequenceAffinity.ts). */
export interface PrefixDigest {
    length: number;
    block: number;
    hashes: number[];
}

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


/** One input of an embeddings request: text (tokenized by the model), or token ids as the client tokenized them. */
export type EmbeddingInput = string | number[];

/** One request's embeddings (pooled, not normalised) and tokens; or which input cannot be embedded and why (none is computed then). */
export type EmbeddingOutcome =
    | {ok: true; vectors: Float32Array[]; promptTokens: number}
    | {ok: false; input: number; reason: string};

export type EngineState = "loading" | "ready" | "unloaded" | "failed";

/** The status of an engine holding no model (a fresh object each time: callers may spread or keep it). */
export function unloadedStatus(): EngineStatus {
    return {state: "unloaded", reason: null, loadProgress: null, code: null};
}

/**
 * A model that went away without being asked (its runner process died, was killed for its memory
 * or its load time, or could not start): the facts, reported once. The engine restarts nothing;
 * ModelLifecycle decides what follows (see its header).
 */
export interface EngineExit {
    /** For the crash counter: the signal, "exit_N", "memory", "load_timeout", "download_stalled" or "start". */
    cause: string;
    /**
     * "runner_crashed" when nothing points at the model file (it died while serving, or was killed
     * from outside while loading); otherwise what the exit says about the model: "model_invalid"
     * (the runner died of its own accord while loading), "load_failed" (killed past its memory or
     * LOAD_TIMEOUT_SECONDS), "download_failed" (a stalled download) or "backend_unavailable" (no start).
     */
    code: string;
    /** Worded for the operator, for /health. */
    reason: string;
    /** Whether a load was under way (the model was not serving yet). */
    whileLoading: boolean;
}

export interface EngineStatus {
    state: EngineState;
    /** Why the engine is not ready (missing file, out of memory, upstream unreachable...). */
    reason: string | null;
    /** Load progress 0..1 while loading, else null. */
    loadProgress: number | null;
    /**
     * Stable code for `reason` when failed ("model_file_not_found", "model_invalid",
     * "insufficient_memory", "backend_unavailable", "load_failed", "download_failed", or an
     * engine's own); "runner_restarting" while loading after an exit (ModelLifecycle); null or
     * absent otherwise. /health reports `insufficient_memory` as degraded, other failures as
     * unhealthy. A `download_failed` load, and a failure an exit caused, are tried again (ModelLifecycle).
     */
    code?: string | null;
    /** While loading: the model's files are being downloaded first (MODEL); null or absent otherwise. */
    download?: DownloadProgress | null;
}

/** How far a model download is, over all of its files (every shard of a split model). */
export interface DownloadProgress {
    doneBytes: number;
    /** Null until the server has told the files' sizes. */
    totalBytes: number | null;
}

export interface ModelInfo {
    engine: "embedded" | "openai";
    modelName: string;
    modelPath: string | null;
    architecture: string | null;
    parameterCount: number | null;
    fileSizeBytes: number | null;
    /** Bytes of the weights (the tensor data the GGUF header describes); null when not known. */
    weightsBytes: number | null;
    quantization: string | null;
    trainedContextSize: number | null;
    contextSize: number;
    parallel: number;
    threads: number | null;
    /** Backend in use: "cuda", "vulkan", "metal", or "cpu" without a GPU; null when not known (not started). */
    gpu: string | null;
    gpuLayers: number | null;
    chatTemplate: string | null;
    /** "base" for a model without a chat template (rendered with the plain `role: content` fallback), "instruct" with one; null when not known. */
    modelType: "instruct" | "base" | null;
    nodeLlamaCppVersion: string | null;
    llamaCppRelease: string | null;
    loadTimeSeconds: number | null;
    /** Whether answers are batch-invariant (DETERMINISTIC resolved for the backend); null when not known (not loaded, upstream). */
    deterministic: boolean | null;
    /** OpenAI's `system_fingerprint` (fingerprint.ts): same fingerprint, request and seed, same answer; null when not loaded or upstream. */
    fingerprint: string | null;
    /** An embedding model's vector length once loaded; absent or null for chat models and before a load. */
    embeddingSize?: number | null;
}

export interface GenerateRequest {
    /** The sequence the scheduler leased for this generation. */
    sequence: number;
    /** A prompt from this engine's `render`. */
    prompt: RenderedPrompt;
    params: SamplingParams;
    signal: AbortSignal;
    /** The conversation this turn belongs to, if the client named one (routes it back to its state). */
    conversationId?: string | null;
    /** Why the signal fired, read when it does: "abort" for a disconnect, "timeout" for the time limit. */
    abortReason?: () => FinishReason;
    /**
     * Generations of one request's choices (`n`) share this id: the engine may evaluate their
     * common prompt once and copy it to the other sequences.
     */
    promptGroup?: string | null;
}

/** Memory as the engine's device sees it. Figures are null when unknown (e.g. an upstream's memory). */
export interface MemoryReport {
    /**
     * "cuda", "vulkan", "metal", "cpu", "upstream" when the memory belongs to another server, or
     * "unknown" before the backend has started (which device it would use is not known yet).
     */
    deviceType: string;
    /** "cuda:0", "cpu", ... or null when unknown. */
    device: string | null;
    /** The GPU's name as the backend reports it ("NVIDIA H100 80GB HBM3"); null on the CPU or when unknown. */
    deviceName: string | null;
    /** What the byte figures measure: GPU memory, system RAM, or nothing we can see. */
    memoryKind: "vram" | "ram" | null;
    totalBytes: number | null;
    usedBytes: number | null;
    freeBytes: number | null;
    /** Bytes the loaded model and its context occupy on this device (VRAM or RAM); 0 when unloaded, null when unknown. */
    modelBytes: number | null;
    /** Seconds since these figures were measured, when they come from a model runner's last report; absent when measured for this call. */
    ageSeconds?: number;
}

/** What a sequence picker may use to route a request back to the sequence that holds its prefix. */
export interface SequenceHint {
    conversationId: string | null;
    /** The prepared prompt, so the picker can find the sequence holding its longest prefix. */
    prompt: RenderedPrompt | null;
}

export interface Engine {
    /** Number of sequences that can generate at once. */
    readonly sequences: number;
    /**
     * True when a failed state can heal without a reload (an upstream that was unreachable), so
     * requests are still forwarded and report the real fault instead of being refused up front.
     */
    readonly failureIsTransient?: boolean;
    /** Per-sequence context window in tokens. */
    readonly contextSize: number;
    status(): EngineStatus;
    info(): ModelInfo;
    /**
     * Renders messages with the model's chat template, ending with an open assistant turn, with
     * the tools' descriptions when given (and, for a forced call, the start of the call).
     */
    render(messages: ChatMessage[], tools?: ToolSet | null): Promise<RenderedPrompt>;
    /** A raw prompt, no template (OpenAI's /v1/completions); its text is tokenized as text. */
    renderRaw(text: string): Promise<RenderedPrompt>;
    /**
     * The prompt fitted to the context (promptFit.ts), where the tokens are: one call however many
     * renders fitting takes. Optional: without it the service fits through `render`.
     */
    prepare?(input: ChatInput | RawInput, maxTokens: number, tools: ToolSet | null): Promise<PreparedPrompt>;
    /**
     * Tokens the model's tokenizer makes of plain text (special-token spellings count as text).
     * Optional: an engine without access to the tokenizer leaves it out and callers treat counts as unknown.
     */
    countTokens?(text: string): Promise<number | null>;
    /**
     * Tokens `text` needs at least, found without tokenizing it (optional). Lets the service refuse
     * a prompt that cannot fit before spending time on tokenizing megabytes.
     */
    lowerBoundTokens?(text: string): number;
    /**
     * Picks one of the free sequences for a request (conversation affinity). Optional: without it the
     * scheduler takes the sequence idle the longest.
     */
    pickSequence?(free: readonly number[], hint: SequenceHint): number;
    /** Embeds each group of inputs (one per request, batched in one call), or refuses the group; embedding models' engines only. */
    embed?(groups: EmbeddingInput[][]): Promise<EmbeddingOutcome[]>;
    /** Streams a generation in the leased sequence. Throws WorkerError before the first event on bad input. */
    generate(request: GenerateRequest): AsyncIterable<GenerationEvent>;
    /** Resolves once the engine is ready or has failed; never rejects. */
    whenSettled(): Promise<void>;
    /** Starts loading (idempotent) and resolves when loading has settled (ready or failed); never rejects. */
    load(): Promise<void>;
    /** Frees the model; later `generate` calls throw ModelNotReadyError until `load()`. */
    unload(): Promise<void>;
    memory(): Promise<MemoryReport>;
    close(): Promise<void>;
    /** Ends the engine at once, without waiting for anything (shutdown past its deadline); optional. */
    kill?(): void;
    /**
     * Registers for exits the engine did not ask for (optional: an engine whose model cannot go
     * away by itself leaves it out). Called once per exit, before the calls and generations it
     * ends are rejected, and before a load it interrupts settles.
     */
    onExit?(listener: (exit: EngineExit) => void): void;
}

/** How much of a prompt was already evaluated: in the leased sequence, from a stored state, or nothing useful. */
export interface CacheEvent {
    source: "warm" | "restored" | "miss";
    /** Prompt tokens not evaluated again. */
    reusedTokens: number;
    promptTokens: number;
}

/** The slice of pino's API the engine logs through; it never receives prompt text. */
export interface EngineLogger {
    info(details: Record<string, unknown>, message: string): void;
    warn(details: Record<string, unknown>, message: string): void;
    error(details: Record<string, unknown>, message: string): void;
}
