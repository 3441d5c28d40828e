import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {execFile} from "node:child_process";
import {promisify} from "node:util";
import {writeSyntheticModel} from "../../src/testmodel/syntheticModel.js";
import {resolveModelFiles} from "../../src/engine/llama/modelFiles.js";
import {LoadFailure, ConfigError} from "../../src/errors.js";
import {SETTINGS, loadConfig} from "../../src/config/config.js";
import {startTestWorker, testModelPath} from "../helpers/testWorker.js";
import {spawnWorker} from "../helpers/workerProcess.js";
import {startHfMirror, type HfMirror} from "../helpers/hfMirror.js";
import {getJson, postJson} from "../helpers/http.js";
import {captureLogs} from "../helpers/logs.js";

/**
 * MODEL downloads against a local stand-in for the Hugging Face hub (no machine here reaches the
 * real one): HF_ENDPOINT points node-llama-cpp's downloader at it. The models are synthetic, served
 * under the names the real repositories use where the docs name them.
 */

const root = path.resolve(import.meta.dirname, "..", "..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-download-"));
const TOKEN = "hf_test_token_never_logged";
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
const operations = fs.readFileSync(path.join(root, "docs/operations.md"), "utf8");
const sectionStart = operations.indexOf("## Using a real model");
const section = operations.slice(sectionStart, operations.indexOf("\n## ", sectionStart + 1));

let mirror: HfMirror;
let tiny: string;
let bench: string;
let qwenShards: string[];
let tinyShards: string[];

before(async () => {
    tiny = await testModelPath("tiny");
    bench = await testModelPath("bench");
    // The official repository's Q4_K_M: two shards under these names (docs/operations.md "Using a real model").
    qwenShards = (await writeSyntheticModel({preset: "tiny", out: path.join(dir, "hub", "qwen2.5-7b-instruct-q4_k_m.gguf"), split: 2})).paths;
    tinyShards = (await writeSyntheticModel({preset: "tiny", out: path.join(dir, "hub", "tiny.gguf"), split: 3})).paths;
    const byName = (files: string[]) => Object.fromEntries(files.map((file) => [path.basename(file), file]));
    mirror = await startHfMirror({
        repos: {
            // Another quantization beside it: `:Q4_K_M` must pick the q4_k_m files.
            "Qwen/Qwen2.5-7B-Instruct-GGUF": {...byName(qwenShards), "qwen2.5-7b-instruct-q8_0.gguf": tiny},
            "test/Tiny-GGUF": byName(tinyShards),
            "test/Bench-GGUF": {"bench.gguf": bench},
            "test/Gated-GGUF": {"gated.gguf": tiny},
            "test/Redirect-GGUF": {"redirect.gguf": tiny},
            "test/Evil-GGUF": {"evil-q4_k_m.gguf": tiny},
            "test/Secret-GGUF": {"secret-q4_k_m.gguf": tiny},
            "test/Broken-GGUF": {"broken.gguf": bench, "brokenq-q4_k_m.gguf": bench}
        },
        tokens: {"test/Gated-GGUF": TOKEN, "test/Redirect-GGUF": TOKEN, "test/Secret-GGUF": TOKEN},
        redirect: ["test/Redirect-GGUF"]
    });
});
after(async () => {
    await mirror?.close();
    fs.rmSync(dir, {recursive: true, force: true});
});

const freshDir = (name: string) => fs.mkdtempSync(path.join(dir, `${name}-`));
const hub = (modelsDir: string, env: Record<string, string> = {}) => ({HF_ENDPOINT: mirror.url, MODELS_DIR: modelsDir, ...env});
const sameBytes = (a: string, b: string) => fs.readFileSync(a).equals(fs.readFileSync(b));
const sizeOf = (files: string[]) => files.reduce((sum, file) => sum + fs.statSync(file).size, 0);

/** One command line of docs/operations.md "Using a real model" matching `pattern`; its groups. */
function readmeCommand(pattern: RegExp): string[] {
    const match = pattern.exec(section);
    assert.ok(match != null, `docs/operations.md "Using a real model" has a line like ${pattern}`);
    return match.slice(1);
}

