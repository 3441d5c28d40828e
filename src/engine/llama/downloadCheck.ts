import fs from "node:fs";
import {createHash} from "node:crypto";
import {pipeline} from "node:stream/promises";
import {readGgufFileInfo} from "node-llama-cpp";
import type {ManifestFile} from "./hubFetchGuard.js";

/** What the server said of the files before sending them. */
export interface AnnouncedFiles {
    /** The bytes of all the files together, from the server's Content-Length; null when unknown or nothing was downloaded. */
    totalBytes: number | null;
    /** The hub manifest's description of the first file, when the reference was resolved through one. */
    manifest: ManifestFile | null;
}

/**
 * Why downloaded model files are not the model, or null: a size other than the server announced
 * or the hub's manifest gives, a sha256 other than the manifest's, no GGUF magic (an HTML page
 * answered with 200), a header that cannot be parsed, or data that ends before the last tensor
 * the header places (a body cut short, even with a Content-Length that matches what was sent).
 * A file that ends inside its last tensor passes here and is caught when the model is loaded,
 * where llama.cpp's type sizes give each tensor's exact extent.
 */
export async function downloadProblem(files: readonly string[], announced: AnnouncedFiles): Promise<string | null> {
    const sizes = files.map((file) => fs.statSync(file).size);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    if (announced.totalBytes != null && total !== announced.totalBytes)
        return `it has ${total} bytes where the server announced ${announced.totalBytes}`;
    const {manifest} = announced;
    if (manifest?.size != null && sizes[0] !== manifest.size)
        return `it has ${sizes[0]} bytes where the hub's manifest gives a size of ${manifest.size}`;
    if (manifest?.sha256 != null && await sha256Of(files[0]) !== manifest.sha256)
        return "its sha256 is not the one the hub's manifest gives";
    for (const [index, file] of files.entries())
        if (!(await startsWithMagic(file)))
            return `${files.length > 1 ? `shard ${index + 1} of ${files.length}` : "it"} does not start with the GGUF magic (an HTML page or an error message?)`;
    let info;
    try {
        info = await readGgufFileInfo(files[0], {readTensorInfo: true, sourceType: "filesystem", logWarnings: false});
    } catch (err) {
        return `its header cannot be parsed (truncated or corrupt): ${(err as Error).message}`;
    }
    if (info.splicedParts !== files.length)
        return `it has ${info.splicedParts} parts where ${files.length} were downloaded`;
    const tensors = info.fullTensorInfo ?? [];
    if (tensors.length < Number(info.totalTensorCount))
        return `its header is truncated: it describes ${info.totalTensorCount} tensors and only ${tensors.length} could be read`;
    const lastStart = new Map<number, number>();
    for (const tensor of tensors)
        lastStart.set(tensor.filePart ?? 1, Math.max(lastStart.get(tensor.filePart ?? 1) ?? 0, Number(tensor.fileOffset)));
    for (const [part, start] of lastStart)
        if (sizes[part - 1] <= start)
            return `it is truncated: ${files.length > 1 ? `shard ${part}` : "it"} has ${sizes[part - 1]} bytes, but its header places a tensor at byte ${start}`;
    return null;
}

async function startsWithMagic(file: string): Promise<boolean> {
    const handle = await fs.promises.open(file, "r");
    try {
        const {buffer, bytesRead} = await handle.read(Buffer.alloc(4), 0, 4, 0);
        return bytesRead === 4 && buffer.toString("latin1") === "GGUF";
    } finally {
        await handle.close();
    }
}

async function sha256Of(file: string): Promise<string> {
    const hash = createHash("sha256");
    await pipeline(fs.createReadStream(file, {highWaterMark: 4 * 1024 * 1024}), hash);
    return hash.digest("hex");
}
