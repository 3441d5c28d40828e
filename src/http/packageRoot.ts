import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";

export interface PackageRoot {
    /** The folder that holds the worker's package.json. */
    dir: string;
    version: string;
}

let found: PackageRoot | undefined;

/**
 * The worker's own package folder, found from this file upwards (src/http/ in development,
 * dist/src/http/ when built), so files shipped beside package.json (the playground) are found
 * from either.
 */
export function packageRoot(): PackageRoot {
    if (found != null) return found;
    let dir = path.dirname(fileURLToPath(import.meta.url));
    for (let depth = 0; depth < 6; depth++) {
        try {
            const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {name?: string; version?: string};
            if (pkg.name === "chat-worker" && pkg.version != null)
                return found = {dir, version: pkg.version};
        } catch {
            // not here; look one folder up
        }
        dir = path.dirname(dir);
    }
    throw new Error("chat-worker's package.json was not found above " + fileURLToPath(import.meta.url));
}
