import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {ConfigError} from "../errors.js";
import {MIN_TOKEN_BUDGET, type OutputStyle} from "./enhanceOutputFormat.js";

/**
 * The instruction sets of /enhance, one per job type, as data: a JSON file per job type holds the
 * system prompt, the user-prompt template and the token budget. Built-in defaults ship in
 * `templates/enhance/`; an operator folder (ENHANCE_TEMPLATES_DIR) replaces any of them. Every
 * template is read and checked once at boot.
 */

export const JOB_TYPES = ["sdxl_image_fast", "sdxl_image_high", "video_fast", "video_high"] as const;
export type JobType = (typeof JOB_TYPES)[number];
export const QUALITIES = ["fast", "high"] as const;
export type Quality = (typeof QUALITIES)[number];

/** What a job type is, fixed in code: the grammar follows the style, so a template cannot change it. */
export const JOB_TYPE_TRAITS: Readonly<Record<JobType, {style: OutputStyle; quality: Quality}>> = Object.freeze({
    sdxl_image_fast: {style: "image", quality: "fast"},
    sdxl_image_high: {style: "image", quality: "high"},
    video_fast: {style: "video", quality: "fast"},
    video_high: {style: "video", quality: "high"}
});

/** Largest token budget a template may set; an enhanced prompt is short by definition. */
export const MAX_TOKEN_BUDGET = 2048;
export const PROMPT_PLACEHOLDER = "{prompt}";
/** The sfw_mode term list's file name, in the built-in folder and in ENHANCE_TEMPLATES_DIR. */
export const SFW_TERMS_FILE = "sfw-terms.txt";

export type TemplateSource = "built-in" | "operator";

export interface EnhanceTemplate {
    jobType: JobType;
    style: OutputStyle;
    quality: Quality;
    description: string | null;
    systemPrompt: string;
    /** Contains PROMPT_PLACEHOLDER at least once. */
    userTemplate: string;
    /** Most model tokens the enhanced prompt may take. */
    tokenBudget: number;
    source: TemplateSource;
    /** File name inside its folder (never a full path: it is shown to clients). */
    file: string;
}

export type EnhanceTemplates = ReadonlyMap<JobType, EnhanceTemplate>;

const KNOWN_KEYS = new Set(["description", "system_prompt", "user_template", "token_budget"]);

/**
 * The built-in folder, found from this module's location so that it works both from src/ (tsx)
 * and from the build in dist/src/.
 */
export function builtinTemplatesDir(): string {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    for (;;) {
        if (fs.existsSync(path.join(dir, "package.json")))
            return path.join(dir, "templates", "enhance");
        const parent = path.dirname(dir);
        if (parent === dir)
            throw new Error("cannot find the package root holding templates/enhance");
        dir = parent;
    }
}

/**
 * Loads the built-in templates, then the operator's over them. A problem in the operator folder
 * throws ConfigError naming ENHANCE_TEMPLATES_DIR and the file, so the worker refuses to boot.
 */
export function loadEnhanceTemplates(operatorDir: string | null, builtinDir: string = builtinTemplatesDir()): EnhanceTemplates {
    const templates = new Map<JobType, EnhanceTemplate>();
    for (const jobType of JOB_TYPES) {
        const file = `${jobType}.json`;
        try {
            templates.set(jobType, parseTemplate(jobType, fs.readFileSync(path.join(builtinDir, file), "utf8"), "built-in", file));
        } catch (err) {
            // The built-ins ship with the code: a bad one is a packaging bug, not an operator mistake.
            throw new Error(`built-in enhancement template ${file} is broken: ${(err as Error).message}`);
        }
    }
    if (operatorDir == null)
        return templates;

    const fail = (message: string): never => {
        throw new ConfigError("ENHANCE_TEMPLATES_DIR", message);
    };
    let entries: fs.Dirent[] = [];
    try {
        entries = fs.readdirSync(operatorDir, {withFileTypes: true});
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        fail(code === "ENOENT" ? `folder ${operatorDir} does not exist`
            : code === "ENOTDIR" ? `${operatorDir} is not a folder`
                : `cannot read folder ${operatorDir}: ${(err as Error).message}`);
    }
    const files = entries.filter((entry) => entry.name.toLowerCase().endsWith(".json")).map((entry) => entry.name).sort();
    // A folder may hold only the sfw_mode term list (sfwTerms.ts reads it).
    if (files.length === 0 && !entries.some((entry) => entry.name === SFW_TERMS_FILE))
        fail(`folder ${operatorDir} holds no templates; expected one or more of ${JOB_TYPES.map((jobType) => `${jobType}.json`).join(", ")}`);
    for (const file of files) {
        const jobType = file.slice(0, -".json".length);
        if (!isJobType(jobType))
            fail(`${file}: not a job type; template files are named ${JOB_TYPES.map((name) => `${name}.json`).join(", ")}`);
        const text = readTemplateFile(path.join(operatorDir, file), file, fail);
        try {
            templates.set(jobType as JobType, parseTemplate(jobType as JobType, text, "operator", file));
        } catch (err) {
            fail(`${file}: ${(err as Error).message}`);
        }
    }
    return templates;
}

