import fs from "node:fs";
import type {FileHandle} from "node:fs/promises";

/** Why a file that should be a plain file (of a known size) was not opened: its type, or its size. */
export class UnexpectedFile extends Error {
    constructor(readonly problem: "type" | "size", message: string) {
        super(message);
    }
}

/**
 * Opens a file for reading only if it is a regular file (of `bytes` bytes when given): never a
 * symlink (O_NOFOLLOW: a link to /dev/zero would be read forever), never a FIFO or a device
 * (O_NONBLOCK: opening a FIFO would wait for a writer and hold a libuv thread for good; the type
 * is then checked on the opened descriptor, so a swap after a stat cannot slip through). Throws
 * UnexpectedFile, or the open's error (ENOENT, ELOOP for a symlink).
 */
export async function openRegularFile(filePath: string, bytes?: number): Promise<FileHandle> {
    const handle = await fs.promises.open(filePath, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0));
    try {
        const stat = await handle.stat();
        if (!stat.isFile())
            throw new UnexpectedFile("type", "not a regular file");
        if (bytes != null && stat.size !== bytes)
            throw new UnexpectedFile("size", `${stat.size} bytes instead of the ${bytes} expected`);
        return handle;
    } catch (err) {
        await handle.close();
        throw err;
    }
}

/** The whole text of a regular file of at most `maxBytes` bytes (see openRegularFile). */
export async function readRegularTextFile(filePath: string, maxBytes: number): Promise<string> {
    const handle = await openRegularFile(filePath);
    try {
        const {size} = await handle.stat();
        if (size > maxBytes)
            throw new UnexpectedFile("size", `larger than ${maxBytes} bytes`);
        return await handle.readFile("utf8");
    } finally {
        await handle.close();
    }
}
