import fs from "node:fs";
import path from "node:path";
import {execFile} from "node:child_process";
import {promisify} from "node:util";
import {instructionsOf, type DockerInstruction, type DockerStage, type ParsedDockerfile} from "./dockerfile.js";

const run = promisify(execFile);

/** The runtime stage of a Dockerfile laid out in a folder, as `docker build` would have made it. */
export interface ReplayedImage {
    /** The runtime stage's WORKDIR: the app files as the image holds them. */
    appDir: string;
    /** The runtime stage's ENV. */
    env: Record<string, string>;
    /** ENTRYPOINT followed by CMD. */
    command: string[];
    /** USER as numbers; null when the image runs as root. */
    user: {uid: number; gid: number} | null;
    volumes: string[];
    /** HEALTHCHECK's command (after CMD). */
    healthcheck: string[];
    /** Each replayed RUN and how long it took, for the test's log. */
    steps: Array<{stage: string; command: string; seconds: number}>;
}

export interface ReplayOptions {
    /** The build context (the repository root). */
    context: string;
    /** An empty folder; each stage gets a subfolder. */
    workspace: string;
    /** Environment for RUN lines (npm needs PATH and HOME; the npm cache makes `npm ci` quick). */
    runEnv: NodeJS.ProcessEnv;
}

/**
 * The one file outside an app folder that a runtime stage may copy from another stage: the node
 * binary, which the CUDA image takes from the node image. The node running the replay stands in.
 */
const SYSTEM_FILES = new Set(["/usr/local/bin/node"]);

interface Stage {
    dir: string;
    /** The stage's WORKDIR, which `dir` stands for. */
    workdir: string | null;
}

function inside(stage: Stage, file: string, line: number): string {
    if (stage.workdir == null) throw new Error(`line ${line}: the replay maps paths through WORKDIR; set it before COPY or RUN`);
    const absolute = path.posix.resolve(stage.workdir, file);
    const relative = path.posix.relative(stage.workdir, absolute);
    if (relative.startsWith("..")) throw new Error(`line ${line}: ${file} is outside WORKDIR ${stage.workdir}`);
    return path.join(stage.dir, relative);
}

function copy(instruction: DockerInstruction, target: Stage, stages: Map<string, Stage>, context: string): void {
    const from = instruction.flags.from;
    const source = from == null ? null : stages.get(from);
    if (from != null && source == null) throw new Error(`line ${instruction.line}: --from=${from} is not an earlier stage`);
    const sources = instruction.args.slice(0, -1);
    const destination = instruction.args.at(-1)!;
    const into = destination.endsWith("/") || sources.length > 1;
    for (const file of sources) {
        if (source != null && SYSTEM_FILES.has(file)) continue;
        const origin = source == null ? path.join(context, file) : inside(source, file, instruction.line);
        if (source == null && path.relative(context, origin).startsWith("..")) throw new Error(`line ${instruction.line}: ${file} is outside the context`);
        // As Docker does: a folder's contents go to the destination; files go into it when it ends with / (or there are several).
        const intoFolder = into && !fs.statSync(origin).isDirectory();
        const to = inside(target, intoFolder ? path.posix.join(destination, path.posix.basename(file)) : destination, instruction.line);
        fs.mkdirSync(path.dirname(to), {recursive: true});
        if (source != null && !fs.existsSync(to)) {
            // Stage folders are scratch: their outputs move (hundreds of MB of node_modules), so each is copied once.
            if (!fs.existsSync(origin)) throw new Error(`line ${instruction.line}: ${file} from stage ${from} is missing (or was copied already)`);
            fs.renameSync(origin, to);
        } else {
            fs.cpSync(origin, to, {recursive: true});
        }
    }
}

function setEnv(instruction: DockerInstruction, env: Record<string, string>): void {
    for (const pair of instruction.args) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new Error(`line ${instruction.line}: ENV ${pair}: the replay reads only NAME=value`);
        env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
}

