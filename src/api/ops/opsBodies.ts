import type {
    DownloadProgress, EngineStatus, HealthReport, MemoryReport, ModelInfo, ModelReport, Readiness
} from "../../service/workerStatus.js";
import type {MetricTotals} from "../../service/metrics.js";
import {
    MODEL_NOT_LOADED,
    type ChatHealthResponseBody, type HealthResponseBody, type MemoryStatusResponseBody, type ModelInfoResponseBody,
    type ReadyResponseBody
} from "./opsSchemas.js";
import type {RouteRecord} from "../../http/routeList.js";
import type {Capabilities} from "./discoverySchemas.js";
import {round} from "../../service/rounding.js";

const GIB = 1024 ** 3;

/** Bytes to GiB with enough decimals that a small model does not read as 0. */
export function gib(bytes: number | null): number | null {
    return bytes == null ? null : Math.round(bytes / GIB * 1e6) / 1e6;
}

/**
 * What this build does with system prompts, as the original worker reported it. These describe
 * the code, not a runtime state: the pipeline has no path that edits a system prompt (checked per
 * request by /chat/debug/system-prompt's `no_override_detected`).
 */
export const SYSTEM_PROMPT_FEATURES = {
    pure_inference_engine: true,
    no_prompt_overrides: true,
    respects_provided_prompts: true
} as const;

export function healthBody(report: HealthReport, discovery: {capabilities: Capabilities; endpoints: Record<string, string>}): HealthResponseBody {
    return {
        status: report.status,
        reason: report.reason,
        reason_code: report.reasonCode,
        ready: report.ready,
        architecture: "pure_inference_engine",
        worker_type: "chat",
        gpu_utilization: report.gpuUtilization,
        memory_usage: gib(report.memory.modelBytes),
        memory_kind: report.memory.memoryKind,
        snapshot_age_seconds: report.memory.ageSeconds ?? null,
        active_jobs: report.running + report.queued,
        running_jobs: report.running,
        queued_jobs: report.queued,
        uptime: Math.round(report.uptimeSeconds * 1000) / 1000,
        model_loaded: report.modelLoaded,
        model_state: report.engineState,
        model_name: report.modelName,
        load_progress: report.loadProgress != null ? Math.round(report.loadProgress * 1000) / 10 : null,
        download_progress: downloadPercent(report.download),
        downloaded_bytes: report.download?.doneBytes ?? null,
        download_total_bytes: report.download?.totalBytes ?? null,
        system_prompt_features: {...SYSTEM_PROMPT_FEATURES},
        stats: healthStats(report.totals, report.startedAtMs),
        capabilities: discovery.capabilities,
        endpoints: discovery.endpoints,
        models: report.models.map((model) => ({
            name: model.name,
            status: model.status,
            model_state: model.engine.state,
            model_loaded: model.engine.state === "ready",
            reason: model.readiness.reason,
            reason_code: model.readiness.code,
            load_progress: model.engine.loadProgress != null ? Math.round(model.engine.loadProgress * 1000) / 10 : null,
            download_progress: downloadPercent(model.engine.download ?? null),
            running_jobs: model.running,
            queued_jobs: model.queued,
            memory_usage: gib(model.memory.modelBytes)
        }))
    };
}

/** Percent of a download done, rounded down to a tenth (100 only once it is whole); null when none runs or its size is not known. */
function downloadPercent(download: DownloadProgress | null): number | null {
    return download?.totalBytes != null && download.totalBytes > 0 ? Math.floor(download.doneBytes / download.totalBytes * 1000) / 10 : null;
}

/** The original's `stats` (requests_served, model_loads, model_unloads, startup_time) and the other running totals. */
export function healthStats(totals: MetricTotals, startedAtMs: number): HealthResponseBody["stats"] {
    return {
        requests_served: totals.generations,
        errors: totals.serverErrors,
        client_errors: totals.clientErrors,
        tokens_generated: totals.generatedTokens,
        prompt_tokens: totals.promptTokens,
        average_generation_time: totals.generations > 0 ? round(totals.generationSeconds / totals.generations) : null,
        model_loads: totals.modelLoads,
        model_load_failures: totals.failedModelLoads,
        model_unloads: totals.modelUnloads,
        startup_time: round(startedAtMs / 1000)
    };
}

export function readyBody(readiness: Readiness, engine: EngineStatus): ReadyResponseBody {
    return {ready: readiness.ready, model_state: engine.state, reason: readiness.reason, code: readiness.code};
}

/**
 * The chat routes /chat/health lists, with the original's descriptions where it had the route.
 * Only routes the app registered appear, each with the method it was registered with.
 */
export const CHAT_ENDPOINTS: Readonly<Record<string, string>> = Object.freeze({
    "/chat": "Conversational chat",
    "/chat/debug/system-prompt": "Debug system prompt handling",
    "/chat/health": "Health of the chat endpoint (this information)",
    "/generate": "The later callers' name for /chat (messages shape)",
    "/enhance": "Simple prompt enhancement",
    "/health": "General health check",
    "/v1/chat/completions": "OpenAI-compatible chat (the same pipeline as /chat)",
    "/v1/completions": "OpenAI-compatible completion of a raw prompt (the same pipeline)"
});