/** Polls /health until `predicate` holds (a download's progress cannot be awaited otherwise). */
async function healthUntil(url: string, predicate: (health: any) => boolean, ms: number, what: string): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
        const health = (await getJson(`${url}/health`)).json;
        if (predicate(health)) return health;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last /health: ${JSON.stringify(health)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

async function chatWorks(url: string): Promise<void> {
    const reply = await postJson(`${url}/chat`, {message: "hello", max_tokens: 4, temperature: 0});
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(reply.json.usage.completion_tokens, 4);
}

/** Files of the conversation cache's hash memo: one per model file hashed for the model identity. */
function hashedFiles(stateDir: string): number {
    return Object.keys(JSON.parse(fs.readFileSync(path.join(stateDir, "model-hashes.json"), "utf8"))).length;
}

test("docs: `MODEL=<its hf: reference> npm start` (main.ts, the mirror as HF_ENDPOINT) downloads the two Q4_K_M shards and serves /chat", async () => {
    const [reference] = readmeCommand(/^MODEL=(hf:\S+) npm start$/m);
    assert.equal(readmeCommand(/^MODEL=(hf:\S+) GPU=cuda npm start$/m)[0], reference);
    assert.ok(readme.split("\n").includes(`MODEL=${reference} npm start`), "the README's quick start gives the same reference");
    for (const text of [readme, operations])
        assert.doesNotMatch(text, /qwen2\.5-7b-instruct-q4_k_m\.gguf/, "the docs name no unsplit Q4_K_M file: the repository has none");
    const models = freshDir("readme");
    const worker = await spawnWorker(hub(models, {MODEL: reference}));
    try {
        // node-llama-cpp's names in MODELS_DIR, as docs/operations.md gives them.
        const local = ["hf_Qwen_Qwen2.5-7B-Instruct.Q4_K_M-00001-of-00002.gguf", "hf_Qwen_Qwen2.5-7B-Instruct.Q4_K_M-00002-of-00002.gguf"];
        assert.ok(section.includes(local[0]));
        assert.deepEqual(fs.readdirSync(models).sort(), local);
        local.forEach((name, index) => assert.ok(sameBytes(path.join(models, name), qwenShards[index])));
        // The manifest API said which file holds Q4_K_M; only its shards were fetched.
        assert.ok(mirror.requests.some((request) => request.path === "/v2/Qwen/Qwen2.5-7B-Instruct-GGUF/manifests/Q4_K_M"));
        assert.ok(!mirror.requests.some((request) => request.path.includes("q8_0")));

        const info = (await getJson(`${worker.url}/model/info`)).json;
        assert.equal(info.model_path, path.join(models, local[0]));
        assert.equal(info.file_size_bytes, sizeOf(qwenShards));
        assert.equal(info.parameter_count, 115_136, "the tiny preset's parameters, from both shards");
        assert.equal((await getJson(`${worker.url}/health`)).json.status, "healthy");
        await chatWorks(worker.url);
        const downloaded = worker.logs.find((record) => record.msg === "model downloaded");
        assert.equal(downloaded?.files, 2);
        assert.ok(worker.logs.some((record) => record.msg === "downloading the model" && record.percent === 100));
    } finally {
        worker.child.kill("SIGTERM");
        await worker.exited;
    }
});

test("docs: `npm run pull -- <ref>` downloads ahead of time; with the files complete nothing is fetched", async () => {
    const [reference] = readmeCommand(/^npm run pull -- (\S+)$/m);
    const models = freshDir("pull");
    const env: NodeJS.ProcessEnv = {...process.env};
    for (const name of Object.keys(SETTINGS)) delete env[name];
    mirror.resetCounts();
    const {stdout} = await promisify(execFile)("npm", ["run", "pull", "--", reference], {cwd: root, env: {...env, ...hub(models)}});
    const printed = stdout.split("\n").filter((line) => path.isAbsolute(line));
    assert.deepEqual(printed.map((file) => path.basename(file)),
        ["hf_Qwen_Qwen2.5-7B-Instruct.Q4_K_M-00001-of-00002.gguf", "hf_Qwen_Qwen2.5-7B-Instruct.Q4_K_M-00002-of-00002.gguf"]);
    printed.forEach((file, index) => assert.ok(sameBytes(file, qwenShards[index])));
    assert.ok(mirror.rangeBytes() > 0 || mirror.requests.length > 0);

    // What the worker's runner does on start with MODEL set: the complete files are used as they are.
    mirror.resetCounts();
    const found = await resolveModelFiles({kind: "reference", reference}, {directory: models, token: null, endpoint: mirror.url});
    assert.deepEqual(found.files, printed);
    assert.deepEqual(mirror.requests, [], "complete files are used without a single request, not even the manifest");
});

test("docs: huggingface-cli's files with MODEL_PATH naming the first shard; /model/info and the conversation cache identity count both shards", async () => {
    const [repo, include, localDir] = readmeCommand(/^huggingface-cli download (\S+) --include "([^"]+)" --local-dir (\S+)$/m);
    const [modelPath] = readmeCommand(/^MODEL_PATH=(\S+) npm start$/m);
    // What huggingface-cli would fetch: the repository's files matching the pattern (the mirror's copy of it).
    const pattern = new RegExp(`^${include.split("*").map((part) => part.replace(/[.]/g, "\\.")).join(".*")}$`);
    const models = freshDir("manual");
    const names = qwenShards.map((file) => path.basename(file)).concat("qwen2.5-7b-instruct-q8_0.gguf").filter((name) => pattern.test(name));
    assert.equal(repo, "Qwen/Qwen2.5-7B-Instruct-GGUF");
    assert.deepEqual(names, qwenShards.map((file) => path.basename(file)));
    for (const file of qwenShards) fs.copyFileSync(file, path.join(models, path.basename(file)));
    const stateDir = freshDir("state");
    const worker = await startTestWorker({MODEL_PATH: modelPath.replace(localDir, models), CONVERSATION_CACHE_DIR: stateDir});
    try {
        const info = (await getJson(`${worker.url}/model/info`)).json;
        assert.equal(info.model_state, "ready");
        assert.equal(info.file_size_bytes, sizeOf(qwenShards));
        assert.equal(info.model_name, "chat-worker-synthetic-tiny");
        assert.equal(hashedFiles(stateDir), 2, "the model identity hashes both shards");
        await chatWorks(worker.url);
    } finally {
        await worker.close();
    }
});

