import {refuse} from "./schemaRefusal.js";

/** A set of code points as sorted, disjoint, inclusive [from, to] ranges. */
export type Ranges = Array<[number, number]>;

/** A regular expression, reduced to what a finite automaton needs. */
export type RegexNode =
    | {kind: "chars"; ranges: Ranges}
    | {kind: "seq"; items: RegexNode[]}
    | {kind: "alt"; options: RegexNode[]}
    | {kind: "repeat"; item: RegexNode; min: number; max: number};

export const MAX_CODE_POINT = 0x10ffff;
/** Every character a JSON string may carry (lone surrogates excluded: validators count them oddly). */
export const ANY_CHAR: Ranges = [[0, 0xd7ff], [0xe000, MAX_CODE_POINT]];
const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
/** ECMAScript's \s: white space and line terminators. */
const SPACE: Ranges = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a],
    [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]];
/** ECMAScript's `.`: anything but a line terminator. */
const DOT = subtract(ANY_CHAR, [[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]);
/** Bounded repetitions are expanded into copies; past this the pattern is refused. */
const MAX_COUNT = 1000;

/** Sorted, merged copy of `ranges`. */
export function normalizeRanges(ranges: Ranges): Ranges {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const out: Ranges = [];
    for (const [from, to] of sorted) {
        const last = out[out.length - 1];
        if (last != null && from <= last[1] + 1) last[1] = Math.max(last[1], to);
        else out.push([from, to]);
    }
    return out;
}

/** The code points of ANY_CHAR that are not in `ranges`. */
export function subtract(from: Ranges, ranges: Ranges): Ranges {
    const out: Ranges = [];
    const cut = normalizeRanges(ranges);
    for (const [lo, hi] of from) {
        let start = lo;
        for (const [a, b] of cut) {
            if (b < start || a > hi) continue;
            if (a > start) out.push([start, a - 1]);
            start = Math.max(start, b + 1);
        }
        if (start <= hi) out.push([start, hi]);
    }
    return out;
}

/** A pattern: its expression, and whether it is anchored at the start and at the end (JSON Schema patterns search). */
export interface ParsedPattern {
    node: RegexNode;
    start: boolean;
    end: boolean;
    /** Lookaheads right after a leading `^`: the string must (or, negative, must not) begin with a match of each. */
    lookaheads: Array<{pattern: ParsedPattern; negative: boolean}>;
}

/** The branches of a top-level alternation (one, when there is none), skipping escapes, classes and groups. */
function splitTopLevel(source: string): string[] {
    const out: string[] = [];
    let from = 0;
    for (let at = 0; at < source.length; at++) {
        const c = source[at];
        if (c === "\\") at++;
        else if (c === "[") {
            for (at++; at < source.length && source[at] !== "]"; at++) if (source[at] === "\\") at++;
        } else if (c === "(") {
            const close = groupEnd(source, at);
            if (close < 0) break;
            at = close;
        } else if (c === "|") {
            out.push(source.slice(from, at));
            from = at + 1;
        }
    }
    return [...out, source.slice(from)];
}

/** The index of the `)` that closes the group opened at `open`, skipping escapes and classes; -1 when unclosed. */
function groupEnd(source: string, open: number): number {
    let depth = 0;
    for (let at = open; at < source.length; at++) {
        const c = source[at];
        if (c === "\\") at++;
        else if (c === "[") {
            for (at++; at < source.length && source[at] !== "]"; at++) if (source[at] === "\\") at++;
        } else if (c === "(") depth++;
        else if (c === ")" && --depth === 0) return at;
    }
    return -1;
}

/**
 * Parses the regular-expression subset schema generators emit (zod, Pydantic, OpenAI strict mode):
 * `^` and `$` at the ends, literals, `.`, classes with ranges and negation, the escapes \d \w \s
 * (and their negations), \t \n \r \f \v \0 \xHH \uHHHH and escaped punctuation, groups (capturing,
 * `(?:`, named), alternation and the quantifiers ? * + {m} {m,} {m,n} (lazy forms match the same
 * strings). Lookaheads right after a leading `^` (zod's hostname starts with one) are read as
 * patterns the string must, or must not, begin with; the caller intersects them. Other lookaround,
 * backreferences and word boundaries depend on more than the characters matched so far; they are
 * refused.
 */
export function parsePattern(source: string, path: string, anchored = false): ParsedPattern {
    // `^a$|^b$` (zod's base64: `^$|^(?:...)$`) means `^(?:a|b)$`.
    const branches = splitTopLevel(source);
    if (branches.length > 1 && branches.every((branch) => branch.startsWith("^") && /(^|[^\\])\$$/.test(branch)))
        source = `^(?:${branches.map((branch) => branch.slice(1, -1)).join("|")})$`;
    let at = 0;
    const fail = (what: string): never => refuse(path, `${what} at character ${at} of the pattern is not supported by the grammar`);
    let start = false;
    let end = false;
    const lookaheads: ParsedPattern["lookaheads"] = [];
    if (source[0] === "^" || anchored) {
        start = true;
        at = source[0] === "^" ? 1 : 0;
        while (source.startsWith("(?=", at) || source.startsWith("(?!", at)) {
            const close = groupEnd(source, at);
            if (close < 0) fail("an unclosed group");
            // A lookahead at the start is anchored there.
            const inner = parsePattern(source.slice(at + 3, close), path, true);
            lookaheads.push({pattern: inner, negative: source[at + 2] === "!"});
            at = close + 1;
        }
    }
    let topLevelBranches = false;
    const alternation = (): RegexNode => {
        const options = [sequence()];
        while (source[at] === "|") {
            at++;
            options.push(sequence());
        }
        if (depth === 0 && options.length > 1) topLevelBranches = true;
        return options.length === 1 ? options[0] : {kind: "alt", options};
    };
    const sequence = (): RegexNode => {
        const items: RegexNode[] = [];
        while (at < source.length && source[at] !== "|" && source[at] !== ")") {
            if (source[at] === "$") {
                if (at === source.length - 1 && depth === 0) {
                    end = true;
                    at++;
                    break;
                }
                fail("an anchor ($) inside the pattern");
            }
            if (source[at] === "^") fail("an anchor (^) inside the pattern");
            let atom = single();
            atom = quantified(atom);
            items.push(atom);
        }
        return items.length === 1 ? items[0] : {kind: "seq", items};
    };
    let depth = 0;
    const single = (): RegexNode => {
        const c = source[at];
        if (c === "(") {
            at++;
            if (source[at] === "?") {
                if (source[at + 1] === ":") at += 2;
                else if (source[at + 1] === "<" && /[a-zA-Z_]/.test(source[at + 2] ?? "")) at = source.indexOf(">", at) + 1;
                else fail("a lookaround group");
            }
            depth++;
            const inner = alternation();
            depth--;
            if (source[at] !== ")") fail("an unclosed group");
            at++;
            return inner;
        }
        if (c === "[") return charClass();
        if (c === ".") {
            at++;
            return {kind: "chars", ranges: DOT};
        }
        if (c === "\\") return {kind: "chars", ranges: escape(false)};
        if (c === "*" || c === "+" || c === "?" || c === "{" && /^\{\d/.test(source.slice(at))) fail("a quantifier without anything before it");
        const code = source.codePointAt(at) as number;
        at += code > 0xffff ? 2 : 1;
        return {kind: "chars", ranges: [[code, code]]};
    };
    const quantified = (atom: RegexNode): RegexNode => {
        for (;;) {
            const c = source[at];
            let min: number;
            let max: number;
            if (c === "*") [min, max] = [0, Infinity];
            else if (c === "+") [min, max] = [1, Infinity];
            else if (c === "?") [min, max] = [0, 1];
            else if (c === "{") {
                const match = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(at));
                if (match == null) return atom;
                min = Number(match[1]);
                max = match[2] == null ? min : match[3] === "" ? Infinity : Number(match[3]);
                if (max < min) fail("a quantifier whose maximum is below its minimum");
                if (min > MAX_COUNT || (max !== Infinity && max > MAX_COUNT)) fail(`a count above ${MAX_COUNT}`);
                at += match[0].length - 1;
            } else return atom;
            at++;
            if (source[at] === "?") at++;
            atom = {kind: "repeat", item: atom, min, max};
        }
    };
    const charClass = (): RegexNode => {
        at++;
        const negated = source[at] === "^";
        if (negated) at++;
        const ranges: Ranges = [];
        let first = true;
        while (source[at] !== "]" || first) {
            first = false;
            if (at >= source.length) fail("an unclosed character class");
            const lo = classAtom();
            if (source[at] === "-" && source[at + 1] !== "]" && at + 1 < source.length) {
                at++;
                const hi = classAtom();
                if (lo.length !== 1 || hi.length !== 1 || lo[0][0] !== lo[0][1] || hi[0][0] !== hi[0][1] || hi[0][0] < lo[0][0])
                    fail("a malformed range in a character class");
                ranges.push([lo[0][0], hi[0][0]]);
            } else ranges.push(...lo);
        }
        at++;
        return {kind: "chars", ranges: negated ? subtract(ANY_CHAR, ranges) : normalizeRanges(ranges)};
    };
    const classAtom = (): Ranges => {
        if (source[at] === "\\") return escape(true);
        const code = source.codePointAt(at) as number;
        at += code > 0xffff ? 2 : 1;
        return [[code, code]];
    };
    const escape = (inClass: boolean): Ranges => {
        const c = source[at + 1];
        at += 2;
        const one = (code: number): Ranges => [[code, code]];
        switch (c) {
            case "d": return DIGIT;
            case "D": return subtract(ANY_CHAR, DIGIT);
            case "w": return WORD;
            case "W": return subtract(ANY_CHAR, WORD);
            case "s": return SPACE;
            case "S": return subtract(ANY_CHAR, SPACE);
            case "t": return one(9);
            case "n": return one(10);
            case "v": return one(11);
            case "f": return one(12);
            case "r": return one(13);
            case "0": return one(0);
            case "b": return inClass ? one(8) : fail("a word boundary (\\b)");
            case "x": case "u": {
                const hex = c === "x" ? /^[0-9a-fA-F]{2}/.exec(source.slice(at)) : /^[0-9a-fA-F]{4}/.exec(source.slice(at));
                if (hex == null) fail("a malformed escape");
                at += (hex as RegExpExecArray)[0].length;
                return one(parseInt((hex as RegExpExecArray)[0], 16));
            }
            case undefined: return fail("a trailing backslash");
            default:
                if (/[a-zA-Z0-9]/.test(c)) fail(`the escape \\${c}`);
                return one(c.codePointAt(0) as number);
        }
    };
    const node = alternation();
    if (topLevelBranches && (start || end)) refuse(path, "anchors on the branches of a top-level alternation are not supported; group the alternation: ^(a|b)$");
    if (at < source.length) fail(source[at] === ")" ? "an unmatched )" : "an unexpected character");
    return {node, start, end, lookaheads};
}