export function chatHealthBody(report: HealthReport, routes: readonly RouteRecord[]): ChatHealthResponseBody {
    const route = (url: string, method?: string) =>
        routes.find((candidate) => candidate.url === url && candidate.method !== "HEAD" && (method == null || candidate.method === method));
    const endpoints: Record<string, string> = {};
    for (const [url, description] of Object.entries(CHAT_ENDPOINTS)) {
        const found = route(url);
        if (found != null) endpoints[url] = `${found.method} - ${description}`;
    }
    const chatBody = route("/chat", "POST")?.schema?.body as {properties?: Record<string, unknown>} | undefined;
    return {
        status: report.status,
        reason: report.reason,
        endpoint: "/chat",
        chat_ready: report.modelLoaded && !report.shuttingDown,
        model_loaded: report.modelLoaded,
        model_name: report.modelName,
        active_jobs: report.running + report.queued,
        pure_inference_engine: SYSTEM_PROMPT_FEATURES.pure_inference_engine,
        endpoints,
        system_prompt_features: {
            custom_system_prompts: chatBody?.properties?.system_prompt != null,
            pure_inference_engine: SYSTEM_PROMPT_FEATURES.pure_inference_engine,
            debug_endpoint: route("/chat/debug/system-prompt", "POST") != null
        },
        model_info: {
            loaded: report.modelLoaded,
            model_name: report.modelLoaded ? report.modelName : null,
            memory_usage: chatMemoryUsage(report.memory)
        },
        timestamp: new Date().toISOString()
    };
}

interface MemoryFigures {
    total: number | null;
    allocated: number | null;
    available: number | null;
    used: number | null;
}

/**
 * The device's figures in GiB when its memory is of `kind`, else nulls: VRAM figures on a GPU and
 * RAM figures on the CPU go under their own names, so a client never reads RAM as VRAM.
 */
function figuresOf(memory: MemoryReport, kind: "vram" | "ram"): MemoryFigures {
    if (memory.memoryKind !== kind)
        return {total: null, allocated: null, available: null, used: null};
    return {total: gib(memory.totalBytes), allocated: gib(memory.modelBytes), available: gib(memory.freeBytes), used: gib(memory.usedBytes)};
}

/** The original's `get_memory_info()` figures, under `_vram_gb` on a GPU and `_ram_gb` on the CPU. */
export function chatMemoryUsage(memory: MemoryReport): ChatHealthResponseBody["model_info"]["memory_usage"] {
    const vram = figuresOf(memory, "vram");
    const ram = figuresOf(memory, "ram");
    return {
        memory_kind: memory.memoryKind,
        total_vram_gb: vram.total,
        allocated_vram_gb: vram.allocated,
        available_vram_gb: vram.available,
        total_ram_gb: ram.total,
        allocated_ram_gb: ram.allocated,
        available_ram_gb: ram.available,
        memory_usage_percent: memory.modelBytes != null && memory.totalBytes != null && memory.totalBytes > 0
            ? Math.round(memory.modelBytes / memory.totalBytes * 1e6) / 1e4
            : null
    };
}

export function memoryStatusBody(memory: MemoryReport, modelLoaded: boolean, models: ModelReport[]): MemoryStatusResponseBody {
    const vram = figuresOf(memory, "vram");
    const ram = figuresOf(memory, "ram");
    return {
        total_vram: vram.total,
        allocated_vram: vram.allocated,
        available_vram: vram.available,
        used_vram: vram.used,
        total_ram: ram.total,
        allocated_ram: ram.allocated,
        available_ram: ram.available,
        used_ram: ram.used,
        memory_kind: memory.memoryKind,
        unit: "GiB",
        model_memory_bytes: memory.modelBytes,
        model_loaded: modelLoaded,
        model_device: memory.device,
        device_type: memory.deviceType,
        models: models.map((model) => ({
            name: model.name, model_loaded: model.engine.state === "ready", model_memory_bytes: model.memory.modelBytes, allocated: gib(model.memory.modelBytes)
        }))
    };
}

export function modelInfoBody(info: ModelInfo, engine: EngineStatus, memory: MemoryReport): Omit<ModelInfoResponseBody, "models"> {
    return {
        model_name: info.modelName,
        model_path: info.modelPath,
        model_loaded: engine.state === "ready",
        model_state: engine.state,
        engine: info.engine,
        architecture: info.architecture,
        parameter_count: info.parameterCount,
        file_size_bytes: info.fileSizeBytes,
        quantization: info.quantization,
        context_size: info.contextSize,
        trained_context_size: info.trainedContextSize,
        parallel_sequences: info.parallel,
        threads: info.threads,
        gpu_layers: info.gpuLayers,
        device: memory.device,
        device_type: memory.deviceType,
        chat_template: info.chatTemplate,
        node_llama_cpp_version: info.nodeLlamaCppVersion,
        llama_cpp_release: info.llamaCppRelease,
        load_time_seconds: info.loadTimeSeconds,
        deterministic: info.deterministic,
        model_device: memory.device,
        model_parameters: info.parameterCount,
        model_size_gb: gib(info.weightsBytes),
        cuda_available: info.gpu == null ? null : info.gpu === "cuda",
        gpu_name: memory.deviceName,
        snapshot_age_seconds: memory.ageSeconds ?? null,
        // The original answered 404 {"error": "Model not loaded"}; we answer 200 and keep the field for clients that test for it.
        ...(engine.state === "ready" ? {} : {error: MODEL_NOT_LOADED})
    };
}
