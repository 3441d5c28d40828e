import fs from "node:fs";
import path from "node:path";
import {resolveModelFile} from "node-llama-cpp";
import {describeModelSource, modelFilesOf, type ModelSource} from "../../config/modelSource.js";
import type {DownloadProgress, EngineLogger} from "../types.js";
import {LoadFailure} from "../../errors.js";
import {guardHubRequests} from "./hubFetchGuard.js";
import {downloadProblem} from "./downloadCheck.js";

/** A model's files on disk. */
export interface ModelFiles {
    /** The file llama.cpp opens: the model's only file, or the first shard of a split model. */
    entrypoint: string;
    /** Every file of the model, the entrypoint first: all shards of a split model, in order. */
    files: string[];
}

export interface ModelFilesOptions {
    /** MODELS_DIR: where downloads go and where finished ones are found again. */
    directory: string;
    /** HF_TOKEN, sent only to the Hugging Face endpoint; null sends none. */
    token: string | null;
    /** HF_ENDPOINT: the hub or a mirror that `hf:` references resolve against. */
    endpoint: string;
    /** Stops a download; the partial file stays, and the next attempt resumes it. */
    signal?: AbortSignal;
    /** Called as bytes arrive (only when something is downloaded). */
    onProgress?(progress: DownloadProgress): void;
}

/**
 * The one place a model source becomes files on disk. A file source is checked as it is (every
 * shard of a split model must be there); a reference is resolved by node-llama-cpp's
 * `resolveModelFile`, which finds a finished download in `directory` without asking the network,
 * downloads what is missing (all shards, several connections, resuming a partial `.ipull` file)
import {LoadFailure} from "../../errors.js";
import {guardHubRequests} from "./hubFetchGuard.js";
import {downloadProblem} from "./downloadCheck.js";
 */
export async function resolveModelFiles(source: ModelSource, options: ModelFilesOptions): Promise<ModelFiles> {
    if (source.kind === "file")
        return checkedFiles(source.path, "MODEL_PATH");
    let entrypoint: string;
    let announcedBytes: number | null = null;
    const guard = guardHubRequests(options.endpoint, options.token, source.reference);
    try {
        entrypoint = await resolveModelFile(source.reference, {
            directory: options.directory,
            fileName: urlFileName(source.reference, options.endpoint),
            cli: false,
            // A cut or stopped download keeps its partial file: the next attempt resumes it.
            deleteTempFileOnCancel: false,
            // null: only HF_TOKEN is sent, never a token node-llama-cpp would find in the
            // environment or in huggingface-cli's token file (the type does not list null; the code honours it).
            tokens: {huggingFace: (options.token ?? null) as string | undefined},
            endpoints: {huggingFace: options.endpoint},
            signal: options.signal,
            onProgress: ({totalSize, downloadedSize}) => {
                announcedBytes = totalSize > 0 ? totalSize : null;
                options.onProgress?.({doneBytes: downloadedSize, totalBytes: announcedBytes});
            }
        });
    } catch (err) {
        throw guard.refusal != null ? new LoadFailure("download_failed", `downloading the model (MODEL) failed: ${guard.refusal}`)
            : downloadFailure(err, options);
    } finally {
        guard.release();
    }
    const files = checkedFiles(entrypoint, "MODEL");
    const problem = await downloadProblem(files.files, {totalBytes: announcedBytes, manifest: guard.manifest});
    if (problem != null) {
        await Promise.all(files.files.map((file) => fs.promises.rm(file, {force: true})));
        throw new LoadFailure("download_failed", `the downloaded model (MODEL) is not a valid GGUF file: ${problem}; ` +
            "it was removed and is downloaded again on the next attempt");
    }
    return files;
}

/** A download logs its progress at each tenth. */
const PROGRESS_LOG_STEPS = 10;

/**
 * One engine's model files: looked up once (downloading them first for a reference), one lookup at
 * a time, then kept, so a reload in the same runner does not look again. `onDownload` gets the
 * progress while a reference is looked up and downloaded (from the start: finding the files may
 * already ask the network), then null; the log gets a line at each tenth and one at the end.
 */
export class ModelFilesFinder {
    private found: ModelFiles | null = null;
    private finding: Promise<ModelFiles> | null = null;
    private readonly stop = new AbortController();

    constructor(
        private readonly source: ModelSource,
        private readonly options: Omit<ModelFilesOptions, "onProgress" | "signal">,
        private readonly logger: EngineLogger,
        private readonly onDownload: (progress: DownloadProgress | null) => void
    ) {}

    /** The files once found; null before. */
    get files(): ModelFiles | null {
        return this.found;
    }

    /** The files as far as known without looking: found ones, or a file source's (null for a reference not yet downloaded). */
    knownPaths(): readonly string[] | null {
        return this.found?.files ?? (this.source.kind === "file" ? modelFilesOf(this.source.path) : null);
    }

    find(): Promise<ModelFiles> {
        if (this.found != null) return Promise.resolve(this.found);
        this.finding ??= this.lookUp().finally(() => {
            this.finding = null;
        });
        return this.finding;
    }

    /** Stops a download in progress (the engine closes); the partial file stays for the next attempt. */
    abort(): void {
        this.stop.abort();
    }

