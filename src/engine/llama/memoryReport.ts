import os from "node:os";
import type {Llama} from "node-llama-cpp";
import type {MemoryReport} from "../types.js";
import {freeRamBytes} from "./memoryCheck.js";

/**
 * Memory as the backend's device sees it, and the share the loaded model holds (0 with none).
 * Before the backend started on a GPU setting, which device it would use is not known yet.
 */
export async function memoryReport(llama: Llama | null, modelLoaded: boolean, gpuSetting: string): Promise<MemoryReport> {
    const usage = llama != null && modelLoaded ? await llama.getLlamaMemoryUsage() : null;
    if (llama == null && gpuSetting !== "false")
        return {deviceType: "unknown", device: null, deviceName: null, memoryKind: null, totalBytes: null, usedBytes: null, freeBytes: null, modelBytes: null};
    if (llama != null && llama.gpu !== false) {
        const [vram, names] = await Promise.all([llama.getVramState(), llama.getGpuDeviceNames()]);
        return {
            deviceType: llama.gpu, device: `${llama.gpu}:0`, deviceName: names[0] ?? null, memoryKind: "vram",
            totalBytes: vram.total, usedBytes: vram.used, freeBytes: vram.free, modelBytes: usage?.gpuVram ?? 0
        };
    }
    const total = os.totalmem();
    const free = Math.min(total, freeRamBytes(llama != null ? (await llama.getRamState()).free : undefined));
    return {
        deviceType: "cpu", device: "cpu", deviceName: null, memoryKind: "ram",
        totalBytes: total, usedBytes: total - free, freeBytes: free, modelBytes: usage?.cpuRam ?? 0
    };
}
