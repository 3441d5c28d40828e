/**
 * Downloads a model ahead of time, into MODELS_DIR, exactly as the worker does on start with MODEL:
 *
 *   npm run pull -- <reference>            e.g. hf:Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M
 *   node dist/src/cli/pull.js <reference>  (a built tree, the container images)
 *
 * Reads MODELS_DIR, HF_TOKEN, HF_ENDPOINT and DOWNLOAD_STALL_SECONDS like the worker (MODEL when no
 * reference is given). Files already complete are not fetched again; a partial one is resumed.
 * Prints the model's local files on stdout, one a line, the first shard first. Exit status: 0 done,
 * 1 the download failed (run again to resume), 2 bad arguments or settings.
 */
import {parseArgs} from "node:util";
import {loadConfig} from "../config/config.js";
import {ConfigError, LoadFailure} from "../errors.js";
import {describeModelSource, ensureModelsDir} from "../config/modelSource.js";
import {resolveModelFiles} from "../engine/llama/modelFiles.js";
import type {DownloadProgress} from "../engine/types.js";
import {downloadedText, renderProgressBar} from "../terminal/loadProgressBar.js";

const USAGE = "usage: npm run pull -- <hf:<user>/<repo>:<quant> | hf:<user>/<repo>/<file>.gguf | https://...gguf>\n";

function fail(code: number, message: string): never {
    process.stderr.write(`pull: ${message}\n`);
    process.exit(code);
}

async function main(): Promise<void> {
    let positionals: string[];
    try {
        ({positionals} = parseArgs({args: process.argv.slice(2), allowPositionals: true, strict: true, options: {}}));
    } catch (err) {
        fail(2, `${(err as Error).message}\n${USAGE}`);
    }
    if (positionals.length > 1) fail(2, `one reference at a time\n${USAGE}`);
    const env: NodeJS.ProcessEnv = {...process.env, MODEL: positionals[0] ?? process.env.MODEL};
    // The reference given here is what to pull; a MODEL_PATH of the environment is the worker's business.
    delete env.MODEL_PATH;
    if (env.MODEL == null) fail(2, `no reference given (nor MODEL set)\n${USAGE}`);
    let config;
    try {
        config = loadConfig(env);
        ensureModelsDir(config.modelsDir);
    } catch (err) {
        if (err instanceof ConfigError) fail(2, err.message);
        throw err;
    }
    const source = config.models[0].source;
    const terminal = process.stderr.isTTY === true;
    const label = `downloading ${describeModelSource(source)}`;
    let lastStep = -1;
    let lastBytes = -1;
    let lastChange = Date.now();
    const show = (progress: DownloadProgress) => {
        if (progress.doneBytes !== lastBytes) {
            lastBytes = progress.doneBytes;
            lastChange = Date.now();
        }
        const fraction = progress.totalBytes != null ? progress.doneBytes / progress.totalBytes : 0;
        if (terminal) {
            process.stderr.write(`\r${renderProgressBar(fraction, `${label} (${downloadedText(progress)})`)}\x1b[K`);
            return;
        }
        const step = Math.floor(fraction * 10);
        if (step === lastStep) return;
        lastStep = step;
        process.stderr.write(`${label}: ${step * 10}% (${downloadedText(progress)})\n`);
    };
    // As in the worker: a download that receives nothing for DOWNLOAD_STALL_SECONDS gives up (the partial file stays).
    const watchdog = setInterval(() => {
        if (Date.now() - lastChange > config.downloadStallSeconds * 1000)
            fail(1, `no data for ${config.downloadStallSeconds} s (DOWNLOAD_STALL_SECONDS): the server does not answer or the connection hangs; ` +
                "run again to resume (what arrived is kept)");
    }, 1000);
    watchdog.unref();
    try {
        const files = await resolveModelFiles(source, {
            directory: config.modelsDir, token: config.hfToken, endpoint: config.hfEndpoint, onProgress: show
        });
        if (terminal && lastBytes >= 0) process.stderr.write("\n");
        process.stdout.write(files.files.map((file) => `${file}\n`).join(""));
    } catch (err) {
        if (terminal && lastBytes >= 0) process.stderr.write("\n");
        fail(1, err instanceof LoadFailure ? err.message : (err as Error).message);
    } finally {
        clearInterval(watchdog);
    }
}

void main();