/** Operator templates are small text files; anything bigger is not one. */
const MAX_TEMPLATE_BYTES = 64 * 1024;

/**
 * Reads a template only if it is a regular file of at most MAX_TEMPLATE_BYTES (following links):
 * a FIFO would block the boot, /dev/zero would fill the memory.
 */
export function readTemplateFile(filePath: string, file: string, fail: (message: string) => never): string {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(filePath);
    } catch (err) {
        return fail(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    if (!stat.isFile())
        return fail(`${file}: is not a regular file`);
    if (stat.size > MAX_TEMPLATE_BYTES)
        return fail(`${file}: is ${stat.size} bytes; a template is at most ${MAX_TEMPLATE_BYTES}`);
    // O_NONBLOCK: had it become a FIFO since the stat, opening it would not wait for a writer.
    const fd = fs.openSync(filePath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
        const buffer = Buffer.alloc(MAX_TEMPLATE_BYTES + 1);
        const length = fs.readSync(fd, buffer, 0, buffer.length, 0);
        if (length > MAX_TEMPLATE_BYTES)
            return fail(`${file}: is larger than ${MAX_TEMPLATE_BYTES} bytes; a template is smaller`);
        return buffer.subarray(0, length).toString("utf8");
    } finally {
        fs.closeSync(fd);
    }
}

export function isJobType(value: string): value is JobType {
    return (JOB_TYPES as readonly string[]).includes(value);
}

/** The user message: the template with the client's prompt in place of every `{prompt}`. */
export function renderUserPrompt(template: EnhanceTemplate, prompt: string): string {
    // split/join rather than replace: "$&" in the client's prompt stays literal, and a "{prompt}"
    // typed by the client is not substituted again.
    return template.userTemplate.split(PROMPT_PLACEHOLDER).join(prompt);
}

/** Parses and checks one template file; throws a message that names the key at fault. */
function parseTemplate(jobType: JobType, text: string, source: TemplateSource, file: string): EnhanceTemplate {
    let data: unknown;
    try {
        data = JSON.parse(text);
    } catch (err) {
        // The parser's message quotes the file; the file may not be a template at all (a link to
        // /etc/passwd), so only the position is reported.
        const position = /position (\d+)/.exec((err as Error).message)?.[1];
        throw new Error(`is not valid JSON${position != null ? ` (at character ${position})` : ""}`);
    }
    if (typeof data !== "object" || data == null || Array.isArray(data))
        throw new Error("must be a JSON object");
    const record = data as Record<string, unknown>;
    for (const key of Object.keys(record))
        if (!KNOWN_KEYS.has(key))
            throw new Error(`unknown key "${key}"; allowed: ${[...KNOWN_KEYS].join(", ")}`);

    const systemPrompt = textValue(record, "system_prompt");
    const userTemplate = textValue(record, "user_template");
    if (!userTemplate.includes(PROMPT_PLACEHOLDER))
        throw new Error(`user_template must contain ${PROMPT_PLACEHOLDER}, where the client's prompt goes`);
    checkPlaceholders("user_template", userTemplate, [PROMPT_PLACEHOLDER]);
    checkPlaceholders("system_prompt", systemPrompt, []);

    const budget = record.token_budget;
    if (typeof budget !== "number" || !Number.isInteger(budget) || budget < MIN_TOKEN_BUDGET || budget > MAX_TOKEN_BUDGET)
        throw new Error(`token_budget must be an integer from ${MIN_TOKEN_BUDGET} to ${MAX_TOKEN_BUDGET}, got ${JSON.stringify(budget ?? null)}`);
    const description = record.description;
    if (description != null && typeof description !== "string")
        throw new Error("description must be a string");

    return {
        jobType, ...JOB_TYPE_TRAITS[jobType], description: description ?? null,
        systemPrompt, userTemplate, tokenBudget: budget, source, file
    };
}

/** A string, or an array of lines (easier to write in JSON), joined with newlines; never empty. */
function textValue(record: Record<string, unknown>, key: string): string {
    const value = record[key];
    let result: string;
    if (typeof value === "string")
        result = value;
    else if (Array.isArray(value) && value.every((line) => typeof line === "string"))
        result = value.join("\n");
    else
        throw new Error(`${key} must be a string or an array of strings`);
    if (result.trim() === "")
        throw new Error(`${key} must not be empty`);
    return result;
}

/** `{name}` that is not an allowed placeholder is almost surely a typo ("{promt}"): refuse it. */
function checkPlaceholders(key: string, text: string, allowed: string[]): void {
    for (const match of text.matchAll(/\{[A-Za-z_][A-Za-z0-9_]*\}/g))
        if (!allowed.includes(match[0]))
            throw new Error(`${key} has an unknown placeholder ${match[0]}` +
                (allowed.length > 0 ? `; the only one is ${allowed.join(", ")}` : "; placeholders are substituted only in user_template"));
}
