import os from "node:os";
import {ConfigError} from "../errors.js";
import {BUILTIN_MODEL_PATH, SETTINGS, camelCase, type SettingName, type Settings, type SettingSpec} from "./settingsTable.js";
import {defaultModelsDir, isModelReference, modelReference, shardOf, type ModelSource} from "./modelSource.js";

export {type ModelKind, type NamedModel} from "./settings.js";
import type {ModelKind} from "./settings.js";
export {
    BUILTIN_MODEL_PATH, DETERMINISTIC_MODES, ENGINE_KINDS, GPU_MODES, LOG_LEVELS, MODEL_LOADING_MODES, SETTINGS, UPSTREAM_GRAMMAR_FIELDS,
    type DeterministicMode, type EngineKind, type GpuMode, type LogLevel, type ModelLoadingMode, type SettingName, type UpstreamGrammarField
} from "./settingsTable.js";
export type {ModelSource} from "./modelSource.js";

/**
 * The validated configuration: every setting of the table (settingsTable.ts) under its camelCase
 * name, with the derived values that need more than one setting.
 */
export interface Config extends Omit<Settings, "model" | "modelPath" | "modelsDir" | "uvThreadpoolSize" | "corsOrigins" | "models" | "authOpenRoutes"> {
    /**
     * The models served: MODELS, or one unnamed model (MODEL_PATH's file, MODEL's download, or
     * neither set, the built-in test model, which worker.ts creates if missing), whose name comes
     * from MODEL_NAME or its file.
     */
    models: ServedModelConfig[];
    /** MODELS_DIR, or its default under the user's cache: where downloads go. */
    modelsDir: string;
    /** Empty: every route but the probes and pages needs the key. */
    authOpenRoutes: string[];
    /** UV_THREADPOOL_SIZE, or what bin/chat-worker.cjs derives from THREADS. */
    uvThreadpoolSize: number;
    /** Empty: CORS off. */
    corsOrigins: string[];
    /** null when auto-registration is off (SUPABASE_URL and SUPABASE_SERVICE_KEY not both set). */
    registration: RegistrationConfig | null;
}

export interface ServedModelConfig {
    /** The MODELS key; null for the one model of MODEL_PATH or MODEL. */
    name: string | null;
    /** A GGUF file on disk, or a reference downloaded into MODELS_DIR first. */
    source: ModelSource;
    /** Chat (every model but MODELS' `?kind=embedding` entries) or embeddings. */
    kind: ModelKind;
    /** An embedding model whose vectors may be truncated (`dimensions`); see NamedModel. */
    matryoshka: boolean;
}

export interface RegistrationConfig {
    /** `{SUPABASE_URL}/functions/v1/register-chat-worker` */
    endpoint: string;
    serviceKey: string;
    workerUrl: string;
    /** Where `workerUrl` came from: "worker_public_url" or "runpod_pod_id". */
    detectionMethod: "worker_public_url" | "runpod_pod_id";
    maxAttempts: number;
    backoffSeconds: number;
}

function read(env: NodeJS.ProcessEnv, name: SettingName): unknown {
    const setting: SettingSpec = SETTINGS[name];
    const alias = setting.alias;
    if (alias != null && env[name] != null && env[alias] != null && env[name] !== env[alias])
        throw new ConfigError(name, `and ${alias} (its old name) are both set, to different values; set only ${name}`);
    // A bad value is reported under the name it was set by.
    const variable = env[name] == null && alias != null && env[alias] != null ? alias : name;
    const source: string | null = env[variable] ?? setting.default;
    if (source == null)
        return null;
    try {
        return setting.parse(source);
    } catch (err) {
        throw new ConfigError(variable, (err as Error).message);
    }
}

