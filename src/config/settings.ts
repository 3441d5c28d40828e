/**
 * Parsers for environment settings. Each parser either returns a typed value or throws a
 * message fragment; `loadConfig` prefixes it with the variable's name so a bad value refuses to
 * boot with a message that says which variable to fix.
 */

export type Parser<T> = (raw: string) => T;

export function integer(options: {min?: number; max?: number} = {}): Parser<number> {
    return (raw) => {
        if (!/^-?\d+$/.test(raw.trim()))
            throw new Error(`expected an integer, got ${JSON.stringify(raw)}`);
        const value = Number(raw.trim());
        if (!Number.isSafeInteger(value))
            throw new Error(`integer out of range: ${raw}`);
        if (options.min != null && value < options.min)
            throw new Error(`must be >= ${options.min}, got ${value}`);
        if (options.max != null && value > options.max)
            throw new Error(`must be <= ${options.max}, got ${value}`);
        return value;
    };
}

export function decimal(options: {min?: number; max?: number} = {}): Parser<number> {
    return (raw) => {
        const trimmed = raw.trim();
        const value = Number(trimmed);
        if (trimmed === "" || !Number.isFinite(value))
            throw new Error(`expected a number, got ${JSON.stringify(raw)}`);
        if (options.min != null && value < options.min)
            throw new Error(`must be >= ${options.min}, got ${value}`);
        if (options.max != null && value > options.max)
            throw new Error(`must be <= ${options.max}, got ${value}`);
        return value;
    };
}

export function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
    return (raw) => {
        const value = raw.trim() as T;
        if (!values.includes(value))
            throw new Error(`expected one of ${values.join(", ")}, got ${JSON.stringify(raw)}`);
        return value;
    };
}

export const boolean: Parser<boolean> = (raw) => {
    const value = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["0", "false", "no", "off"].includes(value)) return false;
    throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
};

export const text: Parser<string> = (raw) => {
    if (raw.trim() === "")
        throw new Error("must not be empty");
    return raw;
};

export function url(raw: string): string {
    let parsed: URL;
    try {
        parsed = new URL(raw);
    } catch {
        throw new Error(`expected an absolute http(s) URL, got ${JSON.stringify(raw)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
        throw new Error(`expected an http(s) URL, got ${JSON.stringify(raw)}`);
    return raw.replace(/\/+$/, "");
}

export function list(raw: string): string[] {
    return raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

/** Secrets, comma-separated: at least one, none empty (a blank key would be a typo that opens or locks everything). */
export function secretList(raw: string): string[] {
    const items = raw.split(",").map((item) => item.trim());
    if (items.some((item) => item === ""))
        throw new Error("expected one or more comma-separated keys, none empty");
    return items;
}

/** What a served model answers: chat and completions, or embeddings (`/v1/embeddings`) only. */
export type ModelKind = "chat" | "embedding";

/** A model served under a name (MODELS). */
export interface NamedModel {
    name: string;
    path: string;
    kind: ModelKind;
    /**
     * An embedding model trained for truncated vectors (Matryoshka representation learning):
     * `dimensions` below its native size is honoured by truncating and renormalising.
     */
    matryoshka: boolean;
}

/**
 * A MODELS entry's options, after its path: `?kind=embedding[&matryoshka=true]`. Recognised only
 * when the query starts with `kind=`, so a URL's own query string stays part of the URL.
 */
const ENTRY_OPTIONS = /\?(kind=[^?]*)$/;

function entryOptions(name: string, value: string): Omit<NamedModel, "name"> {
    const match = ENTRY_OPTIONS.exec(value);
    if (match == null) return {path: value, kind: "chat", matryoshka: false};
    const options = new Map<string, string>();
    for (const pair of match[1].split("&")) {
        const [key, option] = pair.split("=", 2);
        if (key !== "kind" && key !== "matryoshka")
            throw new Error(`model ${JSON.stringify(name)}: unknown option ${JSON.stringify(key)} (expected kind, matryoshka)`);
        options.set(key, option ?? "");
    }
    const kind = options.get("kind");
    if (kind !== "chat" && kind !== "embedding")
        throw new Error(`model ${JSON.stringify(name)}: kind must be chat or embedding, got ${JSON.stringify(kind)}`);
    const matryoshka = options.get("matryoshka") ?? "false";
    if (matryoshka !== "true" && matryoshka !== "false")
        throw new Error(`model ${JSON.stringify(name)}: matryoshka must be true or false, got ${JSON.stringify(matryoshka)}`);
    if (matryoshka === "true" && kind !== "embedding")
        throw new Error(`model ${JSON.stringify(name)}: matryoshka is for kind=embedding`);
    return {path: value.slice(0, match.index).trim(), kind, matryoshka: matryoshka === "true"};
}

/** Names requests route by: letters, digits and `._:-`, as in `qwen_instruct` or `qwen2.5:7b`. */
const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** `name=path,name=path`: each name once, each with a path. */
export function namedModels(raw: string): NamedModel[] {
    const models = list(raw).map((item): NamedModel => {
        const equals = item.indexOf("=");
        if (equals === -1)
            throw new Error(`expected name=path pairs separated by commas, got ${JSON.stringify(item)}`);
        const name = item.slice(0, equals).trim();
        const {path, kind, matryoshka} = entryOptions(name, item.slice(equals + 1).trim());
        if (!MODEL_NAME_PATTERN.test(name))
            throw new Error(`a model name is letters, digits and ._:- (at most 64), got ${JSON.stringify(name)}`);
        if (path === "")
            throw new Error(`model ${JSON.stringify(name)} has no path`);
        // `?which=all` means every model, so a model named "all" could never be picked alone.
        if (name === "all")
            throw new Error("\"all\" is reserved (?which=all means every model); give the model another name");
        return {name, path, kind, matryoshka};
    });
    if (models.length === 0)
        throw new Error("expected at least one name=path pair");
    const names = models.map((model) => model.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated != null)
        throw new Error(`model ${JSON.stringify(repeated)} is named twice`);
    return models;
}
