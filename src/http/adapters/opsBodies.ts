import type {EngineStatus, HealthReport, MemoryReport, ModelInfo, Readiness} from "../../service/workerStatus.js";
import type {
    ChatHealthResponseBody, HealthResponseBody, MemoryStatusResponseBody, ModelInfoResponseBody, ReadyResponseBody
} from "../../protocol/ops.js";

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

export function healthBody(report: HealthReport): HealthResponseBody {
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
        active_jobs: report.running + report.queued,
        running_jobs: report.running,
        queued_jobs: report.queued,
        uptime: Math.round(report.uptimeSeconds * 1000) / 1000,
        model_loaded: report.modelLoaded,
        model_state: report.engineState,
        model_name: report.modelName,
        load_progress: report.loadProgress != null ? Math.round(report.loadProgress * 1000) / 10 : null,
        system_prompt_features: {...SYSTEM_PROMPT_FEATURES}
    };
}

export function readyBody(readiness: Readiness, engine: EngineStatus): ReadyResponseBody {
    return {ready: readiness.ready, model_state: engine.state, reason: readiness.reason, code: readiness.code};
}

export function chatHealthBody(
    status: HealthResponseBody["status"], readiness: Readiness, engine: EngineStatus, modelName: string, activeJobs: number
): ChatHealthResponseBody {
    return {
        status,
        reason: readiness.reason,
        endpoint: "/chat",
        model_loaded: engine.state === "ready",
        model_name: modelName,
        active_jobs: activeJobs,
        pure_inference_engine: SYSTEM_PROMPT_FEATURES.pure_inference_engine,
        timestamp: new Date().toISOString()
    };
}

/** VRAM figures on a GPU, RAM figures on the CPU, each under its own name; the other kind is null. */
export function memoryStatusBody(memory: MemoryReport, modelLoaded: boolean): MemoryStatusResponseBody {
    const vram = memory.memoryKind === "vram";
    const ram = memory.memoryKind === "ram";
    return {
        total_vram: vram ? gib(memory.totalBytes) : null,
        allocated_vram: vram ? gib(memory.modelBytes) : null,
        available_vram: vram ? gib(memory.freeBytes) : null,
        used_vram: vram ? gib(memory.usedBytes) : null,
        total_ram: ram ? gib(memory.totalBytes) : null,
        allocated_ram: ram ? gib(memory.modelBytes) : null,
        available_ram: ram ? gib(memory.freeBytes) : null,
        used_ram: ram ? gib(memory.usedBytes) : null,
        memory_kind: memory.memoryKind,
        unit: "GiB",
        model_memory_bytes: memory.modelBytes,
        model_loaded: modelLoaded,
        model_device: memory.device,
        device_type: memory.deviceType
    };
}

export function modelInfoBody(info: ModelInfo, engine: EngineStatus, memory: MemoryReport): ModelInfoResponseBody {
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
        deterministic: info.deterministic
    };
}