test("a 3-shard model by hf:<repo>/<first shard>: every shard downloaded, counted and hashed; /chat served from the set", async () => {
    const models = freshDir("three");
    const stateDir = freshDir("state");
    const worker = await startTestWorker(hub(models, {MODEL: "hf:test/Tiny-GGUF/tiny-00001-of-00003.gguf", CONVERSATION_CACHE_DIR: stateDir}));
    try {
        const local = fs.readdirSync(models).sort();
        assert.equal(local.length, 3);
        local.forEach((name, index) => {
            assert.match(name, new RegExp(`-0000${index + 1}-of-00003\\.gguf$`));
            assert.ok(sameBytes(path.join(models, name), tinyShards[index]));
        });
        const info = (await getJson(`${worker.url}/model/info`)).json;
        assert.equal(info.file_size_bytes, sizeOf(tinyShards));
        assert.equal(info.parameter_count, 115_136, "the tiny preset's parameters, from all shards");
        assert.equal(hashedFiles(stateDir), 3);
        await chatWorks(worker.url);
    } finally {
        await worker.close();
    }
});

test("a download cut half-way: progress in /health, then unhealthy with the reason; a restart resumes the partial file", async () => {
    const models = freshDir("cut");
    const size = fs.statSync(bench);
    const env = hub(models, {MODEL: "hf:test/Bench-GGUF/bench.gguf", DOWNLOAD_STALL_SECONDS: "2"});
    mirror.resetCounts();
    const cut = mirror.cutAfter(Math.floor(size.size * 0.6));
    const first = await startTestWorker(env, undefined, {waitForModel: false});
    try {
        const downloading = await healthUntil(first.url, (health) => health.reason_code === "downloading" && health.download_progress > 0,
            15_000, "download progress");
        assert.equal(downloading.status, "loading");
        assert.equal(downloading.download_total_bytes, size.size);
        assert.ok(downloading.downloaded_bytes > 0 && downloading.downloaded_bytes < size.size);
        assert.ok(downloading.download_progress < 100);
        assert.match(downloading.reason, /^downloading the model: \d+% of 0\.03 GiB$/);
        // Requests are not held open for a download: refused at once, with Retry-After.
        const refused = await postJson(`${first.url}/chat`, {message: "hi", max_tokens: 2});
        assert.equal(refused.status, 503);
        assert.match(refused.json.error, /being downloaded/);
        assert.match(refused.headers.get("retry-after") ?? "", /^\d+$/);
        await cut;
        // The mirror now leaves every request hanging: only the stall watchdog ends the attempt.
        const failed = await healthUntil(first.url, (health) => health.status === "unhealthy", 15_000, "the stalled download to fail");
        assert.equal(failed.reason_code, "download_failed");
        assert.match(failed.reason, /no data for DOWNLOAD_STALL_SECONDS.*partial file is kept.*; trying again in \d+ s$/);
        assert.equal((await getJson(`${first.url}/ready`)).status, 503);
        assert.ok(fs.readdirSync(models).some((name) => name.endsWith(".ipull")), "the partial file stays");
    } finally {
        await first.close();
    }
    mirror.heal();
    mirror.resetCounts();
    const second = await startTestWorker(env);
    try {
        assert.equal(second.worker.engine.status().state, "ready");
        const resumed = mirror.rangeBytes();
        assert.ok(resumed > 0 && resumed < size.size, `resumed: ${resumed} of ${size.size} bytes fetched again`);
        const files = fs.readdirSync(models);
        assert.equal(files.length, 1, `the finished file only, no partial one left: ${files}`);
        assert.ok(sameBytes(path.join(models, files[0]), bench), "the resumed file is byte for byte the original");
        await chatWorks(second.url);
    } finally {
        await second.close();
    }
});

