import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {execFile, execFileSync} from "node:child_process";
import {promisify} from "node:util";
import {readDockerfile} from "../helpers/dockerfile.js";
import {replayDockerfile, type ReplayedImage} from "../helpers/dockerReplay.js";
import {spawnWorkerProcess} from "../helpers/workerProcess.js";
import {testModelPath, parseSse} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {openStream} from "../helpers/opsHelpers.js";
import {getJson} from "../helpers/http.js";
import {BUILTIN_MODEL_PATH} from "../../src/config/config.js";

// No Docker engine runs here, so this does what `docker build -f Dockerfile .` and `docker run`
// would: it replays the Dockerfile's stages in plain folders (the file list and the commands are
// read from the Dockerfile, so the two cannot drift apart), then starts the image's ENTRYPOINT
// from the runtime tree, without TypeScript or dev dependencies, as the image's user when this
// runs as root. PRODUCTION_NODE=/path/to/node builds and runs it with another node (the images'
// Node LTS); by default the node running this test.

const root = path.resolve(import.meta.dirname, "../..");
const runAs = (image: ReplayedImage) => (process.getuid?.() === 0 ? image.user : null);
/** The node that stands in for the image's (it runs the build stages' RUN lines too). */
const node = process.env.PRODUCTION_NODE ?? process.execPath;