/** Parses and validates every setting once. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
    const settings = Object.fromEntries((Object.keys(SETTINGS) as SettingName[])
        .map((name) => [camelCase(name), read(env, name)])) as Settings;
    if (settings.models != null && settings.modelPath != null)
        throw new ConfigError("MODELS", "set MODELS or MODEL_PATH, not both (MODELS names every model, with its path)");
    if (settings.models != null && settings.engine === "openai")
        throw new ConfigError("MODELS", "is for ENGINE=embedded; with ENGINE=openai the upstream serves its own models");
    if (settings.authOpenRoutes != null && settings.workerApiKey == null)
        throw new ConfigError("AUTH_OPEN_ROUTES", "only means something with WORKER_API_KEY set (without a key every route is open)");
    const config: Config = {
        ...settings,
        models: servedModels(settings),
        modelsDir: settings.modelsDir ?? defaultModelsDir(env),
        authOpenRoutes: settings.authOpenRoutes ?? [],
        uvThreadpoolSize: settings.uvThreadpoolSize ?? Math.max(1, Math.max(1, os.availableParallelism()) - settings.threads),
        corsOrigins: settings.corsOrigins ?? [],
        registration: readRegistration(settings)
    };
    if (config.defaultMaxTokens > config.maxTokensLimit)
        throw new ConfigError("DEFAULT_MAX_TOKENS", `must be <= MAX_TOKENS_LIMIT (${config.maxTokensLimit}), got ${config.defaultMaxTokens}`);
    if (config.headersTimeoutSeconds > config.bodyTimeoutSeconds)
        throw new ConfigError("HEADERS_TIMEOUT_SECONDS", `must be <= BODY_TIMEOUT_SECONDS (${config.bodyTimeoutSeconds}), got ${config.headersTimeoutSeconds}`);
    for (const origin of config.corsOrigins)
        if (!/^https?:\/\/[^/\s]+$/.test(origin))
            throw new ConfigError("CORS_ORIGINS", `each origin must be scheme://host[:port] without a path, got ${JSON.stringify(origin)}`);
    if (config.engine === "openai" && config.upstreamUrl == null)
        throw new ConfigError("UPSTREAM_URL", "is required when ENGINE=openai (the upstream's base URL, e.g. http://vllm:8000/v1)");
    return config;
}

/**
 * MODEL_PATH names a file, MODEL a download, MODELS several of either; two of them at once would
 * leave one silently unused. llama.cpp loads a split model only from its first shard, so naming
 * another is refused here.
 */
function servedModels(settings: Settings): ServedModelConfig[] {
    if (settings.model != null && settings.modelPath != null)
        throw new ConfigError("MODEL", "cannot be combined with MODEL_PATH: set MODEL_PATH for a GGUF file on disk or MODEL for one to download, not both");
    if (settings.model != null && settings.models != null)
        throw new ConfigError("MODEL", "cannot be combined with MODELS: MODELS names every model, each with a path or a reference to download");
    if (settings.models != null)
        return settings.models.map(({name, path, kind, matryoshka}) => ({name, source: namedModelSource(name, path), kind, matryoshka}));
    if (settings.model != null)
        return [{name: null, source: {kind: "reference", reference: settings.model}, kind: "chat", matryoshka: false}];
    return [{name: null, source: settings.modelPath != null ? fileSource("MODEL_PATH", settings.modelPath) : {kind: "file", path: BUILTIN_MODEL_PATH, builtin: true},
        kind: "chat", matryoshka: false}];
}

/** A MODELS entry: a reference (`hf:`, `http(s)://`) is downloaded like MODEL, anything else is a file like MODEL_PATH. */
function namedModelSource(name: string, value: string): ModelSource {
    if (!isModelReference(value))
        return fileSource("MODELS", value, `model ${JSON.stringify(name)} `);
    try {
        return {kind: "reference", reference: modelReference(value)};
    } catch (err) {
        throw new ConfigError("MODELS", `model ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
}

function fileSource(variable: "MODEL_PATH" | "MODELS", path: string, which = ""): ModelSource {
    const shard = shardOf(path);
    if (shard != null && shard[0] !== 1)
        throw new ConfigError(variable, `${which}names shard ${shard[0]} of a split model; name the first shard ` +
            `(...-00001-of-${String(shard[1]).padStart(5, "0")}.gguf): llama.cpp finds the others beside it`);
    return {kind: "file", path, builtin: false};
}

/**
 * Registration is on when both Supabase settings are given. Half of them, or no way to tell the
 * worker's public URL, is a mistake that would otherwise only show as a silent missing worker.
 * Every value was parsed already, even with registration off, so a typo never waits for the day it is used.
 */
function readRegistration(settings: Settings): RegistrationConfig | null {
    const {supabaseUrl, supabaseServiceKey: serviceKey, workerPublicUrl: publicUrl, runpodPodId: podId} = settings;
    if (podId != null && !/^[A-Za-z0-9-]+$/.test(podId))
        throw new ConfigError("RUNPOD_POD_ID", `expected letters, digits and dashes, got ${JSON.stringify(podId)}`);
    if (supabaseUrl == null && serviceKey == null)
        return null;
    if (supabaseUrl == null)
        throw new ConfigError("SUPABASE_URL", "must be set when SUPABASE_SERVICE_KEY is (both enable auto-registration)");
    if (serviceKey == null)
        throw new ConfigError("SUPABASE_SERVICE_KEY", "must be set when SUPABASE_URL is (both enable auto-registration)");
    if (publicUrl == null && podId == null)
        throw new ConfigError("WORKER_PUBLIC_URL", "must be set (or RUNPOD_POD_ID) when auto-registration is on, so the worker can say where it is reached");
    return {
        endpoint: `${supabaseUrl}/functions/v1/register-chat-worker`,
        serviceKey,
        workerUrl: publicUrl ?? `https://${podId}-${settings.port}.proxy.runpod.net`,
        detectionMethod: publicUrl != null ? "worker_public_url" : "runpod_pod_id",
        maxAttempts: settings.registrationMaxAttempts,
        backoffSeconds: settings.registrationBackoffSeconds
    };
}
