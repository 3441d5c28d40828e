import fs from "node:fs";
import {createHash} from "node:crypto";

/** Bytes hashed at each end of the file: enough to tell models apart without reading gigabytes. */
const SAMPLE_BYTES = 4 * 1024 * 1024;

/**
 * A short id for "this model file with this context layout". Loading a sequence state written by
 * another model can crash llama.cpp, so the state cache keeps each identity in its own folder.
 * The GGUF header and metadata (start of file) and the last tensors (end) change with any
 * different model or quantization; the size and the layout settings are mixed in as well.
 */
export async function modelIdentity(modelPath: string, layout: Record<string, unknown>): Promise<string> {
    const handle = await fs.promises.open(modelPath, "r");
    try {
        const {size} = await handle.stat();
        const hash = createHash("sha256");
        hash.update(JSON.stringify({size, layout}));
        const head = Buffer.alloc(Math.min(SAMPLE_BYTES, size));
        await handle.read(head, 0, head.length, 0);
        hash.update(head);
        if (size > SAMPLE_BYTES) {
            const tail = Buffer.alloc(Math.min(SAMPLE_BYTES, size - SAMPLE_BYTES));
            await handle.read(tail, 0, tail.length, size - tail.length);
            hash.update(tail);
        }
        return hash.digest("hex").slice(0, 24);
    } finally {
        await handle.close();
    }
}
