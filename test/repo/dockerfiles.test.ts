import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {validate} from "dockerfile-utils";
import {instructionsOf, readDockerfile, stageNamed, type DockerInstruction, type DockerStage, type ParsedDockerfile} from "../helpers/dockerfile.js";
import {loadConfig, SETTINGS} from "../../src/config/config.js";

// The rules the images must keep (issue 15), checked on the files themselves because no Docker
// engine runs here; `npm run test:production` replays the CPU file's build in a plain folder.
const root = path.resolve(import.meta.dirname, "..", "..");
const FILES = ["Dockerfile", "Dockerfile.cuda"] as const;
const parsed = Object.fromEntries(FILES.map((file) => [file, readDockerfile(path.join(root, file))])) as Record<(typeof FILES)[number], ParsedDockerfile>;
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {scripts: Record<string, string>};

/** The runtime stage's commands may only set up the user and its folders: no package manager, no compiler. */
const RUNTIME_COMMANDS = new Set(["groupadd", "useradd", "mkdir", "chown"]);

const runtime = (dockerfile: ParsedDockerfile): DockerStage => dockerfile.stages.at(-1)!;
const env = (stage: DockerStage): Record<string, string> => {
    const values: Record<string, string> = {};
    for (const instruction of instructionsOf(stage, "ENV"))
        for (const pair of instruction.args) {
            const eq = pair.indexOf("=");
            values[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
    return values;
};
const commands = (run: DockerInstruction): string[][] =>
    run.text.split("&&").map((part) => part.trim().split(/\s+/));
const only = (stage: DockerStage, keyword: string): DockerInstruction => {
    const found = instructionsOf(stage, keyword);
    assert.equal(found.length, 1, `one ${keyword} in stage ${stage.name}`);
    return found[0]!;
};

for (const file of FILES) {
    const dockerfile = parsed[file];
    const final = runtime(dockerfile);

    test(`${file}: dockerfile-utils finds no error or warning`, () => {
        const diagnostics = validate(fs.readFileSync(path.join(root, file), "utf8"));
        assert.deepEqual(diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`), []);
    });

    test(`${file}: multi-stage, and the runtime stage holds no toolchain, no TypeScript and no dev dependencies`, () => {
        assert.ok(dockerfile.stages.length >= 3, "build, deps and runtime stages");
        assert.equal(final.name, "runtime");
        const build = stageNamed(dockerfile, "build");
        assert.ok(instructionsOf(build, "RUN").some((run) => commands(run).some((words) => words.join(" ") === "npm run build")));
        for (const run of instructionsOf(final, "RUN"))
            for (const words of commands(run))
                assert.ok(RUNTIME_COMMANDS.has(words[0]!), `line ${run.line}: \`${words[0]}\` in the runtime stage`);
        for (const copy of instructionsOf(final, "COPY")) {
            const sources = copy.args.slice(0, -1);
            const forbidden = copy.flags.from == null ? ["src", "tsconfig.json"] : ["/app", "/app/src", "/app/tsconfig.json"];
            assert.ok(!sources.some((source) => forbidden.includes(source.replace(/\/$/, ""))), `line ${copy.line}: no TypeScript sources in the image`);
            if (copy.flags.from != null)
                assert.ok(dockerfile.stages.some((stage) => stage.name === copy.flags.from), `line ${copy.line}: --from names a stage of this file`);
            if (copy.args.at(-1) === "./node_modules") {
                const deps = stageNamed(dockerfile, copy.flags.from ?? "");
                assert.ok(instructionsOf(deps, "RUN").some((run) => commands(run).some((words) => words.join(" ").startsWith("npm ci --omit=dev"))),
                    "node_modules come from an `npm ci --omit=dev` stage");
            }
        }
    });

    test(`${file}: node itself is PID 1 (exec form, the production start), stopped with SIGTERM`, () => {
        const entrypoint = only(final, "ENTRYPOINT");
        assert.ok(entrypoint.execForm, "exec form: no shell between the runtime and node");
        assert.deepEqual(entrypoint.args, pkg.scripts.serve!.split(" "), "the ENTRYPOINT is `npm run serve`'s command");
        assert.equal(instructionsOf(final, "CMD").length, 0);
        assert.deepEqual(only(final, "STOPSIGNAL").args, ["SIGTERM"]);
    });

    test(`${file}: a numeric non-root user, which owns only the conversation cache folder and the models folder`, () => {
        const user = instructionsOf(final, "USER").at(-1)!;
        const [uid, gid] = user.args[0]!.split(":");
        assert.match(uid!, /^[1-9]\d*$/, "numeric, so Kubernetes' runAsNonRoot can check it");
        assert.match(gid ?? "", /^[1-9]\d*$/);
        const setup = instructionsOf(final, "RUN").flatMap(commands);
        const useradd = setup.find((words) => words[0] === "useradd")!;
        assert.equal(useradd[useradd.indexOf("--uid") + 1], uid);
        const chowns = setup.filter((words) => words[0] === "chown");
        assert.deepEqual(chowns.map((words) => words.slice(1)), [[`${uid}:${gid}`, env(final).MODELS_DIR, env(final).CONVERSATION_CACHE_DIR]]);
        const lastRun = Math.max(...instructionsOf(final, "RUN").map((run) => run.line));
        assert.ok(user.line > lastRun, "USER comes after the root-only setup");
        assert.ok(final.instructions.filter((i) => i.keyword === "COPY").every((copy) => copy.flags.chown == null), "app files stay root-owned");
    });

    test(`${file}: EXPOSE the default port, HEALTHCHECK on /ready, volumes for /models and the conversation cache`, () => {
        assert.deepEqual(only(final, "EXPOSE").args, [SETTINGS.PORT.default]);
        const healthcheck = only(final, "HEALTHCHECK");
        assert.ok(healthcheck.execForm);
        assert.deepEqual(healthcheck.args, ["CMD", "node", "bin/healthcheck.cjs"]);
        assert.match(fs.readFileSync(path.join(root, "bin/healthcheck.cjs"), "utf8"), /\/ready`/);
        assert.match(healthcheck.flags["start-period"] ?? "", /^\d+s$/, "a start period covers loading a large model");
        const stateCache = env(final).CONVERSATION_CACHE_DIR!;
        assert.ok(path.isAbsolute(stateCache));
        assert.deepEqual(new Set(only(final, "VOLUME").args), new Set(["/models", stateCache]));
        assert.equal(env(final).MODELS_DIR, "/models", "MODEL's downloads go to the models volume (the user's home does not exist)");
    });

    test(`${file}: the image's ENV is a valid configuration`, () => {
        assert.doesNotThrow(() => loadConfig(env(final)));
    });
}

test("Dockerfile: the CPU runtime is node:<LTS>-slim (an even major >= 22) like its build stages, with GPU=false", () => {
    const dockerfile = parsed.Dockerfile;
    for (const stage of dockerfile.stages) {
        const match = /^node:(\d+)-slim$/.exec(stage.image);
        assert.ok(match != null, `${stage.name}: ${stage.image}`);
        const major = Number(match[1]);
        assert.ok(major >= 22 && major % 2 === 0, `Node ${major} is not a supported LTS line`);
    }
    assert.equal(env(runtime(dockerfile)).GPU, "false");
});

/**
 * The CUDA major a prebuilt libggml-cuda.so needs, read from the libcudart soname it links (`ldd`
 * shows the same). The dynamic string table sits near the start of the file, so only the first
 * megabytes are read.
 */
function cudaMajorOf(library: string): number | null {
    if (!fs.existsSync(library)) return null;
    const head = Buffer.alloc(8 * 1024 * 1024);
    const fd = fs.openSync(library, "r");
    const length = fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    const match = /libcudart\.so\.(\d+)/.exec(head.subarray(0, length).toString("latin1"));
    if (match == null) throw new Error(`${library} names no libcudart in its first ${head.length} bytes`);
    return Number(match[1]);
}

test("Dockerfile.cuda: the nvidia/cuda runtime matches the CUDA major of node-llama-cpp's prebuilt CUDA backend", (t) => {
    const binaries = path.join(root, "node_modules/@node-llama-cpp");
    const primary = cudaMajorOf(path.join(binaries, "linux-x64-cuda/bins/linux-x64-cuda/libggml-cuda.so"));
    const fallback = cudaMajorOf(path.join(binaries, "linux-x64-cuda-ext/bins/linux-x64-cuda/fallback/libggml-cuda.so"));
    if (primary == null) {
        t.skip("the linux-x64 CUDA binaries are not installed on this platform");
        return;
    }
    const dockerfile = parsed["Dockerfile.cuda"];
    const image = /^nvidia\/cuda:(\d+)\.\d+\.\d+-runtime-ubuntu\d+\.\d+$/.exec(runtime(dockerfile).image);
    assert.ok(image != null, `a pinned nvidia/cuda runtime image, not ${runtime(dockerfile).image}`);
    assert.equal(Number(image[1]), primary, `the prebuilt backend links libcudart.so.${primary}`);
    // The older-driver alternative the file names must load the fallback backend.
    const text = fs.readFileSync(path.join(root, "Dockerfile.cuda"), "utf8");
    const alternatives = [...text.matchAll(/nvidia\/cuda:(\d+)\.\d+\.\d+-runtime/g)].map((m) => Number(m[1])).filter((major) => major !== primary);
    assert.ok(alternatives.length > 0, "the file names a runtime for hosts with an older driver");
    for (const major of alternatives) assert.equal(major, fallback, `the fallback backend links libcudart.so.${fallback}`);
    assert.equal(env(runtime(dockerfile)).GPU, "cuda", "fails loudly when started without a GPU");
});

/** A stage's instructions as text, for comparing the two files. */
const describe = (instructions: DockerInstruction[]): string[] =>
    instructions.map((i) => `${i.keyword} ${JSON.stringify(i.flags)} ${i.args.join(" ")}`);

test("Dockerfile and Dockerfile.cuda build the app alike: same build stage, same runtime layout", () => {
    const cpu = parsed.Dockerfile;
    const cuda = parsed["Dockerfile.cuda"];
    assert.deepEqual(describe(stageNamed(cuda, "build").instructions), describe(stageNamed(cpu, "build").instructions));
    const depsWithoutPruning = (dockerfile: ParsedDockerfile) => describe(stageNamed(dockerfile, "deps").instructions.map((i) =>
        i.keyword === "RUN" ? {...i, args: [], text: i.text.replace(/&& rm -rf .*$/, "")} : i));
    assert.deepEqual(depsWithoutPruning(cuda), depsWithoutPruning(cpu));
    // CUDA's runtime adds only the node binary (the CPU base image has it) and a different GPU default.
    const nodeBinary = (i: DockerInstruction) => i.keyword === "COPY" && i.args[0] === "/usr/local/bin/node";
    const layout = (stage: DockerStage) => describe(stage.instructions.filter((i) => !nodeBinary(i) && i.keyword !== "ENV"));
    assert.deepEqual(layout(runtime(cuda)), layout(runtime(cpu)));
    assert.deepEqual({...env(runtime(cuda)), GPU: null}, {...env(runtime(cpu)), GPU: null});
    assert.equal(runtime(cuda).instructions.filter(nodeBinary).length, 1);
});

test(".dockerignore lets into the build context exactly what the Dockerfiles COPY from it", () => {
    const lines = fs.readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n").map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"));
    assert.equal(lines[0], "*", "everything is left out unless named");
    const allowed = new Set(lines.slice(1).map((line) => {
        assert.ok(line.startsWith("!"), `${line}: only re-inclusions after *`);
        return line.slice(1);
    }));
    const copied = new Set(FILES.flatMap((file) => parsed[file].stages.flatMap((stage) => instructionsOf(stage, "COPY")
        .filter((copy) => copy.flags.from == null).flatMap((copy) => copy.args.slice(0, -1)))));
    assert.deepEqual([...allowed].sort(), [...copied].sort());
});
