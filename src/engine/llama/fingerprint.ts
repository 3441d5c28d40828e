import fs from "node:fs";
import {modelIdentity} from "./modelIdentity.js";

/**
 * OpenAI's `system_fingerprint`: "fp_" and a short hash of everything besides the request that
 * decides an answer's tokens. That is the weights (every file's hash, as the conversation cache's model
 * identity reads them), the context layout (size, KV types, flash attention: the prompt's fit and
 * the sums depend on them), the engine build (node-llama-cpp and llama.cpp's release) and the
 * determinism scope: the backend, the CPU kernels llama.cpp loaded (an AVX2 and an AVX-512 machine
 * sum in another order, docs/determinism.md) and whether DETERMINISTIC is on. With it on, two
 * answers with the same fingerprint, request and seed are the same tokens; with it off, batching
 * and the cache may still tip a near-tie.
 */
export async function systemFingerprint(files: readonly string[], scope: Record<string, unknown>, cacheDir: string): Promise<string> {
    const identity = await modelIdentity(files, {purpose: "system_fingerprint", cpuKernels: loadedCpuKernels(), ...scope}, cacheDir);
    return `fp_${identity.slice(0, 12)}`;
}

/**
 * The ggml CPU library variants this process loaded (e.g. ["zen4"]): llama.cpp picks the best one
 * the CPU supports and no option reports which. Empty where /proc is not there (not Linux), and
 * for a build without per-variant libraries; both still tell machines apart by the other facts only.
 */
export function loadedCpuKernels(mapsFile = "/proc/self/maps"): string[] {
    let maps: string;
    try {
        maps = fs.readFileSync(mapsFile, "utf8");
    } catch {
        return [];
    }
    return [...new Set([...maps.matchAll(/libggml-cpu-([\w]+)\.(?:so|dylib)/g)].map((match) => match[1]))].sort();
}
