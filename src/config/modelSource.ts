import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {ConfigError} from "../errors.js";

/**
 * Where a model comes from: a GGUF file on disk (MODEL_PATH, or the built-in test model), or a
 * reference that is downloaded into MODELS_DIR first (MODEL). One value describes one model, so a
 * setting that lists several models can hold one of these for each.
 */
export type ModelSource =
    | {kind: "file"; path: string; builtin: boolean}
    | {kind: "reference"; reference: string};

/** `hf:<user>/<repo>[:<quant>]`: node-llama-cpp asks the hub which file holds that quantization. */
const HF_QUANT = /^(hf|huggingface):[^\s/:#]+\/[^\s/:#]+(:[^\s/:#]+)?$/i;
/** `hf:<user>/<repo>/<path>.gguf[#<revision>]`: one file (or the first shard of a split model). */
const HF_FILE = /^(hf|huggingface):[^\s/:#]+\/[^\s/:#]+\/[^\s#]+\.gguf(\.part\d+of\d+)?(#[^\s#]+)?$/i;
/** A split GGUF's shard, as llama.cpp names them (`llama_split_path`): `<prefix>-00001-of-00003.gguf`. */
export const SPLIT_SHARD = /-(\d{5})-of-(\d{5})\.gguf$/i;

/** Whether a value is meant as a reference to download (`hf:`, `huggingface:`, `http(s)://`) rather than a path. */
export function isModelReference(value: string): boolean {
    return /^(hf|huggingface):|^https?:\/\//i.test(value.trim());
}

/**
 * Parser of MODEL: a Hugging Face reference (`hf:<user>/<repo>:<quant>`, `hf:<user>/<repo>/<file>.gguf`)
 * or an http(s) URL of a GGUF file. Anything else is refused at boot, a local path included (that is
 * MODEL_PATH's job), so a typo never turns into a download attempt.
 */
export function modelReference(raw: string): string {
    const value = raw.trim();
    if (HF_QUANT.test(value) || HF_FILE.test(value)) {
        const outside = pathOutsideRepository(value.slice(value.indexOf(":") + 1).replace(/#/, "/").replace(/:/, "/"));
        if (outside != null)
            throw new Error(`${outside} in ${JSON.stringify(raw)}: a reference names a file inside its repository`);
        return value;
    }
    if (/^https?:\/\//i.test(value)) {
        try {
            new URL(value);
            return value;
        } catch {
            throw new Error(`is not a valid URL: ${JSON.stringify(raw)}`);
        }
    }
    throw new Error(`expected hf:<user>/<repo>:<quant>, hf:<user>/<repo>/<file>.gguf or an http(s):// URL of a GGUF file, ` +
        `got ${JSON.stringify(raw)} (a file on disk goes in MODEL_PATH)`);
}

/**
 * What in a repository-relative path (`user/repo/file`, or a manifest's file name) would lead out
 * of it once it is part of a URL, where `..` and `.` segments are resolved: such a segment, or an
 * empty one (an absolute path, `//`), or a backslash. Null when there is none.
 */
export function pathOutsideRepository(repoPath: string): string | null {
    if (repoPath.includes("\\")) return "a backslash";
    for (const segment of repoPath.split("/"))
        if (segment === "" || segment === "." || segment === "..")
            return segment === "" ? "an empty path segment (an absolute path or //)" : `a "${segment}" path segment`;
    return null;
}

/** Where downloads go by default: the user's cache (`$XDG_CACHE_HOME`, else `~/.cache`), `chat-worker/models`. */
export function defaultModelsDir(env: NodeJS.ProcessEnv): string {
    const cache = env.XDG_CACHE_HOME != null && path.isAbsolute(env.XDG_CACHE_HOME)
        ? env.XDG_CACHE_HOME
        : path.join(env.HOME ?? os.homedir(), ".cache");
    return path.join(cache, "chat-worker", "models");
}

/** `[shard number, shard count]` of a split GGUF's file name, or null for a file that is not a shard. */
export function shardOf(file: string): [number, number] | null {
    const match = SPLIT_SHARD.exec(file);
    if (match == null) return null;
    const [part, parts] = [Number(match[1]), Number(match[2])];
    return part >= 1 && part <= parts ? [part, parts] : null;
}

/** Every file of a model on disk: the file itself, or each shard of a split GGUF in order (the first shard given). */
export function modelFilesOf(file: string): string[] {
    const shard = shardOf(file);
    if (shard == null) return [file];
    const prefix = file.slice(0, file.length - SPLIT_SHARD.exec(file)![0].length);
    const count = String(shard[1]).padStart(5, "0");
    return Array.from({length: shard[1]}, (_, index) => `${prefix}-${String(index + 1).padStart(5, "0")}-of-${count}.gguf`);
}

/**
 * A short name for logs and for the API when the GGUF names none: the file's name without `.gguf`
 * and without a shard suffix, or a reference's last part (`Qwen2.5-7B-Instruct-GGUF:Q4_K_M`).
 */
export function modelDisplayName(source: ModelSource | string): string {
    const text = typeof source === "string" ? source : source.kind === "file" ? source.path : source.reference;
    const last = text.replace(/[?#].*$/, "").split(/[\\/]/).filter((part) => part !== "").pop() ?? text;
    return last.replace(SPLIT_SHARD, "").replace(/\.gguf$/i, "");
}

/** The reference as logs may show it: a URL's user and password (if someone put them there) removed. */
export function describeModelSource(source: ModelSource): string {
    if (source.kind === "file") return source.path;
    try {
        const url = new URL(source.reference);
        if (url.username !== "" || url.password !== "") {
            url.username = "";
            url.password = "";
            return url.href;
        }
    } catch {
        // An hf: reference has no user information.
    }
    return source.reference;
}

/**
 * Creates MODELS_DIR if needed and checks that it can be written: a download into a folder that
 * cannot be written would only fail after its first megabytes. Throws ConfigError.
 */
export function ensureModelsDir(dir: string): void {
    try {
        fs.mkdirSync(dir, {recursive: true});
        fs.accessSync(dir, fs.constants.W_OK);
    } catch (err) {
        throw new ConfigError("MODELS_DIR", `must be a folder MODEL's download can be written to: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
}