    private async lookUp(): Promise<ModelFiles> {
        const model = describeModelSource(this.source);
        const started = performance.now();
        let loggedStep = -1;
        let downloadedBytes: number | null = null;
        if (this.source.kind === "reference") this.onDownload({doneBytes: 0, totalBytes: null});
        try {
            this.found = await resolveModelFiles(this.source, {...this.options, signal: this.stop.signal, onProgress: (progress) => {
                downloadedBytes = progress.doneBytes;
                this.onDownload(progress);
                const step = progress.totalBytes != null ? Math.floor(progress.doneBytes / progress.totalBytes * PROGRESS_LOG_STEPS) : 0;
                if (step === loggedStep) return;
                loggedStep = step;
                this.logger.info({model, downloadedBytes: progress.doneBytes, totalBytes: progress.totalBytes,
                    percent: step * 100 / PROGRESS_LOG_STEPS}, "downloading the model");
            }});
        } finally {
            if (this.source.kind === "reference") this.onDownload(null);
        }
        if (downloadedBytes != null)
            this.logger.info({model, files: this.found.files.length, bytes: downloadedBytes,
                seconds: Number(((performance.now() - started) / 1000).toFixed(3))}, "model downloaded");
        return this.found;
    }
}

function checkedFiles(entrypoint: string, setting: "MODEL_PATH" | "MODEL"): ModelFiles {
    const files = modelFilesOf(entrypoint);
    if (files.length > 1)
        for (const [index, file] of files.entries())
            if (!fs.existsSync(file))
                throw new LoadFailure("model_file_not_found",
                    `shard ${index + 1} of ${files.length} of the split model (${setting}) is missing: ${path.basename(file)} ` +
                    "must be beside the first shard");
    return {entrypoint, files};
}

/**
 * The local name of a plain URL's file (`<host>_<file>.gguf`). node-llama-cpp looks a URL's file
 * up in the folder only when it is given a name; without one it would ask the server on every
 * load. Hugging Face URLs (HF_ENDPOINT's host included) get node-llama-cpp's own `hf_` names.
 */
function urlFileName(reference: string, endpoint: string): string | undefined {
    if (!/^https?:\/\//i.test(reference)) return undefined;
    const url = new URL(reference);
    if (["huggingface.co", "hf.co", new URL(endpoint).hostname].includes(url.hostname)) return undefined;
    const file = decodeURIComponent(url.pathname.split("/").pop() ?? "");
    if (!/\.gguf$/i.test(file)) return undefined;
    return `${url.hostname}_${file}`.replace(/[^\w.-]/g, "_");
}

/** The HTTP status in ipull's ("Status code: 404") or node-llama-cpp's (": 401 Unauthorized") messages; NaN if none. */
function statusIn(message: string): number {
    const match = /Status code: (\d{3})\b|: (\d{3}) [A-Za-z]/.exec(message);
    return match != null ? Number(match[1] ?? match[2]) : NaN;
}

/**
 * What the operator should read when a download fails: the HTTP status and what to change. The
 * message goes to /health, so it names settings, not the token or local paths.
 */
function downloadFailure(err: unknown, options: ModelFilesOptions): LoadFailure {
    if (err instanceof LoadFailure) return err;
    if (options.signal?.aborted)
        return new LoadFailure("download_failed", "the model download was stopped; the partial file is kept and the next attempt resumes it");
    const error = err as {statusCode?: unknown; code?: unknown; message?: unknown};
    const message = typeof error.message === "string" ? error.message : String(err);
    const status = typeof error.statusCode === "number" ? error.statusCode
        : statusIn(message);
    const host = new URL(options.endpoint).host;
    if (status === 401 || status === 403)
        return new LoadFailure("download_failed", `downloading the model (MODEL) failed: HTTP ${status} from ${host}. ` + (options.token == null
            ? "The repository needs an access token: set HF_TOKEN."
            : "HF_TOKEN was sent and refused: check that the token is valid and has access to the repository (gated models need their terms accepted on the hub)."));
    if (status === 404 || /does not exist/.test(message))
        return new LoadFailure("download_failed", `downloading the model (MODEL) failed: not found${Number.isFinite(status) ? ` (HTTP ${status})` : ""} at ${host}. ` +
            "Check the repository and file name in MODEL (an hf:<user>/<repo>:<quant> reference needs a GGUF file with that quantization in its name).");
    if (Number.isFinite(status))
        return new LoadFailure("download_failed", `downloading the model (MODEL) failed: HTTP ${status} from ${host}`);
    if (error.code === "ENOSPC")
        return new LoadFailure("download_failed", "downloading the model (MODEL) failed: no space left in MODELS_DIR");
    if (error.code === "EACCES" || error.code === "EROFS" || error.code === "EPERM")
        return new LoadFailure("download_failed", "downloading the model (MODEL) failed: MODELS_DIR is not writable");
    const cause = (err as {cause?: {code?: unknown}}).cause?.code;
    return new LoadFailure("download_failed", `downloading the model (MODEL) failed: ${typeof cause === "string" ? `${cause}: ` : ""}${message.slice(0, 300)}`);
}
