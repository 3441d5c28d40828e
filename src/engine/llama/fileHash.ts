import fs from "node:fs";
import xxhash, {type XXHashAPI} from "xxhash-wasm";

/** xxHash64 (non-cryptographic, several GB/s): enough to tell files apart and to catch corruption. */
let api: Promise<XXHashAPI> | null = null;

/** The xxHash64 of a whole file, read in streamed chunks, as 16 hex digits. */
export async function hashFile(filePath: string): Promise<string> {
    api ??= xxhash();
    const hasher = (await api).create64();
    for await (const chunk of fs.createReadStream(filePath, {highWaterMark: 4 * 1024 * 1024}))
        hasher.update(chunk as Buffer);
    return hasher.digest().toString(16).padStart(16, "0");
}
