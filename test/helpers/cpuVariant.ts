import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * node-llama-cpp's prebuilt CPU binaries hold one ggml CPU library per CPU family
 * (libggml-cpu-haswell.so, -skylakex, -zen4, ...) and llama.cpp loads the best one the CPU supports
 * from the folder of the addon. No option chooses another, so to run the worker on, say, the AVX2
 * kernels of an AVX-512 machine, this builds a copy of the project whose node_modules links to the
 * real packages, except the prebuilt-binaries package: a copy holding only the chosen variant.
 * Node must run with --preserve-symlinks so that modules resolve through the copy's links.
 */

const root = path.resolve(import.meta.dirname, "..", "..");
const PLATFORM_PACKAGE = "linux-x64";

/** The CPU variants the prebuilt binaries ship for this platform, e.g. ["alderlake", ..., "zen4"]. */
export function shippedCpuVariants(): string[] {
    return fs.readdirSync(binsDir(path.join(root, "node_modules")))
        .map((name) => /^libggml-cpu-(.+)\.so$/.exec(name)?.[1])
        .filter((name): name is string => name != null)
        .sort();
}

function binsDir(nodeModules: string): string {
    return path.join(nodeModules, "@node-llama-cpp", PLATFORM_PACKAGE, "bins", PLATFORM_PACKAGE);
}

/** Builds (once per run) a project copy that can only load `variant`; returns its root. */
export function projectWithCpuVariant(variant: string): string {
    if (!shippedCpuVariants().includes(variant))
        throw new Error(`the prebuilt binaries ship no ${variant} variant (they ship ${shippedCpuVariants().join(", ")})`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `chat-worker-cpu-${variant}-`));
    // Everything the worker may read at run time (src, templates, playground, ...), but node_modules.
    for (const entry of fs.readdirSync(root))
        if (entry !== "node_modules" && entry !== ".git")
            fs.symlinkSync(path.join(root, entry), path.join(dir, entry));
    const modules = path.join(dir, "node_modules");
    fs.mkdirSync(path.join(modules, "@node-llama-cpp"), {recursive: true});
    for (const entry of fs.readdirSync(path.join(root, "node_modules")))
        if (entry !== "@node-llama-cpp")
            fs.symlinkSync(path.join(root, "node_modules", entry), path.join(modules, entry));
    const realScope = path.join(root, "node_modules", "@node-llama-cpp");
    for (const entry of fs.readdirSync(realScope))
        if (entry !== PLATFORM_PACKAGE)
            fs.symlinkSync(path.join(realScope, entry), path.join(modules, "@node-llama-cpp", entry));
    // The platform package, copied without the other CPU variants.
    const source = path.join(realScope, PLATFORM_PACKAGE);
    const target = path.join(modules, "@node-llama-cpp", PLATFORM_PACKAGE);
    fs.cpSync(source, target, {
        recursive: true,
        filter: (file) => {
            const match = /^libggml-cpu-(.+)\.so$/.exec(path.basename(file));
            return match == null || match[1] === variant;
        }
    });
    return dir;
}

/**
 * The ggml CPU variants a running process and its children (the model runner) have loaded, read
 * from their memory maps (Linux).
 */
export function loadedCpuVariants(pid: number): string[] {
    const found = new Set<string>();
    for (const id of [pid, ...childrenOf(pid)]) {
        const maps = fs.readFileSync(`/proc/${id}/maps`, "utf8");
        for (const match of maps.matchAll(/libggml-cpu-([\w]+)\.so/g)) found.add(match[1]);
    }
    return [...found];
}

function childrenOf(pid: number): number[] {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return children === "" ? [] : children.split(/\s+/).map(Number).flatMap((child) => [child, ...childrenOf(child)]);
}
