import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {execFile, spawn} from "node:child_process";
import {promisify} from "node:util";
import Fastify from "fastify";
import {ONE_THREAD, stubServer} from "../helpers/opsHelpers.js";
import {testModelPath} from "../helpers/testWorker.js";
import {readDockerfile} from "../helpers/dockerfile.js";
import {SETTINGS} from "../../src/config/config.js";

// The production start, the images' health check, install hygiene, and the deployment examples
// of docs/operations.md held to the code.
const root = path.resolve(import.meta.dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    scripts: Record<string, string>; engines: {node: string}; allowScripts: Record<string, boolean>;
};
const readme = fs.readFileSync(path.join(root, "docs/operations.md"), "utf8");
const grace = Number(SETTINGS.SHUTDOWN_GRACE_SECONDS.default);

async function exitCode(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{code: number; stderr: string}> {
    try {
        await promisify(execFile)(process.execPath, [file, ...args], {env: {PATH: process.env.PATH, ...env}});
        return {code: 0, stderr: ""};
    } catch (err) {
        const failed = err as {code?: number; stderr?: string};
        return {code: failed.code ?? -1, stderr: failed.stderr ?? ""};
    }
}

test("bin/healthcheck.cjs: exit 0 only when GET /ready answers 200, on the worker's PORT", async () => {
    const healthcheck = path.join(root, "bin/healthcheck.cjs");
    let status = 200;
    const paths: string[] = [];
    const stub = await stubServer((request, _body, response) => {
        paths.push(request.url ?? "");
        response.writeHead(status, {"content-type": "application/json"}).end("{}");
    });
    const port = new URL(stub.url).port;
    try {
        assert.equal((await exitCode(healthcheck, [], {PORT: port})).code, 0);
        status = 503;
        assert.equal((await exitCode(healthcheck, [], {PORT: port, HOST: "127.0.0.1"})).code, 1);
        assert.deepEqual(paths, ["/ready", "/ready"]);
    } finally {
        await stub.close();
    }
    assert.equal((await exitCode(healthcheck, [], {PORT: port})).code, 1, "nothing listening");
});

test("bin/chat-worker.cjs without a build: exit 2, saying to run `npm run build`", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-nobuild-"));
    try {
        fs.mkdirSync(path.join(dir, "bin"));
        fs.copyFileSync(path.join(root, "bin/chat-worker.cjs"), path.join(dir, "bin/chat-worker.cjs"));
        const {code, stderr} = await exitCode(path.join(dir, "bin/chat-worker.cjs"), [], {});
        assert.equal(code, 2);
        assert.match(stderr, /dist\/src\/main\.js is missing; run `npm run build` first/);
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
});

test("`npm start`: builds only what changed, prints the playground's URL once listening, and SIGTERM to npm's own pid stops the worker", {timeout: 120_000}, async () => {
    const env: NodeJS.ProcessEnv = {...process.env};
    for (const [name, setting] of Object.entries(SETTINGS) as Array<[string, {alias?: string}]>) {
        delete env[name];
        if (setting.alias != null) delete env[setting.alias];
    }
    // Under `npm test`, npm_execpath is the npm that runs the tests; else the one on PATH.
    const npm = process.env.npm_execpath != null ? [process.execPath, process.env.npm_execpath] : ["npm"];
    const child = spawn(npm[0]!, [...npm.slice(1), "start"], {
        cwd: root, stdio: ["ignore", "pipe", "pipe"],
        env: {...env, ...ONE_THREAD, UV_THREADPOOL_SIZE: "1", PORT: "0", HOST: "127.0.0.1", GPU: "false", LOG_LEVEL: "info", MODEL_PATH: await testModelPath()}
    });
    let stdout = "";
    let stderr = "";
    // The pipes close only once every process holding them (npm, the worker, its runner) is gone.
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    // Both lines: the one for people (stderr) and the worker's "listening" record (stdout).
    const listening = new Promise<{url: string; record: {port: number; pid: number}}>((resolve, reject) => {
        const check = () => {
            const url = /open (http:\/\/\S+) for the playground/.exec(stderr)?.[1];
            const line = stdout.split("\n").find((text) => text.includes('"msg":"listening"') && text.endsWith("}"));
            if (url != null && line != null) resolve({url, record: JSON.parse(line) as {port: number; pid: number}});
        };
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => { stdout += chunk; check(); });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => { stderr += chunk; check(); });
        child.once("close", () => reject(new Error(`npm start ended before listening: ${stderr}`)));
    });
    let worker: number | undefined;
    try {
        const {url, record} = await listening;
        assert.match(stderr, /^chat-worker: checking dist\/ against the TypeScript sources/m, "it says what it is doing");
        assert.match(stderr, /^chat-worker: (dist\/ is up to date|compiled into dist\/ in [\d.]+ s)/m);
        worker = record.pid;
        assert.notEqual(worker, child.pid, "node runs under npm");
        assert.equal(url, `http://127.0.0.1:${record.port}/`);
        assert.equal((await fetch(url)).status, 200, "the URL serves the playground");
        assert.ok(child.kill("SIGTERM"));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise((_, reject) => timer = setTimeout(() => reject(new Error("the worker outlived npm")), 60_000))]);
        clearTimeout(timer);
        assert.match(stdout, /"msg":"shutdown complete"/, "the worker drained and exited");
    } finally {
        child.kill("SIGKILL");
        try {
            if (worker != null) process.kill(worker, "SIGKILL");
        } catch {
            // Gone, as it should be.
        }
    }
});

