import fs from "node:fs";
import path from "node:path";
import {createHash} from "node:crypto";
import {hashFile} from "./fileHash.js";

/** Hashes already computed, by file (device, inode, size, mtime), so a restart does not read gigabytes again. */
const HASH_CACHE_FILE = "model-hashes.json";

/**
 * A short id for "these model files with this context layout". Loading a sequence state written by
 * another model can crash llama.cpp or quietly answer wrong, so the conversation cache keeps each identity
 * in its own folder. A fine-tune of the same shape differs from its base only in the middle of the
 * file, so the whole file is hashed (xxHash64); the hash is remembered in `cacheDir` by the file's
 * device, inode, size and modification time. `files` lists every part of a split model.
 */
export async function modelIdentity(files: readonly string[], layout: Record<string, unknown>, cacheDir: string): Promise<string> {
    const hashes: string[] = [];
    for (const file of files)
        hashes.push(await cachedFileHash(file, cacheDir));
    return createHash("sha256").update(JSON.stringify({hashes, layout})).digest("hex").slice(0, 24);
}

async function cachedFileHash(file: string, cacheDir: string): Promise<string> {
    const stat = await fs.promises.stat(file);
    const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    const cacheFile = path.join(cacheDir, HASH_CACHE_FILE);
    const cache = await readCache(cacheFile);
    const known = cache[key];
    if (typeof known === "string")
        return known;
    const hash = await hashFile(file);
    cache[key] = hash;
    // The cache is only a shortcut: an unwritable folder costs a rehash next time, nothing else.
    await fs.promises.mkdir(cacheDir, {recursive: true})
        .then(() => fs.promises.writeFile(`${cacheFile}.tmp`, JSON.stringify(cache)))
        .then(() => fs.promises.rename(`${cacheFile}.tmp`, cacheFile))
        .catch(() => undefined);
    return hash;
}

async function readCache(cacheFile: string): Promise<Record<string, unknown>> {
    try {
        const parsed: unknown = JSON.parse(await fs.promises.readFile(cacheFile, "utf8"));
        return typeof parsed === "object" && parsed != null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {};
    } catch {
        return {};
    }
}
