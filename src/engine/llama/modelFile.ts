import fs from "node:fs";
import path from "node:path";
import {readGgufFileInfo, GgufInsights, GgufFileType, GgmlType, InsufficientMemoryError, type Llama} from "node-llama-cpp";

/**
 * Why a load failed, with a stable code for /health and clients. The message is written for the
 * operator: it says what is wrong and which setting to change.
 */
export class LoadFailure extends Error {
    constructor(readonly code: LoadFailureCode, message: string) {
        super(message);
        this.name = "LoadFailure";
    }
}

export type LoadFailureCode =
    | "model_not_found"
    | "model_invalid"
    | "insufficient_memory"
    | "backend_unavailable"
    | "load_failed";

/** What the GGUF header says about the model, known before (and after) it is loaded. */
export interface ModelFacts {
    insights: GgufInsights;
    name: string | null;
    architecture: string | null;
    parameterCount: number;
    quantization: string | null;
    trainContextSize: number | null;
    fileSizeBytes: number;
    /**
     * Characters of the longest token as the vocabulary spells it, an upper bound of the text one
     * token covers: text of N characters needs at least N / maxTokenChars tokens. Null when the
     * file has no vocabulary list.
     */
    maxTokenChars: number | null;
    /** Tokens in the vocabulary (valid ids are below it); null when the file has no vocabulary list. */
    vocabularySize: number | null;
}

/**
 * Reads and checks the model file without loading it: it must exist, be a GGUF file, and hold
 * all the tensor data its header promises (a truncated download otherwise only fails deep inside
 * llama.cpp with a generic "Failed to load model").
 */
export async function readModelFacts(llama: Llama, modelPath: string): Promise<ModelFacts> {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(modelPath);
    } catch {
        throw new LoadFailure("model_not_found", "the model file (MODEL_PATH) does not exist; set MODEL_PATH to a GGUF file");
    }
    if (!stat.isFile())
        throw new LoadFailure("model_not_found", "MODEL_PATH is not a regular file; set it to a GGUF file");
    let insights: GgufInsights;
    try {
        const fileInfo = await readGgufFileInfo(modelPath, {readTensorInfo: true, sourceType: "filesystem", logWarnings: false});
        insights = await GgufInsights.from(fileInfo, llama);
    } catch (err) {
        throw new LoadFailure("model_invalid", `the model file (MODEL_PATH) is not a valid GGUF model: ${(err as Error).message}`);
    }
    const info = insights.ggufFileInfo;
    const declaredTensors = Number(info.totalTensorCount);
    const readTensors = info.fullTensorInfo?.length ?? 0;
    const needed = (info.infoEndOffset ?? 0) + insights.modelSize;
    // Split models (model-00001-of-00003.gguf) keep their tensors in other files; only the count can be checked.
    if (readTensors < declaredTensors || (info.splicedParts === 1 && needed > stat.size))
        throw new LoadFailure("model_invalid",
            `the model file (MODEL_PATH) is truncated or corrupt: it has ${stat.size} bytes, but its header describes ` +
            `${declaredTensors} tensors needing ${needed} bytes (an incomplete download?)`);
    const general = info.metadata.general as {name?: string; architecture?: string; file_type?: number} | undefined;
    return {
        insights,
        name: general?.name ?? null,
        architecture: general?.architecture ?? null,
        parameterCount: insights.totalParameters,
        quantization: quantizationName(general?.file_type, insights.dominantTensorType),
        trainContextSize: insights.trainContextSize ?? null,
        fileSizeBytes: stat.size,
        maxTokenChars: longestToken(info.metadata.tokenizer?.ggml?.tokens),
        vocabularySize: info.metadata.tokenizer?.ggml?.tokens?.length ?? null
    };
}

function longestToken(tokens: readonly string[] | undefined): number | null {
    if (tokens == null || tokens.length === 0) return null;
    let longest = 1;
    for (const token of tokens) if (token.length > longest) longest = token.length;
    return longest;
}

/** "Q4_K_M", "Q8_0", "F32"...: the file type without llama.cpp's MOSTLY_/ALL_ prefix. */
function quantizationName(fileType: number | undefined, dominant: GgmlType | undefined): string | null {
    const fromFileType = fileType != null ? GgufFileType[fileType] : undefined;
    if (fromFileType != null)
        return fromFileType.replace(/^(MOSTLY|ALL)_/, "");
    return dominant != null ? GgmlType[dominant] ?? null : null;
}

/**
 * Maps whatever a load threw to a LoadFailure with a code (llama.cpp reports most problems as plain
 * Errors). The message goes to clients (/health, 503s), so the model's path is replaced by the
 * setting's name: error bodies never carry file paths.
 */
export function classifyLoadError(err: unknown, modelPath: string): LoadFailure {
    if (err instanceof LoadFailure)
        return new LoadFailure(err.code, withoutPath(err.message, modelPath));
    const message = withoutPath(err instanceof Error ? err.message : String(err), modelPath);
    if (err instanceof InsufficientMemoryError || /not enough (v)?ram|insufficient memory|out of memory/i.test(message))
        return new LoadFailure("insufficient_memory", `not enough memory to load the model: ${message}`);
    if (/magic|gguf|invalid|failed to load model/i.test(message))
        return new LoadFailure("model_invalid", `model file could not be loaded (corrupt or unsupported GGUF): ${message}`);
    return new LoadFailure("load_failed", message);
}

export function fileSizeOf(filePath: string): number | null {
    try {
        return fs.statSync(filePath).size;
    } catch {
        return null;
    }
}

/** "models/qwen2.5-7b-instruct-q4_k_m.gguf" -> "qwen2.5-7b-instruct-q4_k_m" */
export function baseName(filePath: string): string {
    return filePath.split(/[\\/]/).pop()?.replace(/\.gguf$/i, "") ?? filePath;
}

/** `text` with the model's path (as given and absolute) written as MODEL_PATH, and other absolute paths as <path>. */
export function withoutPath(text: string, modelPath: string): string {
    let result = text;
    for (const form of [path.resolve(modelPath), modelPath])
        if (form.length > 1) result = result.split(form).join("MODEL_PATH");
    return result.replace(/(?<![\w.])\/(?:[^\s/:'"]+\/)+[^\s/:'",;)]*/g, "<path>");
}