test("allowScripts names exactly the locked packages that have install scripts (npm 11)", () => {
    const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")) as {
        packages: Record<string, {hasInstallScript?: boolean}>;
    };
    // The root entry ("") is this project: its own postinstall (patch-package) needs no approval.
    const withScripts = Object.entries(lock.packages).filter(([location, entry]) => location !== "" && entry.hasInstallScript === true)
        .map(([location]) => location.slice(location.lastIndexOf("node_modules/") + "node_modules/".length));
    assert.deepEqual(Object.keys(pkg.allowScripts).sort(), [...new Set(withScripts)].sort());
    assert.ok(Object.values(pkg.allowScripts).every((allowed) => allowed === true));
});

test("this Node.js meets engines.node, and loads cookie@2 (ESM, behind the EBADENGINE warning) through Fastify's inject", async () => {
    const floor = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    assert.ok(floor != null, `engines.node ${pkg.engines.node}`);
    const [major, minor] = process.versions.node.split(".").map(Number);
    assert.ok(major! > Number(floor[1]) || (major === Number(floor[1]) && minor! >= Number(floor[2])), `Node.js ${process.version}`);
    const app = Fastify();
    app.get("/", async (_request, reply) => reply.header("set-cookie", "a=b").send({ok: true}));
    const response = await app.inject({url: "/", cookies: {c: "d"}});
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.cookies.map((cookie) => [cookie.name, cookie.value]), [["a", "b"]]);
    await app.close();
});

/** docs/operations.md's fenced block of `language` that contains `marker`. */
function readmeBlock(language: string, marker: string): string {
    const block = [...readme.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!).find((text) => text.includes(marker));
    assert.ok(block != null, `a ${language} block with ${marker}`);
    return block;
}

test("docs/operations.md: docker build and run for both images, with a stop timeout above the shutdown grace", () => {
    const docker = readmeBlock("sh", "docker build");
    assert.match(docker, /^docker build -t chat-worker:cpu \.$/m);
    assert.match(docker, /^docker build -f Dockerfile\.cuda -t chat-worker:cuda \.$/m);
    assert.match(docker, /^docker run --rm -p 7861:7861 .*chat-worker:cpu$/m);
    assert.match(docker, /^docker run --rm --gpus all -p 7861:7861 /m);
    const timeouts = [...readme.matchAll(/--stop-timeout (\d+)/g), ...readme.matchAll(/TimeoutStopSec=(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(timeouts.length >= 3 && timeouts.every((seconds) => seconds > grace), `stop timeouts ${timeouts} > ${grace}`);
    const cudaArgs = readDockerfile(path.join(root, "Dockerfile.cuda")).args;
    assert.ok(readme.includes(`(${cudaArgs.CUDA_IMAGE} + Node.js ${cudaArgs.NODE_VERSION})`), "docs/operations.md names the CUDA image's base");
    const fallback = /--build-arg CUDA_IMAGE=(\S+)/.exec(readme)?.[1];
    assert.ok(fallback != null && fs.readFileSync(path.join(root, "Dockerfile.cuda"), "utf8").includes(fallback));
});

test("docs/operations.md: the Kubernetes manifest probes /ready and /health, asks for a GPU, and outlasts the shutdown grace", () => {
    const manifest = readmeBlock("yaml", "kind: Deployment");
    const value = (pattern: RegExp): string => {
        const match = pattern.exec(manifest);
        assert.ok(match != null, `${pattern} in the manifest`);
        return match[1]!;
    };
    const graceInManifest = Number(value(/name: SHUTDOWN_GRACE_SECONDS, value: "(\d+)"/));
    assert.equal(graceInManifest, grace);
    assert.ok(Number(value(/terminationGracePeriodSeconds: (\d+)/)) > graceInManifest);
    assert.equal(value(/readinessProbe:[^\n]*\n\s+httpGet: \{path: (\S+), port: http\}/), "/ready");
    assert.equal(value(/livenessProbe:[^\n]*\n\s+httpGet: \{path: (\S+), port: http\}/), "/health");
    assert.equal(value(/containerPort: (\d+)/), SETTINGS.PORT.default);
    assert.match(value(/limits: \{([^}]*)\}/), /nvidia\.com\/gpu: 1/);
    const user = readDockerfile(path.join(root, "Dockerfile.cuda")).stages.at(-1)!.instructions.filter((i) => i.keyword === "USER").at(-1)!;
    assert.equal(value(/runAsUser: (\d+)/), user.args[0]!.split(":")[0]);
    assert.equal(value(/mountPath: (\/models)/), "/models");
});
