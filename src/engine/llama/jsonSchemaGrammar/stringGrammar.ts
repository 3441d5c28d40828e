import {dfaFromRegex, intersect, lengthRange, type Dfa} from "./automaton.js";
import {SchemaRefusal} from "./schemaRefusal.js";
import {dfaRules, literal} from "./gbnf.js";
import {ANY_CHAR, parsePattern, type ParsedPattern, type RegexNode} from "./regexParser.js";
import {refuse} from "./schemaRefusal.js";
import {PATTERN_FORMATS, STRING_FORMATS} from "./stringFormats.js";
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

/** Whether `node` matches the empty string. */
function nullable(node: RegexNode): boolean {
    switch (node.kind) {
        case "chars": return false;
        case "seq": return node.items.every(nullable);
        case "alt": return node.options.some(nullable);
        case "repeat": return node.min === 0 || nullable(node.item);
    }
}

/** What a string must satisfy for a pattern: automata it must match (negate: must not), and length bounds. */
interface PatternParts {
    parts: Array<{dfa: Dfa; negate: boolean}>;
    minLength: number;
    maxLength: number;
}

/**
 * The pattern as automata; a pattern not anchored at an end may have anything around it. A leading
 * lookahead becomes one more automaton (the string begins with a match of it, or, negative, does
 * not). A positive one of the shape `(?=C{m,n}T$)`, T able to match nothing (zod's hostname:
 * `(?=.{1,253}\.?$)`), is narrowed to "m to n characters of C": every such string satisfies it,
 * and a length bound costs far less than an automaton that counts to n.
 */
export function patternParts(pattern: unknown, path: string): PatternParts {
    if (typeof pattern !== "string") refuse(path, "must be a string");
    const out: PatternParts = {parts: [], minLength: 0, maxLength: Infinity};
    const add = (parsed: ParsedPattern, negate: boolean): void => {
        const anything: RegexNode = {kind: "repeat", item: {kind: "chars", ranges: ANY_CHAR}, min: 0, max: Infinity};
        const items = [...(parsed.start ? [] : [anything]), parsed.node, ...(parsed.end ? [] : [anything])];
        out.parts.push({dfa: dfaFromRegex({kind: "seq", items}, path), negate});
        for (const {pattern: inner, negative} of parsed.lookaheads) {
            if ((negate || negative) && inner.lookaheads.length > 0) refuse(path, "a lookahead inside a negative lookahead is not supported");
            const [head, ...tail] = inner.node.kind === "seq" ? inner.node.items : [inner.node];
            if (!negative && inner.end && inner.lookaheads.length === 0 && head?.kind === "repeat" && head.item.kind === "chars" && tail.every(nullable)) {
                out.minLength = Math.max(out.minLength, head.min);
                out.maxLength = Math.min(out.maxLength, head.max);
                out.parts.push({dfa: {edges: [[{ranges: head.item.ranges, to: 0}]], accepting: [true]}, negate: false});
            } else add(inner, negative);
        }
    };
    add(parsePattern(pattern, path), false);
    return out;
}

/**
 * A GBNF expression for the strings `schema` allows (quotes included): a plain length bound as a
 * repetition, a format and a pattern as the intersection of their automata (with the length
 * bound), written as rules named after `name` through `addRules`. `exclude`: names the string may
 * not be (an object's declared properties, for its other keys).
 */
/** Patterns an object's other key must match (`require`) and must not match (`exclude`): its patternProperties. */
export interface KeyPatterns {
    require: string[];
    exclude: string[];
}

export function stringExpression(schema: Schema, path: string, name: string, addRules: (rules: string[]) => void,
    exclude: string[] = [], keyPatterns: KeyPatterns = {require: [], exclude: []}): string {
    const parts: Dfa[] = [];
    const negate: boolean[] = [];
    let min = length(schema, "minLength", path) ?? 0;
    let max = length(schema, "maxLength", path) ?? Infinity;
    if (max < min) refuse(path, "maxLength is below minLength");
    const patternFormat = typeof schema.format === "string" && PATTERN_FORMATS.includes(schema.format) && typeof schema.pattern === "string";
    if (schema.format != null && !patternFormat) {
        if (typeof schema.format !== "string" || !(schema.format in STRING_FORMATS))
            refuse(`${path}.format`, `only the formats ${Object.keys(STRING_FORMATS).join(", ")} are supported ` +
                `(and zod's ${PATTERN_FORMATS.join(", ")} together with the pattern that defines them)`);
        parts.push(formatDfa(schema.format, `${path}.format`));
        negate.push(false);
    }
    if (schema.pattern != null) {
        const pattern = patternParts(schema.pattern, `${path}.pattern`);
        for (const part of pattern.parts) {
            parts.push(part.dfa);
            negate.push(part.negate);
        }
        [min, max] = [Math.max(min, pattern.minLength), Math.min(max, pattern.maxLength)];
        if (max < min) refuse(`${path}.pattern`, "no string satisfies its length and the pattern's together");
    }
    for (const pattern of keyPatterns.require) {
        const required = patternParts(pattern, path.replace(/\.propertyNames$/, ".patternProperties"));
        parts.push(...required.parts.map((part) => part.dfa));
        negate.push(...required.parts.map((part) => part.negate));
        [min, max] = [Math.max(min, required.minLength), Math.min(max, required.maxLength)];
    }
    for (const pattern of keyPatterns.exclude) {
        const excluded = patternParts(pattern, path.replace(/\.propertyNames$/, ".patternProperties"));
        // Not matching a pattern with lookaheads is not matching one of several automata: not one automaton to negate.
        if (excluded.parts.length > 1 || excluded.minLength > 0 || excluded.maxLength !== Infinity)
            refuse(path.replace(/\.propertyNames$/, ".patternProperties"), "a pattern with lookaheads next to other patterns is not supported");
        parts.push(excluded.parts[0].dfa);
        negate.push(!excluded.parts[0].negate);
    }
    if (max < min) refuse(path, "no key satisfies its length and the patterns' together");
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
    const dfa = withinLengths(parts, path, negate, min, max);
    addRules(dfaRules(dfa, name));
    return `"\\"" ${dfa.edges[0].length === 0 ? "" : `${name}-S0 `}"\\""`;
}

/**
 * The intersection of `parts` with strings of min to max characters. Counting characters multiplies
 * the automaton's states by the count, so when the other constraints already keep every string within
 * the lengths (a format, a fixed-width pattern), the intersection is taken without counting.
 */
function withinLengths(parts: Dfa[], path: string, negate: boolean[], min: number, max: number): Dfa {
    if (min > 0 || max !== Infinity) {
        try {
            const free = intersect(parts, path, {negate});
            const [shortest, longest] = lengthRange(free);
            if (shortest >= min && longest <= max) return free;
        } catch (err) {
            if (!(err instanceof SchemaRefusal)) throw err;
        }
    }
    return intersect(parts, path, {negate, minLength: min, maxLength: max});
}

/** A JSON string literal for `text`, as GBNF. */
export function jsonLiteral(value: unknown): string {
    return literal(JSON.stringify(value));
}
