import os from "node:os";
import {ConfigError, type NamedModel} from "./settings.js";
import {BUILTIN_MODEL_PATH, SETTINGS, camelCase, type SettingName, type Settings} from "./settingsTable.js";

export {ConfigError, type NamedModel} from "./settings.js";
export {
    BUILTIN_MODEL_PATH, DETERMINISTIC_MODES, ENGINE_KINDS, GPU_MODES, LOG_LEVELS, MODEL_LOADING_MODES, SETTINGS, UPSTREAM_GRAMMAR_FIELDS,
    type DeterministicMode, type EngineKind, type GpuMode, type LogLevel, type ModelLoadingMode, type SettingName, type UpstreamGrammarField
} from "./settingsTable.js";

/**
 * The validated configuration: every setting of the table (settingsTable.ts) under its camelCase
 * name, with the derived values that need more than one setting.
 */
export interface Config extends Omit<Settings, "modelPath" | "uvThreadpoolSize" | "corsOrigins" | "models" | "authOpenRoutes"> {
    /** Absolute or cwd-relative path of the GGUF file (the built-in one when MODEL_PATH is not set; with MODELS, the first model's). */
    modelPath: string;
    /** The models served: MODELS, or one unnamed model (MODEL_PATH), whose name comes from MODEL_NAME or its file. */
    models: ServedModelConfig[];
    /** Empty: every route but the probes and pages needs the key. */
    authOpenRoutes: string[];
    /** True when `modelPath` is the built-in test model, which worker.ts creates if missing. */
    modelIsBuiltin: boolean;
    /** UV_THREADPOOL_SIZE, or what bin/chat-worker.cjs derives from THREADS. */
    uvThreadpoolSize: number;
    /** Empty: CORS off. */
    corsOrigins: string[];
    /** null when auto-registration is off (SUPABASE_URL and SUPABASE_SERVICE_KEY not both set). */
    registration: RegistrationConfig | null;
}

export interface ServedModelConfig {
    /** The MODELS key; null for the one model of MODEL_PATH. */
    name: string | null;
    path: string;
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
    const raw = env[name];
    const setting = SETTINGS[name];
    const source: string | null = raw ?? setting.default;
    if (source == null)
        return null;
    try {
        return setting.parse(source);
    } catch (err) {
        throw new ConfigError(name, (err as Error).message);
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
    const modelPath = settings.models?.[0].path ?? settings.modelPath ?? BUILTIN_MODEL_PATH;
    const config: Config = {
        ...settings,
        modelPath,
        models: settings.models?.map((model: NamedModel): ServedModelConfig => ({name: model.name, path: model.path})) ?? [{name: null, path: modelPath}],
        authOpenRoutes: settings.authOpenRoutes ?? [],
        modelIsBuiltin: settings.modelPath == null && settings.models == null,
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