test("a 404: the worker stays up, unhealthy with the reason, and tries again until the file is there", async () => {
    const logs = captureLogs();
    const worker = await startTestWorker(hub(freshDir("missing"), {MODEL: "hf:test/Later-GGUF/later.gguf"}), logs.logger);
    try {
        const health = (await getJson(`${worker.url}/health`)).json;
        assert.equal(health.status, "unhealthy");
        assert.equal(health.reason_code, "download_failed");
        assert.match(health.reason, /^downloading the model \(MODEL\) failed: not found \(HTTP 404\) at 127\.0\.0\.1:\d+\. Check .*; trying again in [12] s$/);
        const chat = await postJson(`${worker.url}/chat`, {message: "hi", max_tokens: 2});
        assert.equal(chat.status, 503);
        assert.equal(chat.json.code, "model_not_ready");
        assert.equal((await getJson(`${worker.url}/model/info`)).status, 200);
        assert.ok(logs.records().some((record) => record.msg === "model load failed; trying again later" && record.retryInSeconds === 2));
        mirror.addFile("test/Later-GGUF", "later.gguf", tiny);
        await healthUntil(worker.url, (h) => h.status === "healthy", 15_000, "the retry to load the model");
        await chatWorks(worker.url);
    } finally {
        await worker.close();
    }
});

test("a 401 asks for HF_TOKEN; HF_TOKEN goes to the hub as a bearer token only, is never logged or shown; a refused one is named", async () => {
    const reference = "hf:test/Gated-GGUF/gated.gguf";
    // What the worker's /health says comes from here (the 404 test shows the worker side of a failure).
    const attempt = (token: string | null, url = reference) =>
        resolveModelFiles({kind: "reference", reference: url}, {directory: freshDir("gated"), token, endpoint: mirror.url});
    mirror.resetCounts();
    await assert.rejects(attempt(null), (err: unknown) => err instanceof LoadFailure && err.code === "download_failed" &&
        /HTTP 401 from 127\.0\.0\.1:\d+\. The repository needs an access token: set HF_TOKEN\./.test(err.message));
    assert.ok(mirror.requests.length > 0 && mirror.requests.every((request) => request.authorization == null));
    await assert.rejects(attempt("hf_wrong"), (err: unknown) => err instanceof LoadFailure && /HTTP 401 .*HF_TOKEN was sent and refused/.test(err.message));
    // Another host than HF_ENDPOINT's (the same server, reached as localhost) never gets the token.
    mirror.resetCounts();
    await assert.rejects(attempt(TOKEN, `${mirror.url.replace("127.0.0.1", "localhost")}/test/Gated-GGUF/resolve/main/gated.gguf`),
        (err: unknown) => err instanceof LoadFailure && /HTTP 401/.test(err.message));
    assert.ok(mirror.requests.length > 0 && mirror.requests.every((request) => request.authorization == null));

    mirror.resetCounts();
    const logs = captureLogs("debug");
    const models = freshDir("gated");
    const worker = await startTestWorker(hub(models, {MODEL: reference, HF_TOKEN: TOKEN}), logs.logger);
    try {
        assert.equal(worker.worker.engine.status().state, "ready");
        assert.ok(mirror.requests.some((request) => request.authorization === `Bearer ${TOKEN}`));
        assert.ok(sameBytes(path.join(models, fs.readdirSync(models)[0]), tiny));
        await chatWorks(worker.url);
        const shown = JSON.stringify([(await getJson(`${worker.url}/health`)).json, (await getJson(`${worker.url}/model/info`)).json]);
        assert.ok(!shown.includes(TOKEN));
        assert.ok(logs.lines.length > 0 && !logs.lines.join("\n").includes(TOKEN), "the token is in no log line");
    } finally {
        await worker.close();
    }
});

