import fs from "node:fs";
import {DockerfileParser, type Instruction} from "dockerfile-ast";

/** One instruction of a Dockerfile; in FROM lines the build ARGs (their defaults) are expanded. */
export interface DockerInstruction {
    /** Upper case: FROM, RUN, COPY, ... */
    keyword: string;
    /** 1-based line, for messages. */
    line: number;
    /** Flags such as `--from=build` or HEALTHCHECK's `--interval=10s`, by name. */
    flags: Record<string, string>;
    /** The words after the keyword and its flags; for the exec form (a JSON array), its strings. */
    args: string[];
    /** Whether the arguments are the exec form (a JSON array: no shell). */
    execForm: boolean;
    /** The arguments as one line of text (a RUN's shell command, its continuations joined). */
    text: string;
}

export interface DockerStage {
    /** The `AS` name, null when the stage has none. */
    name: string | null;
    /** The base image, ARGs expanded: `node:24-slim`. */
    image: string;
    /** The instructions after FROM, in order. */
    instructions: DockerInstruction[];
}

export interface ParsedDockerfile {
    file: string;
    /** The ARGs before the first FROM, with their defaults. */
    args: Record<string, string>;
    stages: DockerStage[];
}

function expand(text: string, args: Record<string, string>): string {
    return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) =>
        args[braced ?? bare ?? ""] ?? whole);
}

function flagsOf(instruction: Instruction): Record<string, string> {
    const flags: Record<string, string> = {};
    const withFlags = instruction as Instruction & {getFlags?: () => Array<{getName(): string; getValue(): string | null}>};
    for (const flag of withFlags.getFlags?.() ?? [])
        flags[flag.getName()] = flag.getValue() ?? "";
    return flags;
}

function toInstruction(instruction: Instruction, initialArgs: Record<string, string>): DockerInstruction {
    const keyword = instruction.getKeyword().toUpperCase();
    const flags = flagsOf(instruction);
    // The ARGs declared before the first FROM are in scope only in FROM lines.
    const args = keyword === "FROM" ? initialArgs : {};
    // Flags are not among the arguments.
    const words = instruction.getArguments().map((argument) => expand(argument.getValue(), args));
    // HEALTHCHECK CMD [...] carries its exec form after the CMD word.
    const jsonStart = keyword === "HEALTHCHECK" && words[0]?.toUpperCase() === "CMD" ? 1 : 0;
    const jsonText = words.slice(jsonStart).join(" ");
    let execForm = false;
    let parsed = words;
    if (jsonText.startsWith("[")) {
        try {
            const strings: unknown = JSON.parse(jsonText);
            if (Array.isArray(strings) && strings.every((value) => typeof value === "string")) {
                parsed = [...words.slice(0, jsonStart), ...strings as string[]];
                execForm = true;
            }
        } catch {
            // not JSON: the shell form, kept as words
        }
    }
    return {
        keyword,
        line: instruction.getRange().start.line + 1,
        flags,
        args: parsed,
        execForm,
        text: expand(instruction.getArgumentsContent() ?? "", args)
    };
}

/** Parses a Dockerfile into its stages; throws when it has no FROM. */
export function readDockerfile(file: string): ParsedDockerfile {
    const dockerfile = DockerfileParser.parse(fs.readFileSync(file, "utf8"));
    const args: Record<string, string> = {};
    for (const arg of dockerfile.getInitialARGs()) {
        const property = arg.getProperty();
        if (property != null) args[property.getName()] = property.getValue() ?? "";
    }
    const stages: DockerStage[] = [];
    for (const instruction of dockerfile.getInstructions()) {
        const parsed = toInstruction(instruction, args);
        if (parsed.keyword === "FROM") {
            const as = parsed.args.findIndex((word) => word.toUpperCase() === "AS");
            stages.push({name: as >= 0 ? parsed.args[as + 1] ?? null : null, image: parsed.args[0]!, instructions: []});
        } else if (stages.length > 0) {
            stages.at(-1)!.instructions.push(parsed);
        }
    }
    if (stages.length === 0) throw new Error(`${file}: no FROM`);
    return {file, args, stages};
}

/** The stage named `name`; throws when there is none. */
export function stageNamed(dockerfile: ParsedDockerfile, name: string): DockerStage {
    const stage = dockerfile.stages.find((candidate) => candidate.name === name);
    if (stage == null) throw new Error(`${dockerfile.file}: no stage named ${name}`);
    return stage;
}

/** The instructions of a stage with this keyword. */
export function instructionsOf(stage: DockerStage, keyword: string): DockerInstruction[] {
    return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}