test("the CPU image's tree, built as the Dockerfile builds it, serves /chat and drains a stream on SIGTERM", {timeout: 15 * 60_000}, async (t) => {
    const started = performance.now();
    const elapsed = (what: string) => t.diagnostic(`${what} after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-image-"));
    t.after(() => fs.rmSync(workspace, {recursive: true, force: true}));
    const image = await replayDockerfile(readDockerfile(path.join(root, "Dockerfile")), {
        context: root,
        workspace,
        // The npm cache from the repository's own `npm ci` makes these installs quick and offline.
        runEnv: {...process.env, PATH: `${path.dirname(node)}:${process.env.PATH}`, npm_config_prefer_offline: "true", npm_config_update_notifier: "false"}
    });
    for (const step of image.steps) t.diagnostic(`${step.stage}: ${step.command} (${step.seconds.toFixed(1)} s)`);
    elapsed("image tree built");

    // What the runtime tree holds: compiled code and production dependencies only.
    const app = image.appDir;
    assert.ok(fs.existsSync(path.join(app, "dist/src/main.js")));
    assert.ok(!fs.existsSync(path.join(app, "src")), "no TypeScript sources");
    for (const devOnly of ["typescript", "tsx", "esbuild", "@types/node"])
        assert.ok(!fs.existsSync(path.join(app, "node_modules", devOnly)), `${devOnly} is a dev dependency`);
    assert.ok(!fs.existsSync(path.join(app, "node_modules/@node-llama-cpp/linux-x64-cuda")), "the CPU image drops the CUDA binaries");
    // The build stage wrote the built-in model with the compiled generator: the same bytes the tests' generator makes.
    assert.ok(fs.readFileSync(path.join(app, BUILTIN_MODEL_PATH)).equals(fs.readFileSync(await testModelPath("tiny"))));

    // Stand in for the runtime stage's RUN lines and `docker run -v`: app files root-owned and
    // read-only to the user, a models volume, a conversation cache volume the user may write.
    const user = runAs(image);
    fs.chmodSync(workspace, 0o755);
    const volumes: Record<string, string> = {};
    for (const volume of image.volumes) {
        const dir = path.join(workspace, "volumes", path.basename(volume));
        fs.mkdirSync(dir, {recursive: true});
        if (user != null) fs.chownSync(dir, user.uid, user.gid);
        volumes[volume] = dir;
    }
    fs.chmodSync(path.join(workspace, "volumes"), 0o755);
    fs.copyFileSync(await testModelPath("tiny"), path.join(volumes["/models"]!, "tiny.gguf"));
    const imageEnv = Object.fromEntries(Object.entries(image.env).map(([name, value]) => [name, volumes[value] ?? value]));

    const [program, ...args] = image.command;
    assert.equal(program, "node", "node itself is PID 1");
    // A container's environment: the image's ENV and `docker run -e`, nothing of this shell's.
    const containerEnv = {PATH: `${path.dirname(node)}:/usr/local/bin:/usr/bin:/bin`, HOME: "/nonexistent", ...imageEnv};
    const worker = await spawnWorkerProcess({
        node, args, cwd: app, uid: user?.uid, gid: user?.gid,
        env: {
            ...containerEnv, PORT: "0", HOST: "127.0.0.1", THREADS: "1", LOG_LEVEL: "info",
            MODEL_PATH: path.join(volumes["/models"]!, "tiny.gguf"),
            PARALLEL: "2", CONTEXT_SIZE: "2048", MAX_TOKENS_LIMIT: "1800", SHUTDOWN_GRACE_SECONDS: "120"
        }
    });
    elapsed("worker ready");
    try {
        t.diagnostic(`worker: node ${execFileSync(node, ["--version"]).toString().trim()}, uid ${user?.uid ?? process.getuid?.()}`);
        const port = new URL(worker.url).port;
        const healthcheck = async (): Promise<number> => {
            const [checker, ...checkArgs] = image.healthcheck;
            assert.equal(checker, "node");
            try {
                await promisify(execFile)(node, checkArgs, {cwd: app, uid: user?.uid, gid: user?.gid, env: {...containerEnv, PORT: port, HOST: "127.0.0.1"}});
                return 0;
            } catch (err) {
                return (err as {code?: number}).code ?? -1;
            }
        };
        assert.equal(await healthcheck(), 0, "HEALTHCHECK passes once the model is ready");

        // Files the worker reads at run time beside dist/: package.json (version), the templates,
        // the playground, and Swagger UI's assets (in node_modules).
        const docs = await getJson(`${worker.url}/docs/json`);
        assert.equal(docs.json.info.version, JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version);
        for (const page of ["/", "/docs"]) {
            const response = await fetch(`${worker.url}${page}`);
            assert.equal(response.status, 200, page);
            assert.match(await response.text(), /<html/i, page);
        }
        const info = await getJson(`${worker.url}/enhancement/info`);
        assert.deepEqual([...info.json.supported_job_types].sort(),
            fs.readdirSync(path.join(root, "templates/enhance")).filter((file) => file.endsWith(".json")).map((file) => file.replace(/\.json$/, "")).sort());
        // The sfw_mode term list (templates/enhance/sfw-terms.txt) came along: masking is available.
        assert.equal((await postJson(`${worker.url}/chat`, {message: "Hello", max_tokens: 2, sfw_mode: true})).status, 200);
        const chat = await postJson(`${worker.url}/chat`, {message: "Hello", max_tokens: 8, ignore_eos: true});
        assert.equal(chat.status, 200);
        assert.equal(chat.json.usage.completion_tokens, 8);

        // `docker stop` sends SIGTERM to PID 1: the running stream completes, then node exits 0.
        elapsed("requests served");
        const stream = await openStream(worker.url, {message: "finish me", max_tokens: 1500, ignore_eos: true});
        worker.child.kill("SIGTERM");
        await worker.waitForLog((record) => record.msg === "shutting down", 10_000, "the shutdown log line");
        const ready = await getJson(`${worker.url}/ready`);
        const healthWhileDraining = await healthcheck();
        assert.ok(!stream.text().includes("event: done"), "the checks ran while the generation was still running");
        assert.equal(ready.status, 503);
        assert.equal(healthWhileDraining, 1, "HEALTHCHECK fails while draining");
        const events = parseSse(await stream.done);
        const final = JSON.parse(events.at(-1)!.data);
        assert.equal(events.at(-1)!.event, "done");
        assert.equal(final.finish_reason, "length");
        assert.equal(final.usage.completion_tokens, 1500);
        assert.deepEqual(await worker.exited, {code: 0, signal: null});
        assert.equal(worker.logs.find((record) => record.msg === "shutdown complete")?.aborted, 0);
        assert.equal(await healthcheck(), 1, "HEALTHCHECK fails when nothing listens");
        elapsed("drained and exited");
    } finally {
        worker.child.kill("SIGKILL");
    }
});