test("an http(s) URL of a split GGUF: every shard, named after the host; the next resolve asks nothing", async () => {
    const models = freshDir("url");
    const url = `${mirror.url.replace("127.0.0.1", "localhost")}/test/Tiny-GGUF/resolve/main/tiny-00001-of-00003.gguf`;
    const options = {directory: models, token: null, endpoint: mirror.url};
    const files = await resolveModelFiles({kind: "reference", reference: url}, options);
    assert.deepEqual(files.files.map((file) => path.basename(file)),
        ["localhost_tiny-00001-of-00003.gguf", "localhost_tiny-00002-of-00003.gguf", "localhost_tiny-00003-of-00003.gguf"]);
    files.files.forEach((file, index) => assert.ok(sameBytes(file, tinyShards[index])));
    mirror.resetCounts();
    assert.deepEqual(await resolveModelFiles({kind: "reference", reference: url}, options), files);
    assert.deepEqual(mirror.requests, []);
});

test("HF_TOKEN on a redirect: the hub (HF_ENDPOINT) gets it, the other origin it redirects the download to never does", async () => {
    mirror.resetCounts();
    const models = freshDir("redirect");
    const found = await resolveModelFiles({kind: "reference", reference: "hf:test/Redirect-GGUF/redirect.gguf"},
        {directory: models, token: TOKEN, endpoint: mirror.url});
    assert.ok(sameBytes(found.entrypoint, tiny), "the file came from the redirect's target");
    assert.ok(mirror.requests.some((request) => request.authorization === `Bearer ${TOKEN}`), "the hub was asked with the token");
    assert.ok(mirror.cdnRequests.length > 0, "the file was fetched from the other origin");
    assert.deepEqual(mirror.cdnRequests.filter((request) => request.authorization != null).map((request) => `${request.method} ${request.range}`), [],
        "no request to the other origin carried the token");
});

test("`..`, `.` or an empty segment in an hf: reference is refused at boot, naming the variable", () => {
    for (const bad of [
        "hf:test/Evil-GGUF/../../Secret-GGUF/resolve/main/secret-q4_k_m.gguf", "hf:test/Evil-GGUF/./x.gguf",
        "hf:test/Evil-GGUF//etc/x.gguf", "hf:../Secret-GGUF:Q4_K_M", "hf:test/..:Q4_K_M", "hf:test/Evil-GGUF:..",
        "hf:test/Evil-GGUF/x.gguf#..", "hf:test/Evil-GGUF/sub\\..\\x.gguf"
    ]) {
        assert.throws(() => loadConfig({MODEL: bad}), (err: unknown) =>
            err instanceof ConfigError && err.variable === "MODEL" && /inside its repository/.test(err.message), bad);
        assert.throws(() => loadConfig({MODELS: `m=${bad}`}), (err: unknown) => err instanceof ConfigError && err.variable === "MODELS", bad);
    }
    assert.equal(loadConfig({MODEL: "hf:test/Evil-GGUF/sub/dir/x..y.gguf#refs/pr/1"}).models[0].source.kind, "reference", "dots inside a name are fine");
});

