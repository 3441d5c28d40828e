import os from "node:os";
import type {GgufInsights, Llama} from "node-llama-cpp";

export interface MemoryNeed {
    gpuLayers: number;
    ramBytes: number;
    vramBytes: number;
    freeRamBytes: number;
    freeVramBytes: number | null;
}

export type MemoryVerdict = {fits: true; need: MemoryNeed} | {fits: false; need: MemoryNeed; reason: string};

export interface ContextPlan {
    gpuLayers: number | null;
    contextSize: number;
    parallel: number;
    batchSize: number;
}

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(2)} GiB`;

/**
 * Free RAM as the process can use it: the kernel's available memory, capped by the cgroup limit
 * in a container (where os.freemem() reports the host's memory, not ours).
 */
export function freeRamBytes(llamaFree?: number): number {
    let free = Math.max(os.freemem(), llamaFree ?? 0);
    const limit = typeof process.constrainedMemory === "function" ? process.constrainedMemory() : 0;
    if (limit != null && limit > 0 && limit < os.totalmem())
        free = Math.min(free, Math.max(0, limit - process.memoryUsage().rss));
    return free;
}

/**
 * Compares node-llama-cpp's estimate of what the model and a context of `plan` need with the
 * memory that is free now. It runs before loading, so a machine that is too small reports why
 * instead of being killed by the OOM killer halfway through the load.
 */
export async function checkMemory(llama: Llama, insights: GgufInsights, plan: ContextPlan): Promise<MemoryVerdict> {
    const onGpu = llama.gpu !== false;
    const vram = onGpu ? await llama.getVramState() : null;
    let gpuLayers = 0;
    if (onGpu) {
        if (plan.gpuLayers != null)
            gpuLayers = Math.min(plan.gpuLayers, insights.totalLayers);
        else {
            try {
                // The same resolution loadModel does for "auto": as many layers as fit the free VRAM.
                gpuLayers = (await insights.configurationResolver.resolveModelGpuLayersV2("auto", {
                    llamaGpu: llama.gpu, llamaSupportsGpuOffloading: llama.supportsGpuOffloading,
                    llamaVramPaddingSize: llama.vramPaddingSize, getVramState: async () => vram!
                })).gpuLayers;
            } catch {
                gpuLayers = 0;
            }
        }
    }
    const model = await insights.estimateModelResourceRequirementsV2({gpuLayers, useMmap: llama.supportsMmap});
    const context = await insights.estimateContextResourceRequirementsV2({
        contextSize: plan.contextSize, sequences: plan.parallel, batchSize: plan.batchSize, modelGpuLayers: gpuLayers
    });
    const need: MemoryNeed = {
        gpuLayers,
        ramBytes: model.cpuRam + context.cpuRam,
        vramBytes: model.gpuVram + context.gpuVram,
        freeRamBytes: freeRamBytes((await llama.getRamState()).free),
        freeVramBytes: vram?.free ?? null
    };
    const advice = "Lower CONTEXT_SIZE or PARALLEL, use a smaller model, free memory, or set MEMORY_CHECK=false to load anyway.";
    const contextShape = `${plan.parallel} sequences x ${plan.contextSize} tokens`;
    if (need.ramBytes > need.freeRamBytes)
        return {
            fits: false, need,
            reason: `not enough free RAM to load the model: it needs about ${gib(need.ramBytes)} ` +
                `(model ${gib(model.cpuRam)} + context ${gib(context.cpuRam)} for ${contextShape}), ` +
                `but ${gib(need.freeRamBytes)} is free. ${advice}`
        };
    if (need.freeVramBytes != null && need.vramBytes > need.freeVramBytes)
        return {
            fits: false, need,
            reason: `not enough free VRAM to load the model with ${gpuLayers} GPU layers: it needs about ${gib(need.vramBytes)} ` +
                `(model ${gib(model.gpuVram)} + context ${gib(context.gpuVram)} for ${contextShape}), ` +
                `but ${gib(need.freeVramBytes)} is free. Lower GPU_LAYERS, or: ${advice}`
        };
    return {fits: true, need};
}