/** A build stage: WORKDIR, COPY, ENV and RUN, each RUN in a shell in the stage's folder. */
async function replayBuildStage(stage: DockerStage, into: Stage, stages: Map<string, Stage>, options: ReplayOptions,
    steps: ReplayedImage["steps"]): Promise<void> {
    if (!stage.image.startsWith("node:"))
        throw new Error(`stage ${stage.name}: the replay runs build stages with this machine's node, not on ${stage.image}`);
    const env: Record<string, string> = {};
    for (const instruction of stage.instructions) {
        if (instruction.keyword === "WORKDIR") into.workdir = instruction.args[0]!;
        else if (instruction.keyword === "COPY") copy(instruction, into, stages, options.context);
        else if (instruction.keyword === "ENV") setEnv(instruction, env);
        else if (instruction.keyword === "RUN") {
            inside(into, ".", instruction.line);
            const started = performance.now();
            try {
                await run("sh", ["-c", instruction.text], {cwd: into.dir, env: {...options.runEnv, ...env}, maxBuffer: 64 * 1024 * 1024});
            } catch (err) {
                const failed = err as Error & {stdout?: string; stderr?: string};
                throw new Error(`stage ${stage.name}, line ${instruction.line}: \`${instruction.text}\` failed: ${failed.message}\n${failed.stdout ?? ""}${failed.stderr ?? ""}`);
            }
            steps.push({stage: stage.name ?? "?", command: instruction.text, seconds: (performance.now() - started) / 1000});
        } else throw new Error(`stage ${stage.name}, line ${instruction.line}: the replay does not know ${instruction.keyword}`);
    }
}

/**
 * Does what `docker build` does with `dockerfile`, in plain folders: each build stage's COPY and
 * RUN lines in its own folder, then the runtime (last) stage's COPY lines into the app folder.
 * The runtime stage's RUN lines set up the OS (user, volume folders) and are not replayed; the
 * caller stands in for them (dockerfiles.test.ts holds them to exactly that).
 */
export async function replayDockerfile(dockerfile: ParsedDockerfile, options: ReplayOptions): Promise<ReplayedImage> {
    const stages = new Map<string, Stage>();
    const steps: ReplayedImage["steps"] = [];
    const runtime = dockerfile.stages.at(-1)!;
    for (const stage of dockerfile.stages.slice(0, -1)) {
        if (stage.name == null) throw new Error(`${dockerfile.file}: every build stage needs a name (FROM ... AS name)`);
        const into: Stage = {dir: path.join(options.workspace, stage.name), workdir: null};
        fs.mkdirSync(into.dir, {recursive: true});
        await replayBuildStage(stage, into, stages, options, steps);
        stages.set(stage.name, into);
    }
    const app: Stage = {dir: path.join(options.workspace, "app"), workdir: null};
    fs.mkdirSync(app.dir, {recursive: true});
    const env: Record<string, string> = {};
    let user: ReplayedImage["user"] = null;
    for (const instruction of runtime.instructions) {
        if (instruction.keyword === "WORKDIR") app.workdir = instruction.args[0]!;
        else if (instruction.keyword === "COPY") copy(instruction, app, stages, options.context);
        else if (instruction.keyword === "ENV") setEnv(instruction, env);
        else if (instruction.keyword === "USER") {
            const [uid, gid] = instruction.args[0]!.split(":").map(Number);
            if (!Number.isInteger(uid)) throw new Error(`line ${instruction.line}: the replay needs a numeric USER`);
            user = {uid: uid!, gid: gid ?? uid!};
        }
    }
    const single = (keyword: string) => instructionsOf(runtime, keyword).at(-1)?.args ?? [];
    return {
        appDir: app.dir,
        env,
        command: [...single("ENTRYPOINT"), ...single("CMD")],
        user,
        volumes: single("VOLUME"),
        healthcheck: single("HEALTHCHECK").slice(1),
        steps
    };
}