test("a manifest whose file name leads out of the repository (`..`) is refused; nothing is fetched from the other repository", async () => {
    mirror.manifestNames("test/Evil-GGUF", "../../../Secret-GGUF/resolve/main/secret-q4_k_m.gguf");
    try {
        for (const rfilename of ["../../../Secret-GGUF/resolve/main/secret-q4_k_m.gguf", "/test/Secret-GGUF/resolve/main/secret-q4_k_m.gguf"]) {
            mirror.manifestNames("test/Evil-GGUF", rfilename);
            mirror.resetCounts();
            const models = freshDir("evil");
            await assert.rejects(resolveModelFiles({kind: "reference", reference: "hf:test/Evil-GGUF:Q4_K_M"}, {directory: models, token: TOKEN, endpoint: mirror.url}),
                (err: unknown) => err instanceof LoadFailure && err.code === "download_failed" && /manifest.*outside the repository/.test(err.message), rfilename);
            assert.deepEqual(mirror.requests.filter((request) => !request.path.startsWith("/v2/")).map((request) => request.path), [], rfilename);
            assert.deepEqual(fs.readdirSync(models), []);
        }
    } finally {
        mirror.manifestNames("test/Evil-GGUF", null);
    }
});

/** `file`'s bytes changed as a broken server changes them, in a file of their own. */
function brokenCopy(name: string, bytes: Buffer): string {
    const file = path.join(freshDir("broken-body"), name);
    fs.writeFileSync(file, bytes);
    return file;
}

test("a 200 with an HTML body is not kept as the model: the worker says why, and once the server is fixed its retry downloads the file", async () => {
    mirror.serveInstead("test/Broken-GGUF", "broken.gguf",
        brokenCopy("page.html", Buffer.from(`<!DOCTYPE html><html><body>${"Sign in to continue. ".repeat(200)}</body></html>`)));
    const models = freshDir("html");
    const logs = captureLogs();
    const worker = await startTestWorker(hub(models, {MODEL: "hf:test/Broken-GGUF/broken.gguf"}), logs.logger);
    try {
        const health = (await getJson(`${worker.url}/health`)).json;
        assert.equal(health.status, "unhealthy");
        assert.equal(health.reason_code, "download_failed");
        assert.match(health.reason, /not a valid GGUF file.*downloaded again/);
        assert.deepEqual(fs.readdirSync(models).filter((name) => name.endsWith(".gguf")), [], "no final file is left");
        mirror.serveInstead("test/Broken-GGUF", "broken.gguf", null);
        await healthUntil(worker.url, (h) => h.status === "healthy", 15_000, "the retry to download the real file");
        const files = fs.readdirSync(models);
        assert.equal(files.length, 1);
        assert.ok(sameBytes(path.join(models, files[0]), bench));
        await chatWorks(worker.url);
    } finally {
        mirror.serveInstead("test/Broken-GGUF", "broken.gguf", null);
        await worker.close();
    }
});

test("a body cut short with a matching Content-Length, or of the right size with other bytes, is refused; the next attempt fetches it again", async () => {
    const original = fs.readFileSync(bench);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 100] ^= 0xff;
    const cases = [
        // Without a manifest: the GGUF header says how much tensor data must follow.
        {reference: "hf:test/Broken-GGUF/broken.gguf", name: "broken.gguf", body: original.subarray(0, Math.floor(original.length * 0.9)), why: /truncated/},
        // With one: its size and sha256.
        {reference: "hf:test/Broken-GGUF:Q4_K_M", name: "brokenq-q4_k_m.gguf", body: original.subarray(0, Math.floor(original.length * 0.9)), why: /size|truncated/},
        {reference: "hf:test/Broken-GGUF:Q4_K_M", name: "brokenq-q4_k_m.gguf", body: flipped, why: /sha256/}
    ];
    for (const {reference, name, body, why} of cases) {
        const models = freshDir("short");
        const options = {directory: models, token: null, endpoint: mirror.url};
        mirror.serveInstead("test/Broken-GGUF", name, brokenCopy(name, body));
        try {
            await assert.rejects(resolveModelFiles({kind: "reference", reference}, options), (err: unknown) =>
                err instanceof LoadFailure && err.code === "download_failed" && /not a valid GGUF file/.test(err.message) && why.test(err.message),
            `${reference}, ${body.length} of ${original.length} bytes`);
            assert.deepEqual(fs.readdirSync(models).filter((file) => file.endsWith(".gguf")), [], "the bad file is not kept as final");
        } finally {
            mirror.serveInstead("test/Broken-GGUF", name, null);
        }
        mirror.resetCounts();
        const found = await resolveModelFiles({kind: "reference", reference}, options);
        assert.ok(mirror.requests.length > 0, "the file was asked for again");
        assert.ok(sameBytes(found.entrypoint, bench));
    }
});
