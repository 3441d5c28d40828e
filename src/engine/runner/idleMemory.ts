import os from "node:os";
import type {MemoryReport} from "../types.js";

/** Memory with no runner: the model holds nothing; on the CPU (the last runner's backend) the RAM figures are still known. */
export function idleMemory(lastBackend: string | null): MemoryReport {
    if (lastBackend !== "cpu")
        return {deviceType: "unknown", device: null, deviceName: null, memoryKind: null, totalBytes: null, usedBytes: null, freeBytes: null, modelBytes: null};
    const total = os.totalmem();
    const free = os.freemem();
    return {deviceType: "cpu", device: "cpu", deviceName: null, memoryKind: "ram", totalBytes: total, usedBytes: total - free, freeBytes: free, modelBytes: 0};
}
