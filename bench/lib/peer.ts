/**
 * The fair peer: llama.cpp's own llama-server, built from the exact source node-llama-cpp ships
 * (node_modules/node-llama-cpp/llama/gitRelease.bundle, plus node-llama-cpp's own patches), and run
 * on node-llama-cpp's prebuilt CPU kernels.
 *
 * node-llama-cpp's prebuilt binaries are built with GGML_BACKEND_DL and GGML_CPU_ALL_VARIANTS: the CPU
 * backend is one `libggml-cpu-<variant>.so` per instruction-set level, and ggml loads the best one the
 * CPU supports at start-up (ggml_backend_load_best, scored by each library's ggml_backend_score). The
 * peer is built the same way (GGML_BACKEND_DL, GGML_NATIVE off) but without a CPU backend of its own:
 * node-llama-cpp's variant libraries are linked next to the binary, where ggml_backend_load_best looks
 * (the executable's directory), so both sides pick from the same files by the same rule. A
 * `-march=native` build, as before, can use instructions the prebuilt kernels do not (AMX on Sapphire
 * Rapids, which died with SIGILL on a VM), and is not the same code anyway.
 */
import {execFileSync, spawn} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {freePort, stopper, waitFor, type RunningServer} from "./servers.js";

const NODE_LLAMA_CPP = "node_modules/node-llama-cpp";
const SOURCE = ".llama-src/src";
const BUILD = ".llama-src/build";

/** The configure line, recorded in the results. Only llama-server is built (`--target llama-server`). */
export const PEER_CMAKE_OPTIONS: readonly string[] = Object.freeze([
    "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=ON",
    "-DGGML_BACKEND_DL=ON", "-DGGML_NATIVE=OFF", "-DGGML_CPU=OFF", "-DGGML_OPENMP=OFF", "-DGGML_CCACHE=OFF",
    "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF"
]);

/** Where node-llama-cpp's prebuilt CPU libraries for this platform are. */
export function prebuiltBinsDir(): string {
    const dir = path.resolve(`node_modules/@node-llama-cpp/${os.platform()}-${os.arch()}/bins/${os.platform()}-${os.arch()}`);
    if (!fs.existsSync(dir)) throw new Error(`node-llama-cpp's prebuilt binaries are not at ${dir}: the peer needs its libggml-cpu-*.so`);
    return dir;
}

/** The llama.cpp release node-llama-cpp's binaries are built from, and the bundle's commit. */
export function llamaCppVersion(): {release: string; commit: string | null} {
    const info = JSON.parse(fs.readFileSync(`${NODE_LLAMA_CPP}/llama/llama.cpp.info.json`, "utf8")) as {tag: string};
    let commit: string | null = null;
    if (fs.existsSync(SOURCE))
        commit = execFileSync("git", ["rev-parse", "HEAD"], {cwd: SOURCE, encoding: "utf8"}).trim();
    return {release: info.tag, commit};
}

export function nodeLlamaCppVersion(): string {
    return (JSON.parse(fs.readFileSync(`${NODE_LLAMA_CPP}/package.json`, "utf8")) as {version: string}).version;
}

/**
 * Builds llama-server into .llama-src/build once (ninja makes a later call a no-op) and links
 * node-llama-cpp's CPU variant libraries next to it. Returns the binary's path.
 * Takes tens of minutes on 2 cores the first time; runs at nice 10.
 */
export function ensureLlamaServer(log: (line: string) => void): string {
    if (!fs.existsSync(SOURCE)) {
        log(`cloning llama.cpp from ${NODE_LLAMA_CPP}/llama/gitRelease.bundle into ${SOURCE}`);
        fs.mkdirSync(path.dirname(SOURCE), {recursive: true});
        execFileSync("git", ["clone", "-q", `${NODE_LLAMA_CPP}/llama/gitRelease.bundle`, SOURCE], {stdio: "inherit"});
        for (const patch of fs.readdirSync(`${NODE_LLAMA_CPP}/llama/patches`).filter((name) => name.endsWith(".diff")).sort())
            execFileSync("git", ["apply", path.resolve(`${NODE_LLAMA_CPP}/llama/patches/${patch}`)], {cwd: SOURCE, stdio: "inherit"});
    }
    const binary = path.resolve(BUILD, "bin", "llama-server");
    const started = Date.now();
    const jobs = String(Math.max(1, os.availableParallelism()));
    execFileSync("nice", ["-n", "10", "cmake", "-S", SOURCE, "-B", BUILD, ...PEER_CMAKE_OPTIONS], {stdio: ["ignore", "ignore", "inherit"]});
    execFileSync("nice", ["-n", "10", "cmake", "--build", BUILD, "--target", "llama-server", `-j${jobs}`], {stdio: ["ignore", "ignore", "inherit"]});
    if (Date.now() - started > 30_000) log(`built llama-server in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
    const bins = prebuiltBinsDir();
    for (const name of fs.readdirSync(bins).filter((file) => /^libggml-cpu-.*\.so$/.test(file))) {
        const link = path.join(path.dirname(binary), name);
        fs.rmSync(link, {force: true});
        fs.symlinkSync(path.join(bins, name), link);
    }
    return binary;
}

/** The arguments the peer runs with, recorded in the results. */
export function peerArgs(options: {modelPath: string; port: number; parallel: number; threads: number; contextSize: number}): string[] {
    return [
        "-m", options.modelPath, "--host", "127.0.0.1", "--port", String(options.port),
        "-np", String(options.parallel), "-c", String(options.contextSize * options.parallel),
        "-t", String(options.threads), "-tb", String(options.threads), "-b", "512", "-ngl", "0"
    ];
}

/**
 * Starts llama-server; its log goes to `logFile`. A peer that does not come up is an error that
 * quotes the exit (a signal such as SIGILL names an unsupported instruction) and the log's end.
 */
export async function startLlamaServer(binary: string, options: {modelPath: string; parallel: number; threads: number; contextSize: number; logFile: string}):
    Promise<RunningServer & {args: string[]}> {
    const port = await freePort();
    const args = peerArgs({...options, port});
    const log = fs.openSync(options.logFile, "w");
    // cwd: the binary's directory, so ggml's second search path (the current directory) holds the same libraries.
    const child = spawn(binary, args, {cwd: path.dirname(binary), stdio: ["ignore", log, log]});
    fs.closeSync(log);
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
        await waitFor(`${baseUrl}/health`, child, 300_000);
    } catch (err) {
        child.kill("SIGKILL");
        const tail = fs.readFileSync(options.logFile, "utf8").split("\n").slice(-15).join("\n");
        throw new Error(`llama-server did not start (${(err as Error).message}); ${binary} ${args.join(" ")}\n--- end of ${options.logFile} ---\n${tail}`);
    }
    return {name: "llama-server", baseUrl, process: child, stop: stopper(child), args};
}
