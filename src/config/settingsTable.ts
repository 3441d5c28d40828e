import os from "node:os";
import path from "node:path";
import {boolean, decimal, integer, list, namedModels, oneOf, secretList, text, url, type Parser} from "./settings.js";
import {modelReference} from "./modelSource.js";

export const GPU_MODES = ["auto", "cuda", "vulkan", "false"] as const;
export type GpuMode = (typeof GPU_MODES)[number];
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const ENGINE_KINDS = ["embedded", "openai"] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];
export const MODEL_LOADING_MODES = ["eager", "lazy"] as const;
export type ModelLoadingMode = (typeof MODEL_LOADING_MODES)[number];
export const DETERMINISTIC_MODES = ["auto", "true", "false"] as const;
export type DeterministicMode = (typeof DETERMINISTIC_MODES)[number];
/** Where a GBNF grammar goes in an upstream request: llama-server (and this worker) read `grammar`, vLLM >= 0.12 `structured_outputs.grammar`, older vLLM `guided_grammar`. */
export const UPSTREAM_GRAMMAR_FIELDS = ["grammar", "structured_outputs", "guided_grammar"] as const;
export type UpstreamGrammarField = (typeof UPSTREAM_GRAMMAR_FIELDS)[number];

/** Where `npm start` puts (and on first start creates) the built-in synthetic test model. */
export const BUILTIN_MODEL_PATH = path.join("models", "chat-worker-tiny.gguf");

const cores = Math.max(1, os.availableParallelism());

export interface SettingSpec<T = unknown> {
    /** The value when the variable is not set; null: the setting is off or derived (its value reads as null). */
    default: string | null;
    parse: Parser<T>;
    /** The settings page's sentence (docs/settings.md is generated from this table). */
    doc: string;
    /** How the settings page shows a default that is not a literal value. */
    shown?: string;
    /** An older name still read when the setting itself is not set (both set to different values refuses to boot). */
    alias?: string;
}

/**
 * Every setting the worker reads, in one table: the variable, its default, its parser and the
 * sentence docs/settings.md shows. `loadConfig` walks this table once at boot; the Config type and the
 * settings page's table (`npm run docs`) are derived from it.
 */
