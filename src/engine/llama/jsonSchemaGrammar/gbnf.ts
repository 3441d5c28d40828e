import {subtract, type Ranges} from "./regexParser.js";
import type {Dfa} from "./automaton.js";

/** GBNF text for a code point inside a literal or a class: letters and digits as they are, the rest as hex escapes. */
function codePoint(code: number): string {
    if (/[a-zA-Z0-9 ]/.test(String.fromCodePoint(code))) return String.fromCodePoint(code);
    if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
    if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
    return `\\U${code.toString(16).padStart(8, "0")}`;
}

/** A GBNF literal that matches exactly `text`. */
export function literal(text: string): string {
    return `"${[...text].map((char) => codePoint(char.codePointAt(0) as number)).join("")}"`;
}

/** A GBNF character class matching the code points in `ranges`. */
export function charClass(ranges: Ranges): string {
    return `[${ranges.map(([from, to]) => from === to ? codePoint(from) : `${codePoint(from)}-${codePoint(to)}`).join("")}]`;
}

/** The rule (in the compiler's shared rules) for an escaped control character: \b \f \n \r \t or \u0000..\u001f. */
export const CONTROL_RULE_NAME = "json-control";
export const CONTROL_RULE = `${CONTROL_RULE_NAME} ::= "\\\\" ([bfnrt] | "u00" [01] [0-9a-fA-F])`;

/** Characters a JSON string cannot carry as they are. */
const ESCAPED: Ranges = [[0, 0x1f], [0x22, 0x22], [0x5c, 0x5c]];
const SHORT_ESCAPES: Record<number, string> = {0x22: "\\\"", 0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0c: "\\f"};

/**
 * Alternatives that write one of the characters in `ranges` inside a JSON string: the plain ones
 * as a class, quotes, backslashes and control characters in their escaped form.
 */
export function jsonCharAlternatives(ranges: Ranges): string[] {
    const out: string[] = [];
    const plain = subtract(ranges, ESCAPED);
    if (plain.length > 0) out.push(charClass(plain));
    // All control characters (a negated class, `.`): one shared rule instead of 32 escapes.
    const allControls = ranges.some(([from, to]) => from === 0 && to >= 0x1f);
    if (allControls) out.push(CONTROL_RULE_NAME);
    for (const [from, to] of ranges)
        for (let code = from; code <= Math.min(to, 0x5c); code++)
            if ((code < 0x20 && !allControls) || code === 0x22 || code === 0x5c)
                out.push(literal(SHORT_ESCAPES[code] ?? `\\u${code.toString(16).padStart(4, "0")}`));
    return out;
}

/**
 * Rules `name-N` for the states of `dfa`, writing JSON-string content (without the quotes); the
 * start rule is `name-0`. Each state's alternatives start with different characters, so a text has
 * one parse.
 */
export function dfaRules(dfa: Dfa, name: string): string[] {
    return dfa.edges.map((edges, state) => {
        const alternatives = edges.map((edge) => {
            const chars = jsonCharAlternatives(edge.ranges);
            const target = dfa.edges[edge.to].length === 0 ? "" : ` ${name}-S${edge.to}`;
            return `${chars.length === 1 ? chars[0] : `(${chars.join(" | ")})`}${target}`;
        });
        // An empty alternative is written as "": a line may not end in "|" (the next line would continue it).
        if (dfa.accepting[state] && edges.length > 0) alternatives.push("\"\"");
        return `${name}-S${state} ::= ${alternatives.length === 0 ? "\"\"" : alternatives.join(" | ")}`;
    });
}
