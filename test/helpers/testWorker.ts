import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";
import pino, {type Logger} from "pino";
import {loadConfig} from "../../src/config/config.js";
import {createWorker, stopWorker, type Worker} from "../../src/worker.js";
import type {Engine} from "../../src/engine/types.js";
import {RunnerEngine} from "../../src/engine/runner/runnerEngine.js";
import type {UpstreamEngine} from "../../src/engine/upstream/upstreamEngine.js";
import {writeSyntheticModel, type ModelPreset} from "../../src/testmodel/syntheticModel.js";

const modelDir = path.join(os.tmpdir(), "chat-worker-test-models");

/**
 * `npm test` builds first and sets CHAT_WORKER_TEST_RUNNER=dist: the model runners then start
 * from dist/, as in production, without tsx's loader (over a second per runner start, and the
 * suite starts about a hundred). A test file run on its own uses the TypeScript runner.
 */
export function testRunnerEntry(): string | undefined {
    if (process.env.CHAT_WORKER_TEST_RUNNER !== "dist")
        return undefined;
    const entry = fileURLToPath(new URL("../../dist/src/engine/runner/runnerMain.js", import.meta.url));
    if (!fs.existsSync(entry))
        throw new Error(`CHAT_WORKER_TEST_RUNNER=dist, but ${entry} is missing: run npm run build first`);
    return entry;
}

/** The synthetic model for a preset, generated once per machine and shared by test files. */
export async function testModelPath(preset: ModelPreset = "tiny"): Promise<string> {
    const file = path.join(modelDir, `${preset}.gguf`);
    if (!fs.existsSync(file))
        await writeSyntheticModel({preset, out: file});
    return file;
}

export interface TestWorker<E extends Engine = RunnerEngine> {
    url: string;
    worker: Worker<E>;
    close(): Promise<void>;
}

export interface StartOptions {
    /** Wait for the models to load (or fail) before listening (default), or listen at once (to watch a download). */
    waitForModel?: boolean;
    /** The model runner's module (default: testRunnerEntry()), e.g. test/helpers/dyingRunner.ts. */
    runnerEntry?: string;
}

/** Test defaults: CPU only, 1 compute thread, a small context, the tiny model; `env` overrides any setting. */
export async function startTestWorker(env: Record<string, string> = {}, logger?: Logger, options: StartOptions = {}): Promise<TestWorker<RunnerEngine>> {
    // MODELS and MODEL name the model themselves (with MODEL_PATH beside them the worker refuses to start).
    const own = env.MODELS != null || env.MODEL != null;
    const started = await startWorker({...(own ? {} : {MODEL_PATH: await testModelPath()}), ...env}, logger, options);
    if (!(started.worker.engine instanceof RunnerEngine)) {
        await started.close();
        throw new Error("startTestWorker starts embedded workers; use startUpstreamWorker for ENGINE=openai");
    }
    return started as TestWorker<RunnerEngine>;
}

/** A worker with ENGINE=openai that forwards to `upstreamUrl` (e.g. another test worker's `/v1`). */
export async function startUpstreamWorker(
    upstreamUrl: string, env: Record<string, string> = {}, logger?: Logger
): Promise<TestWorker<UpstreamEngine>> {
    const started = await startWorker({UPSTREAM_TIMEOUT_SECONDS: "5", ...env, ENGINE: "openai", UPSTREAM_URL: upstreamUrl}, logger);
    return started as TestWorker<UpstreamEngine>;
}

async function startWorker(env: Record<string, string>, logger?: Logger, options: StartOptions = {}): Promise<TestWorker<Engine>> {
    const config = loadConfig({
        GPU: "false",
        THREADS: "1",
        PARALLEL: "4",
        CONTEXT_SIZE: "1024",
        LOG_LEVEL: "silent",
        PORT: "0",
        HOST: "127.0.0.1",
        CONVERSATION_CACHE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-state-")),
        ...env
    });
    const worker = await createWorker(config, logger ?? pino({level: "silent"}), {runnerEntry: options.runnerEntry ?? testRunnerEntry()});
    if (options.waitForModel !== false)
        for (const served of worker.models.all) await served.engine.whenSettled();
    await worker.app.listen({port: 0, host: "127.0.0.1"});
    const address = worker.app.server.address();
    if (address == null || typeof address === "string")
        throw new Error("worker did not bind a TCP port");
    let closed = false;
    return {
        url: `http://127.0.0.1:${address.port}`,
        worker,
        close: async () => {
            if (closed) return;
            closed = true;
            await stopWorker(worker);
        }
    };
}

export interface SseEvent {
    event: string | null;
    data: string;
}

/** Parses a complete SSE body into events (blank-line separated, `event:` and `data:` fields). */
export function parseSse(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    for (const block of text.split("\n\n")) {
        if (block.trim() === "") continue;
        let event: string | null = null;
        const data: string[] = [];
        for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        events.push({event, data: data.join("\n")});
    }
    return events;
}

/** Resolves when the async `predicate` holds (a reading over HTTP, say), asking again as soon as it answered; rejects after `ms`. */
export async function untilAsync(predicate: () => Promise<boolean>, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!await predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
    }
}

/** Resolves when `predicate` holds, checking on every event-loop turn; rejects after `ms`. */
export async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
    }
}