export const SETTINGS = {
    PORT: {default: "7861", parse: integer({min: 0, max: 65535}), doc: "TCP port to listen on."},
    HOST: {default: "0.0.0.0", parse: text, doc: "Interface to bind."},
    ENGINE: {
        default: "embedded", parse: oneOf(ENGINE_KINDS),
        doc: "`embedded` runs the GGUF model with llama.cpp in a supervised runner process (see docs/architecture.md); `openai` forwards to an OpenAI-compatible upstream (see Scaling out in docs/operations.md)."
    },
    MODEL_PATH: {
        shown: "built-in",
        default: null, parse: text,
        doc: `GGUF model file; for a split model, its first shard (\`...-00001-of-00002.gguf\`, the others beside it). Default: the built-in synthetic test model \`${BUILTIN_MODEL_PATH}\`, generated on first start if missing. Not together with \`MODEL\` or \`MODELS\`.`
    },
    MODEL: {
        shown: "—",
        default: null, parse: modelReference,
        doc: "A model to download before loading (see Using a real model): `hf:<user>/<repo>:<quant>` (e.g. `hf:Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M`), `hf:<user>/<repo>/<file>.gguf` or an `https://` URL. Files already complete in `MODELS_DIR` are not fetched again; a cut download resumes. `npm run pull -- <ref>` downloads ahead of time. Not together with `MODEL_PATH` or `MODELS` (whose entries may be references too)."
    },
    MODELS_DIR: {
        shown: "`$XDG_CACHE_HOME/chat-worker/models` (`~/.cache/...`)",
        default: null, parse: text,
        doc: "Where `MODEL` (and `MODELS`' references) download to (the container images: `/models`). Must be writable when a model is downloaded (checked at boot)."
    },
    HF_TOKEN: {
        shown: "—",
        default: null, parse: text,
        doc: "Hugging Face access token, sent (as `Authorization: Bearer`) only to `HF_ENDPOINT`, for gated or private repositories. Never logged. The token file of `huggingface-cli login` is not read."
    },
    HF_ENDPOINT: {
        default: "https://huggingface.co", parse: url,
        doc: "The Hugging Face hub (or a mirror of its `/<repo>/resolve/<revision>/<file>` and `/v2/<repo>/manifests/<quant>` URLs) that `hf:` references are fetched from."
    },
    DOWNLOAD_STALL_SECONDS: {
        default: "60", parse: decimal({min: 1, max: 86_400}),
        doc: "A model download that receives no data for this long is stopped (the model runner with it) and `/health` turns unhealthy with `download_failed`; it is retried after 2 s, doubling up to 5 min, and resumes the partial file."
    },
    MODEL_NAME: {shown: "from GGUF", default: null, parse: text, doc: "Model name reported by the API. Default: the GGUF's `general.name` (`ENGINE=openai`: the upstream's model id). With `MODELS`, each model is named by its key."},
    MODELS: {
        default: null, parse: namedModels,
        doc: "Several models, chosen per request by `model`: comma-separated `name=path` pairs, e.g. `qwen_instruct=/models/instruct.gguf,qwen_base=/models/base.gguf`; a path may also be a reference to download, as `MODEL` takes (`qwen=hf:Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M`). " +
            "A path ending in `?kind=embedding` marks an embedding model, served only on `POST /v1/embeddings` (`embed=/models/nomic.gguf?kind=embedding`); add `&matryoshka=true` for a model trained for truncated vectors, so `dimensions` is honoured. " +
            "Each runs in its own runner with its own `PARALLEL` sequences and conversation cache (an equal share of `CONVERSATION_CACHE_MAX_BYTES`); the first is the default for requests that name none, " +
            "and an unknown name gets a 400 listing the known ones. Not together with `MODEL_PATH` or `MODEL`, nor with `ENGINE=openai`. Without it, the one model (`MODEL_PATH` or `MODEL`) answers whatever `model` a request names."
    },
    MODEL_LOADING: {
        default: "eager", parse: oneOf(MODEL_LOADING_MODES),
        doc: "`eager` loads every model at boot; `lazy` loads each on its first request (or `POST /memory/load`). Each load passes the memory check first."
    },
    CONTEXT_SIZE: {
        default: "4096", parse: integer({min: 64, max: 1_048_576}),
        doc: "Context window of each sequence, in tokens. `ENGINE=openai`: used only when the upstream's `/models` gives no `max_model_len`."
    },
    PARALLEL: {
        default: "4", parse: integer({min: 1, max: 256}),
        doc: "Sequences evaluated together in one batched context (concurrent generations). `ENGINE=openai`: most requests forwarded to the upstream at once."
    },
    THREADS: {
        shown: "cores − 1 (≥ 1)",
        default: String(Math.max(1, cores - 1)), parse: integer({min: 1, max: 1024}),
        doc: "llama.cpp compute threads: `os.availableParallelism() - 1` (at least 1) by default, leaving a core to Node's main thread (HTTP, streaming). ggml's threads spin-wait at barriers, so any oversubscription collapses throughput (measured: 130 vs 405 tok/s on 2 cores)."
    },
    UV_THREADPOOL_SIZE: {
        shown: "max(1, cores − `THREADS`)",
        default: null, parse: integer({min: 1, max: 1024}),
        doc: "libuv pool size, set by `bin/chat-worker.cjs` before the pool starts. node-llama-cpp runs evaluation and sampling on the pool; busy pool threads beside the compute threads oversubscribe small machines."
    },
    BATCH_SIZE: {default: "512", parse: integer({min: 1, max: 65536}), doc: "Maximum tokens per evaluation batch (prompt chunks of all sequences together)."},
    BATCH_FILL: {
        default: "true", parse: boolean,
        doc: "Form each evaluation batch only once every generating sequence has queued its next token (bounded to a few event-loop microtask turns), so the sequences decode together instead of one of them always a step behind (see Performance). `false`: node-llama-cpp's default, a batch of whatever is queued."
    },
    GPU: {default: "auto", parse: oneOf(GPU_MODES), doc: "`auto`, `cuda`, `vulkan` or `false` (CPU only)."},
    GPU_LAYERS: {shown: "as many as fit", default: null, parse: integer({min: 0, max: 100000}), doc: "Layers to offload to the GPU."},
    MAX_QUEUE: {default: "64", parse: integer({min: 0, max: 100000}), doc: "Requests that may wait for a free sequence; past that, 429 with `Retry-After`."},
    MAX_TOKENS_LIMIT: {default: "4096", parse: integer({min: 1, max: 1_048_576}), doc: "Largest `max_tokens` a request may ask for (400 above it)."},
    DEFAULT_MAX_TOKENS: {default: "512", parse: integer({min: 1, max: 1_048_576}), doc: "`max_tokens` when a request gives none (capped by `MAX_TOKENS_LIMIT`)."},
    BODY_LIMIT_BYTES: {default: "1048576", parse: integer({min: 1024, max: 1_073_741_824}), doc: "Largest request body; past that, 413."},
    MAX_HISTORY_MESSAGES: {default: "1000", parse: integer({min: 0, max: 1_000_000}), doc: "Most `conversation_history` entries (or OpenAI `messages`) a request may carry; past that, 400."},
    MAX_N: {
        default: "4", parse: integer({min: 1, max: 256}),
        doc: "Most choices (`n`) one OpenAI request may ask for; never more than `PARALLEL` (each choice takes a sequence). Past it, 400 naming `n`."
    },
    EMBEDDING_MAX_INPUTS: {
        default: "256", parse: integer({min: 1, max: 2048}),
        doc: "Most inputs one `POST /v1/embeddings` request may carry (OpenAI allows 2048); past it, 400 naming `input`. Each input may hold at most the embedding model's context (`CONTEXT_SIZE`, or its trained size if smaller) in tokens; a longer one is a 400 naming it, never truncated."
    },
    MAX_STOP_SEQUENCES: {default: "16", parse: integer({min: 0, max: 1024}), doc: "Most `stop` strings a request may give; each at most 256 characters."},
    REQUEST_TIMEOUT_SECONDS: {default: "300", parse: decimal({min: 0}), doc: "Longest a generation may run; it then ends with the partial text and `finish_reason: \"timeout\"`. 0 disables."},
    CONVERSATION_CACHE: {
        alias: "PREFIX_CACHE",
        default: "true", parse: boolean,
        doc: "Reuse the prompt prefix a sequence already holds (conversation affinity). `false` evaluates every prompt from scratch: the cold baseline of the benchmark."
    },
    DETERMINISTIC: {
        default: "auto", parse: oneOf(DETERMINISTIC_MODES),
        doc: "Make an answer depend only on the model, the rendered prompt, the sampling parameters and the seed: not on the conversation cache, on other requests batched with it, or on the CPU. `true` turns off flash attention, reuses only tokens evaluated as part of a prompt, and cuts batches so a prompt piece never shares one with generation steps (on F32/F16/BF16 models each generation step gets its own batch; see Determinism). `auto`: on with the CPU backend, off on a GPU (whose kernels llama.cpp picks by batch size anyway)."
    },
    CONVERSATION_CACHE_DIR: {
        alias: "STATE_CACHE_DIR",
        default: ".state-cache", parse: text,
        doc: "Folder for conversation states spilled from sequences (one subfolder per model identity); survives restarts."
    },
    CONVERSATION_CACHE_MAX_BYTES: {
        alias: "STATE_CACHE_MAX_BYTES",
        default: "1073741824", parse: integer({min: 0}),
        doc: "Byte budget of the conversation cache folder, least recently used states evicted first. 0 disables spilling (warm sequences are still reused)."
    },
    UPSTREAM_URL: {
        shown: "—",
        default: null, parse: url,
        doc: "`ENGINE=openai` (required there): base URL of the OpenAI-compatible upstream, e.g. `http://vllm:8000/v1`. Template and tokenizer endpoints are looked up beside it, at the URL without `/v1`."
    },
    UPSTREAM_API_KEY: {shown: "—", default: null, parse: text, doc: "`ENGINE=openai`: sent as `Authorization: Bearer`. Never logged."},
    UPSTREAM_MODEL: {shown: "first listed", default: null, parse: text, doc: "`ENGINE=openai`: model id to ask the upstream for. Default: the first model its `/models` lists."},
    UPSTREAM_TIMEOUT_SECONDS: {
        default: "60", parse: decimal({min: 0.01, max: 86_400}),
        doc: "`ENGINE=openai`: longest wait for the upstream's response headers and then for each streamed chunk; past it, 504. The whole generation is bounded by `REQUEST_TIMEOUT_SECONDS`."
    },
    UPSTREAM_GRAMMAR_FIELD: {
        default: "grammar", parse: oneOf(UPSTREAM_GRAMMAR_FIELDS),
        doc: "`ENGINE=openai`: request field that carries a GBNF grammar: `grammar` (llama-server, chat-worker), `structured_outputs` (vLLM ≥ 0.12) or `guided_grammar` (older vLLM)."
    },
    LOG_LEVEL: {default: "info", parse: oneOf(LOG_LEVELS), doc: "pino log level (`fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`)."},
    LOG_PROMPTS: {default: "false", parse: boolean, doc: "Log prompt and response text (off by default: logs carry only lengths, ids and timings)."},
    ENHANCE_TEMPLATES_DIR: {
        shown: "built-in",
        default: null, parse: text,
        doc: "Folder of operator templates for `/enhance` (`<job_type>.json`), each replacing the built-in one of that job type. Checked at boot: a missing folder or a bad template refuses to start. Default: the built-in `templates/enhance/`."
    },
    ENHANCE_MAX_PROMPT_CHARS: {default: "2000", parse: integer({min: 1, max: 1_000_000}), doc: "Longest `prompt` that `/enhance` accepts, in characters; past that, 400."},
    MEMORY_CHECK: {
        default: "true", parse: boolean,
        doc: "Before loading, compare node-llama-cpp's estimate of the model's and context's memory with the free RAM/VRAM; when it does not fit, stay up as `degraded` instead of loading. `false` skips the check."
    },
    LOAD_TIMEOUT_SECONDS: {
        default: "600", parse: decimal({min: 1, max: 86_400}),
        doc: "Longest a model load may take; past it the model runner is killed and `/health` says why (a corrupt file can make a load spin). A load also stops when the runner's memory outgrows node-llama-cpp's estimate by half (plus 1 GiB)."
    },
    RUNNER_HEARTBEAT_TIMEOUT_SECONDS: {
        default: "10", parse: decimal({min: 1, max: 3600}),
        doc: "The model runner answers a heartbeat every second from its main thread; one that answers none for this long (stopped, or blocked in a synchronous call) is killed and restarted, and its requests get 503. " +
            "Not while a model loads (`LOAD_TIMEOUT_SECONDS` bounds that). The longest synchronous call of a healthy runner is tokenizing the largest accepted prompt."
    },
    GENERATION_STEP_TIMEOUT_SECONDS: {
        default: "60", parse: decimal({min: 0.1, max: 86_400}),
        doc: "A generation that makes no progress (no evaluation batch, no token) for this long means a decode or grammar step that does not end: the model runner is killed and restarted, and its requests get 503. " +
            "A decode step of a 7B model on a CPU takes about a second and an evaluation batch of `BATCH_SIZE` prompt tokens tens of seconds; raise it for slower hardware or larger batches."
    },
    IDLE_UNLOAD_SECONDS: {default: "0", parse: decimal({min: 0}), doc: "Unload the model after this many seconds without a request; the next request loads it again. 0 means never."},
    SHUTDOWN_GRACE_SECONDS: {
        default: "25", parse: decimal({min: 0}),
        doc: "On SIGTERM/SIGINT, how long running generations may go on before they are aborted (new requests get 503 meanwhile)."
    },
    CORS_ORIGINS: {
        default: null, parse: list,
        doc: "Comma-separated origins allowed to call the worker from a browser (exact match, e.g. `https://app.example.com`). Default: CORS off, no `Access-Control-*` headers."
    },
    HEADERS_TIMEOUT_SECONDS: {
        default: "20", parse: decimal({min: 1, max: 3600}),
        doc: "Longest a client may take to send its request headers; past it, 408 and the connection closes (slow-loris)."
    },
    BODY_TIMEOUT_SECONDS: {
        default: "30", parse: decimal({min: 1, max: 3600}),
        doc: "Longest a client may take to send a whole request (headers and body); past it, 408 and the connection closes. Does not bound the response (generations are bounded by `REQUEST_TIMEOUT_SECONDS`)."
    },
    WORKER_API_KEY: {
        default: null, parse: secretList,
        doc: "When set, every endpoint except `/health`, `/ready` and the pages' files (playground, docs UI) requires `Authorization: Bearer <key>` (401 otherwise). " +
            "Several keys, comma-separated, are each accepted (callers with keys of their own). Never logged."
    },
    AUTH_OPEN_ROUTES: {
        default: null, parse: list,
        doc: "Routes that answer without the key although `WORKER_API_KEY` is set, comma-separated (e.g. `/enhance` for callers that send none). " +
            "Off by default: anyone who reaches the worker can use an open route (and its GPU time). Each must be a route the worker has; only with `WORKER_API_KEY`."
    },
    SUPABASE_URL: {default: null, parse: url, doc: "With `SUPABASE_SERVICE_KEY`, the worker registers itself at `{SUPABASE_URL}/functions/v1/register-chat-worker` once the model is ready. Setting only one of the two refuses to start."},
    SUPABASE_SERVICE_KEY: {default: null, parse: text, doc: "Bearer key for the registration call. Never logged."},
    WORKER_PUBLIC_URL: {shown: "`https://{RUNPOD_POD_ID}-{PORT}.proxy.runpod.net`", default: null, parse: url, doc: "The URL this worker is reached at, sent when registering. With registration on, this or `RUNPOD_POD_ID` is required."},
    RUNPOD_POD_ID: {default: null, parse: text, doc: "Set by RunPod; used to build the public URL when `WORKER_PUBLIC_URL` is not set."},
    REGISTRATION_MAX_ATTEMPTS: {default: "8", parse: integer({min: 1, max: 1000}), doc: "Registration attempts before giving up (network errors, 5xx and 429 are retried; other 4xx are not)."},
    REGISTRATION_BACKOFF_SECONDS: {
        default: "2", parse: decimal({min: 0, max: 3600}),
        doc: "Wait before the first registration retry; it doubles after each failure, up to 60 s."
    },
} satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

/** MODEL_PATH -> modelPath */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}` : Lowercase<S>;

export function camelCase(name: string): string {
    return name.toLowerCase().replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** A setting's parsed type; null when it has no default and is not set. */
type SettingValue<N extends SettingName> =
    ReturnType<(typeof SETTINGS)[N]["parse"]> | ((typeof SETTINGS)[N]["default"] extends null ? null : never);

/** Every setting, parsed, under its camelCase name (MODEL_PATH -> modelPath). */
export type Settings = {[N in SettingName as CamelCase<N>]: SettingValue<N>};
