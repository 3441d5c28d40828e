import {dfaFromRegex, intersect, type Dfa} from "./automaton.js";
import {dfaRules, literal} from "./gbnf.js";
import {ANY_CHAR, parsePattern, type RegexNode} from "./regexParser.js";
import {refuse} from "./schemaRefusal.js";
import {STRING_FORMATS} from "./stringFormats.js";
import type {Schema} from "./schemaMerge.js";

/** Longest string a plain length bound writes (llama.cpp expands `x{0,n}` into n rules). Longer maxLengths are lowered to it. */
export const MAX_STRING_LENGTH = 1000;
/** The same for strings with a pattern or format, whose automaton is multiplied by the length. */
export const MAX_PATTERN_LENGTH = 256;

/** One character of a JSON string: anything but a quote, a backslash or a control character, or an escape (no lone surrogates). */
export const JSON_CHAR_RULE = "json-char ::= [^\"\\\\\\x00-\\x1f] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))";

const formatDfas = new Map<string, Dfa>();

function formatDfa(format: string, path: string): Dfa {
    let dfa = formatDfas.get(format);
    if (dfa == null) {
        dfa = dfaFromRegex(parsePattern(STRING_FORMATS[format], path).node, path);
        formatDfas.set(format, dfa);
    }
    return dfa;
}

/** `x{m,n}` in GBNF (`n` Infinity: unbounded). */
export function repeat(item: string, min: number, max: number): string {
    if (max === 0) return "";
    if (min === 0 && max === Infinity) return `${item}*`;
    if (min === 1 && max === Infinity) return `${item}+`;
    if (min === 0 && max === 1) return `${item}?`;
    if (min === max) return min === 1 ? item : `${item}{${min}}`;
    return `${item}{${min},${max === Infinity ? "" : max}}`;
}

function length(schema: Schema, key: "minLength" | "maxLength", path: string): number | null {
    const value = schema[key];
    if (value == null) return null;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) refuse(`${path}.${key}`, "must be a non-negative integer");
    return value;
}

/** The pattern as an automaton; a pattern not anchored at an end may have anything around it. */
export function patternDfa(pattern: unknown, path: string): Dfa {
    if (typeof pattern !== "string") refuse(path, "must be a string");
    const parsed = parsePattern(pattern, path);
    const anything: RegexNode = {kind: "repeat", item: {kind: "chars", ranges: ANY_CHAR}, min: 0, max: Infinity};
    const items = [...(parsed.start ? [] : [anything]), parsed.node, ...(parsed.end ? [] : [anything])];
    return dfaFromRegex({kind: "seq", items}, path);
}

/**
 * A GBNF expression for the strings `schema` allows (quotes included): a plain length bound as a
 * repetition, a format and a pattern as the intersection of their automata (with the length
 * bound), written as rules named after `name` through `addRules`. `exclude`: names the string may
 * not be (an object's declared properties, for its other keys).
 */
export function stringExpression(schema: Schema, path: string, name: string, addRules: (rules: string[]) => void, exclude: string[] = []): string {
    const min = length(schema, "minLength", path) ?? 0;
    let max = length(schema, "maxLength", path) ?? Infinity;
    if (max < min) refuse(path, "maxLength is below minLength");
    const parts: Dfa[] = [];
    const negate: boolean[] = [];
    if (schema.format != null) {
        if (typeof schema.format !== "string" || !(schema.format in STRING_FORMATS))
            refuse(`${path}.format`, `only the formats ${Object.keys(STRING_FORMATS).join(", ")} are supported`);
        parts.push(formatDfa(schema.format, `${path}.format`));
        negate.push(false);
    }
    if (schema.pattern != null) {
        parts.push(patternDfa(schema.pattern, `${path}.pattern`));
        negate.push(false);
    }
    if (exclude.length > 0) {
        const names = exclude.map((text): RegexNode => ({kind: "seq", items: [...text].map((char) =>
            ({kind: "chars", ranges: [[char.codePointAt(0) as number, char.codePointAt(0) as number]]}) as RegexNode)}));
        parts.push(dfaFromRegex({kind: "alt", options: names}, path));
        negate.push(true);
    }
    if (parts.length === 0) {
        if (min > MAX_STRING_LENGTH) refuse(`${path}.minLength`, `strings longer than ${MAX_STRING_LENGTH} characters are not supported`);
        return `"\\"" ${repeat("json-char", min, max === Infinity ? Infinity : Math.min(max, MAX_STRING_LENGTH))} "\\""`;
    }
    if (min > MAX_PATTERN_LENGTH) refuse(`${path}.minLength`, `with a pattern or format, strings longer than ${MAX_PATTERN_LENGTH} characters are not supported`);
    // Lowering the maximum only leaves out strings; what is written still validates.
    if (max !== Infinity && max > MAX_PATTERN_LENGTH) max = MAX_PATTERN_LENGTH;
    const dfa = intersect(parts, path, {negate, minLength: min, maxLength: max});
    addRules(dfaRules(dfa, name));
    return `"\\"" ${dfa.edges[0].length === 0 ? "" : `${name}-S0 `}"\\""`;
}

/** A JSON string literal for `text`, as GBNF. */
export function jsonLiteral(value: unknown): string {
    return literal(JSON.stringify(value));
}
