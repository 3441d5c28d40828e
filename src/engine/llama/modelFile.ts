import fs from "node:fs";
import path from "node:path";
import {readGgufFileInfo, GgufInsights, GgufFileType, GgmlType, InsufficientMemoryError, type Llama} from "node-llama-cpp";
import {LoadFailure} from "../../errors.js";
import type {ModelSource} from "../../config/config.js";
import {describeModelSource} from "../../config/modelSource.js";
import type {EngineLogger, EngineStatus} from "../types.js";

/** What the GGUF header says about the model, known before (and after) it is loaded. */
export interface ModelFacts {
    insights: GgufInsights;
    name: string | null;
    architecture: string | null;
    parameterCount: number;
    quantization: string | null;
    trainContextSize: number | null;
    /** Bytes of every file of the model (all shards of a split model). */
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

/** The setting that named the model, for messages: MODEL_PATH (a file) or MODEL (a download). */
export type ModelSetting = "MODEL_PATH" | "MODEL";

/**
 * Reads and checks the model's files without loading them: they must exist, be GGUF files, and
 * hold all the tensor data their headers promise (a truncated download otherwise only fails deep
 * inside llama.cpp with a generic "Failed to load model"). `files` lists every shard of a split
 * model, the first shard first; the facts cover them all.
 */
export async function readModelFacts(llama: Llama, files: readonly string[], setting: ModelSetting = "MODEL_PATH"): Promise<ModelFacts> {
    const sizes: number[] = [];
    for (const file of files) {
        let stat: fs.Stats;
        try {
            stat = fs.statSync(file);
        } catch {
            throw new LoadFailure("model_file_not_found", `the model file (${setting}) does not exist; set ${setting} to a GGUF file`);
        }
        if (!stat.isFile())
            throw new LoadFailure("model_file_not_found", `${setting} is not a regular file; set it to a GGUF file`);
        sizes.push(stat.size);
    }
    if (sizes[0] === 0)
        throw new LoadFailure("model_invalid", `the model file (${setting}) is empty (0 bytes): not a valid GGUF model`);
    let insights: GgufInsights;
    try {
        // A first shard's path makes node-llama-cpp read every shard and splice their tensors.
        const fileInfo = await readGgufFileInfo(files[0], {readTensorInfo: true, sourceType: "filesystem", logWarnings: false});
        insights = await GgufInsights.from(fileInfo, llama);
    } catch (err) {
        throw new LoadFailure("model_invalid", `the model file (${setting}) is not a valid GGUF model: ${printable((err as Error).message)}`);
    }
    const info = insights.ggufFileInfo;
    if (info.splicedParts !== files.length)
        throw new LoadFailure("model_invalid", `the model (${setting}) has ${info.splicedParts} files where ${files.length} were expected`);
    const truncated = truncation(info, insights, sizes);
    if (truncated != null)
        throw new LoadFailure("model_invalid", `the model file (${setting}) is truncated or corrupt: ${truncated} (an incomplete download?)`);
    const general = info.metadata.general as {name?: string; architecture?: string; file_type?: number} | undefined;
    return {
        insights,
        name: general?.name ?? null,
        architecture: general?.architecture ?? null,
        parameterCount: insights.totalParameters,
        quantization: quantizationName(general?.file_type, insights.dominantTensorType),
        trainContextSize: insights.trainContextSize ?? null,
        fileSizeBytes: sizes.reduce((sum, size) => sum + size, 0),
        maxTokenChars: longestToken(info.metadata.tokenizer?.ggml?.tokens),
        vocabularySize: info.metadata.tokenizer?.ggml?.tokens?.length ?? null
    };
}

/**
 * Why the files are shorter than their headers say, or null. A shard's data reaches at least into
 * its last tensor; and node-llama-cpp's `modelSize` is the sum over the shards of their tensor
 * data's extent, so the files together must hold each shard's header (its data start) plus it.
 * Fewer tensors than declared is a header cut short.
 */
function truncation(info: GgufInsights["ggufFileInfo"], insights: GgufInsights, sizes: readonly number[]): string | null {
    const tensors = info.fullTensorInfo ?? [];
    const declared = Number(info.totalTensorCount);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    if (tensors.length < declared)
        return `it has ${total} bytes, but its header describes ${declared} tensors and only ${tensors.length} could be read`;
    const dataStart = new Map<number, number>();
    const lastStart = new Map<number, number>();
    for (const tensor of tensors) {
        const part = tensor.filePart ?? 1;
        const start = Number(tensor.fileOffset);
        dataStart.set(part, start - Number(tensor.offset));
        lastStart.set(part, Math.max(lastStart.get(part) ?? 0, start));
    }
    for (const [part, start] of lastStart)
        if (sizes[part - 1] <= start)
            return `${sizes.length > 1 ? `shard ${part} of ${sizes.length}` : "it"} has ${sizes[part - 1]} bytes, but its header places a tensor at byte ${start}`;
    const needed = [...dataStart.values()].reduce((sum, start) => sum + start, 0) + insights.modelSize;
    if (total < needed)
        return `it has ${total} bytes, but its header${sizes.length > 1 ? "s describe" : " describes"} ${declared} tensors needing ${needed} bytes`;
    return null;
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
export function classifyLoadError(err: unknown, modelPath: string | null, setting: ModelSetting = "MODEL_PATH"): LoadFailure {
    if (err instanceof LoadFailure)
        return new LoadFailure(err.code, printable(withoutPath(err.message, modelPath, setting)));
    const message = printable(withoutPath(err instanceof Error ? err.message : String(err), modelPath, setting));
    if (err instanceof InsufficientMemoryError || /not enough (v)?ram|insufficient memory|out of memory/i.test(message))
        return new LoadFailure("insufficient_memory", `not enough memory to load the model: ${message}`);
    if (/magic|gguf|invalid|failed to load model/i.test(message))
        return new LoadFailure("model_invalid", `model file could not be loaded (corrupt or unsupported GGUF): ${message}`);
    return new LoadFailure("load_failed", message);
}

/** Bytes of all the files together, or null when they are not known or one of them cannot be read. */
export function filesSize(files: readonly string[] | null): number | null {
    if (files == null) return null;
    let total = 0;
    for (const file of files) {
        try {
            total += fs.statSync(file).size;
        } catch {
            return null;
        }
    }
    return total;
}

/**
 * `text` with its control characters written as `\xNN` escapes: node-llama-cpp quotes the bytes
 * it read ("got \"\u0000\u0000\u0000\u0000\"" for an empty file), and the reason reaches
 * /health, 503 bodies and logs.
 */
export function printable(text: string): string {
    return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** `text` with the model's path (as given and absolute) written as its setting's name, and other absolute paths as <path>. */
export function withoutPath(text: string, modelPath: string | null, setting: ModelSetting = "MODEL_PATH"): string {
    let result = text;
    if (modelPath != null)
        for (const form of [path.resolve(modelPath), modelPath])
            if (form.length > 1) result = result.split(form).join(setting);
    return result.replace(/(?<![\w.])\/(?:[^\s/:'"]+\/)+[^\s/:'",;)]*/g, "<path>");
}

/** The setting that names a model in messages: MODEL_PATH for a file, MODEL for a reference to download. */
export function modelSetting(model: ModelSource): ModelSetting {
    return model.kind === "file" ? "MODEL_PATH" : "MODEL";
}

/** What an engine reports after a failed load (the message without the model's path), logged once. */
export function failedStatus(err: unknown, model: ModelSource, entrypoint: string | null, logger: EngineLogger): EngineStatus {
    const failure = classifyLoadError(err, entrypoint, modelSetting(model));
    logger.error({model: describeModelSource(model), code: failure.code, reason: failure.message}, "model failed to load");
    return {state: "failed", reason: failure.message, loadProgress: null, code: failure.code};
}
