/**
 * A bound on how much work a GBNF grammar can make llama.cpp do per token, decided in the HTTP
 * process before the grammar reaches the runner.
 *
 * llama.cpp matches a grammar by keeping every parse that is still possible as a "stack" of rule
 * positions, and it walks all of them for each candidate token. An ambiguous grammar multiplies
 * them: `aK ::= aK+1 aK+1 | "q"` for K = 0..11 over `a12 ::= [a-z]*` (500 bytes) lets every letter
 * start in any of 4,096 nullable positions, and the runner spun in native code for good. Counting
 * rules or bytes cannot tell that apart from a harmless 2,000-word alternation, so this module
 * runs llama.cpp's own stack expansion (llama_grammar_advance_stack) on the parsed grammar, for
 * every character at once (each terminal is taken to match: the union of what any text could
 * reach), for a few characters, and refuses the grammar when the stacks outgrow the limit.
 *
 * Measured on the bench model (20 tokens, one sequence, 2 CPU cores; "work" is what grammarWork
 * counts): the doubling grammar took 0.3 s with 5 levels (work 5,373), 3.3 s with 6 (over 16,000)
 * and 16.4 s with 8; an alternation of 3,000 literals 0.3 s (work 3,000); a 3,000-value enum 0.7 s
 * and a 20,000-value one 16.7 s, growing faster than linearly. MAX_GRAMMAR_WORK = 8,192 admits the
 * first of each and refuses the slow ones; node-llama-cpp's bundled grammars need at most 4,546.
 */
import {WorkerError} from "../errors.js";

/** Most parse-stack expansions one character may need (see above for the measurements behind it). */
export const MAX_GRAMMAR_WORK = 8192;
/** Characters simulated: enough for every measured blow-up to show, cheap for the HTTP process. */
const SIMULATED_CHARACTERS = 8;
/** Most rules (named and the helpers repetitions and groups become). */
export const MAX_GRAMMAR_RULES = 4096;
/** `x{m,n}` is expanded by llama.cpp into n copies; a larger count is refused before it is. */
const MAX_REPETITION = 1024;
/** Most rule positions (characters of literals, classes, references) in the whole grammar. */
export const MAX_GRAMMAR_ELEMENTS = 100_000;

type Element = {kind: "char"} | {kind: "ref"; rule: number};
/** A rule: its alternatives, each a sequence of elements. */
type Rule = Element[][];

/** `invalid_grammar` for a grammar that does not parse (the code the runner gives too), else `grammar_too_complex`. */
class GrammarRefused extends Error {
    constructor(message: string, readonly code = "grammar_too_complex") {
        super(message);
    }
}

/**
 * Throws a 400 naming `param` when `grammar` is malformed or could take unbounded work per token.
 * `maxRules`: a compiled schema's grammar may have more rules than a hand-written one (each of 500
 * properties makes a few groups; measured harmless, 0.8 s), its work and elements bounded all the same.
 */
export function checkGrammarComplexity(grammar: string, param: string, maxRules = MAX_GRAMMAR_RULES): void {
    let rules: Rule[];
    try {
        rules = parseGbnf(grammar, maxRules);
        if (grammarWork(rules) > MAX_GRAMMAR_WORK)
            throw new GrammarRefused(`is too ambiguous: matching one character needs more than ${MAX_GRAMMAR_WORK} parse-stack ` +
                "expansions (MAX_GRAMMAR_WORK; nested rules that can each match nothing multiply them)");
    } catch (err) {
        if (!(err instanceof GrammarRefused)) throw err;
        throw new WorkerError("invalid_request", err.code, `${param}: ${err.message}`, {param});
    }
}

/**
 * The most stack expansions llama.cpp would make for one character of any text, over the first
 * SIMULATED_CHARACTERS; it stops counting a little past MAX_GRAMMAR_WORK, so the check itself is bounded.
 */
export function grammarWork(rules: Rule[]): number {
    // A stack: rule positions [rule, alternative, index] from the bottom; the top is the next element to match.
    const budget = {work: 0};
    let stacks = new Map<string, Stack>();
    advance(rules, rules[0].map((alt, index): Stack => alt.length > 0 ? [[0, index, 0]] : []), stacks, budget);
    let most = budget.work;
    for (let step = 0; step < SIMULATED_CHARACTERS && most <= MAX_GRAMMAR_WORK; step++) {
        const next = new Map<string, Stack>();
        budget.work = 0;
        // llama_grammar_accept: a stack whose top character matches moves past it (every one matches here)
        // and is expanded on its own, which is where ambiguous grammars multiply the work.
        for (const stack of stacks.values()) {
            if (stack.length === 0) continue;
            const [rule, alt, index] = stack[stack.length - 1];
            const moved = stack.slice(0, -1);
            if (index + 1 < rules[rule][alt].length) moved.push([rule, alt, index + 1]);
            advance(rules, [moved], next, budget);
            if (budget.work > MAX_GRAMMAR_WORK) break;
        }
        most = Math.max(most, budget.work);
        if (next.size === 0) break;
        stacks = next;
    }
    return most;
}

type Stack = number[][];

/**
 * llama_grammar_advance_stack: expands each stack's top rule reference into its alternatives until
 * every stack ends at a character (or is empty: the grammar may end there), adding each once to
 * `out`. Each expansion counts as work; past the limit it stops (a left-recursive grammar, which
 * llama.cpp refuses too, would otherwise expand forever).
 */
function advance(rules: Rule[], work: Stack[], out: Map<string, Stack>, budget: {work: number}): void {
    const seen = new Set<string>();
    while (work.length > 0 && budget.work <= MAX_GRAMMAR_WORK) {
        const stack = work.pop() as Stack;
        const key = stack.map((position) => position.join(",")).join(";");
        if (seen.has(key)) continue;
        seen.add(key);
        budget.work++;
        const top = stack[stack.length - 1];
        const element = top == null ? null : rules[top[0]][top[1]][top[2]];
        if (top == null || element?.kind === "char") {
            out.set(key, stack);
            continue;
        }
        const ref = element as {kind: "ref"; rule: number};
        const below = stack.slice(0, -1);
        if (top[2] + 1 < rules[top[0]][top[1]].length) below.push([top[0], top[1], top[2] + 1]);
        rules[ref.rule].forEach((alt, index) => work.push(alt.length > 0 ? [...below, [ref.rule, index, 0]] : below));
    }
}

/**
 * Parses GBNF as llama.cpp does (llama-grammar.cpp's parse_sequence): rules `name ::= ...`,
 * alternatives, literals, character classes, `.`, groups, `* + ?` and `{m}`, `{m,}`, `{m,n}`, `#`
 * comments, `<[id]>` and `<token>` tokens. Only the shape matters here: every terminal is one
 * element. Groups and repetitions become helper rules, as llama.cpp makes them.
 */
export function parseGbnf(source: string, maxRules = MAX_GRAMMAR_RULES): Rule[] {
    const names = new Map<string, number>();
    const rules: (Rule | undefined)[] = [];
    let elements = 0;
    const ruleId = (name: string): number => {
        let id = names.get(name);
        if (id == null) {
            id = rules.length;
            names.set(name, id);
            rules.push(undefined);
        }
        return id;
    };
    const helper = (rule: Rule): number => {
        rules.push(rule);
        if (rules.length > maxRules) throw new GrammarRefused(`has more than ${maxRules} rules${maxRules === MAX_GRAMMAR_RULES ? " (MAX_GRAMMAR_RULES)" : ""}`);
        return rules.length - 1;
    };
    ruleId("root");
    let at = 0;
    const fail = (what: string): never => {
        throw new GrammarRefused(`could not be parsed: ${what} at character ${at}`, "invalid_grammar");
    };
    const space = (newlines: boolean) => {
        for (;;) {
            const char = source[at];
            if (char === "#") while (at < source.length && source[at] !== "\n" && source[at] !== "\r") at++;
            else if (char === " " || char === "\t" || (newlines && (char === "\n" || char === "\r"))) at++;
            else return;
        }
    };
    const name = (): string => {
        const match = /^[a-zA-Z0-9_-]+/.exec(source.slice(at, at + 256));
        if (match == null) fail("expected a rule name");
        at += (match as RegExpExecArray)[0].length;
        return (match as RegExpExecArray)[0];
    };
    const char = (): void => {
        if (source[at] === "\\") {
            const escape = source[at + 1];
            const length = escape === "x" ? 4 : escape === "u" ? 6 : escape === "U" ? 10 : 2;
            if (at + length > source.length) fail("an unfinished escape");
            at += length;
        } else {
            const code = source.codePointAt(at);
            if (code == null) fail("an unfinished literal");
            at += (code as number) > 0xffff ? 2 : 1;
        }
    };
    const count = (n: number) => {
        elements += n;
        if (elements > MAX_GRAMMAR_ELEMENTS) throw new GrammarRefused(`is larger than ${MAX_GRAMMAR_ELEMENTS} elements (MAX_GRAMMAR_ELEMENTS)`);
    };
    const alternatives = (nested: boolean): Rule => {
        const rule: Rule = [sequence(nested)];
        while (source[at] === "|") {
            at++;
            space(true);
            rule.push(sequence(nested));
        }
        return rule;
    };
    const sequence = (nested: boolean): Element[] => {
        const seq: Element[] = [];
        let last: Element[] = [];
        for (;;) {
            const c = source[at];
            if (c === "\"") {
                at++;
                last = [];
                while (source[at] !== "\"") {
                    if (at >= source.length) fail("an unfinished literal");
                    char();
                    last.push({kind: "char"});
                }
                at++;
                count(last.length);
            } else if (c === "[") {
                at++;
                if (source[at] === "^") at++;
                while (source[at] !== "]") {
                    if (at >= source.length) fail("an unfinished character class");
                    char();
                    if (source[at] === "-" && source[at + 1] !== "]") {
                        at++;
                        char();
                    }
                }
                at++;
                last = [{kind: "char"}];
                count(1);
            } else if (c === "." || c === "<" || (c === "!" && source[at + 1] === "<")) {
                if (c !== ".") {
                    const end = source.indexOf(">", at);
                    if (end < 0) fail("an unfinished token");
                    at = end + 1;
                } else at++;
                last = [{kind: "char"}];
                count(1);
            } else if (c === "(") {
                at++;
                space(true);
                const group = alternatives(true);
                if (source[at] !== ")") fail("expected )");
                at++;
                last = [{kind: "ref", rule: helper(group)}];
            } else if (c === "*" || c === "+" || c === "?" || c === "{") {
                if (last.length === 0) fail(`${c} without an element before it`);
                seq.splice(seq.length - last.length, last.length);
                const item = last.length === 1 && last[0].kind === "ref" ? last : [{kind: "ref" as const, rule: helper([last])}];
                let min = 0;
                let max = Infinity;
                at++;
                if (c === "+") min = 1;
                else if (c === "?") max = 1;
                else if (c === "{") {
                    const match = /^\s*(\d+)\s*(?:(,)\s*(\d+)?\s*)?\}/.exec(source.slice(at, at + 64));
                    if (match == null) fail("a malformed {m,n}");
                    const m = match as RegExpExecArray;
                    at += m[0].length;
                    min = Number(m[1]);
                    max = m[2] == null ? min : m[3] == null ? Infinity : Number(m[3]);
                    if (min > MAX_REPETITION || (max !== Infinity && max > MAX_REPETITION))
                        throw new GrammarRefused(`repeats an element more than ${MAX_REPETITION} times`);
                }
                const repeated: Element[] = [];
                for (let i = 0; i < min; i++) repeated.push(...item);
                if (max === Infinity) {
                    // x* is `star ::= x star |`, as llama.cpp rewrites it.
                    const star = helper([]);
                    rules[star] = [[...item, {kind: "ref", rule: star}], []];
                    repeated.push({kind: "ref", rule: star});
                } else {
                    // x{0,n} nests optionals: `opt ::= x opt |`, n deep.
                    let tail: Element[] = [];
                    for (let i = min; i < max; i++) tail = [{kind: "ref", rule: helper([[...item, ...tail], []])}];
                    repeated.push(...tail);
                }
                count(repeated.length);
                seq.push(...repeated);
                last = [];
                space(nested);
                continue;
            } else if (/[a-zA-Z0-9_-]/.test(c ?? "")) {
                const ref = name();
                last = [{kind: "ref", rule: ruleId(ref)}];
                count(1);
            } else return seq;
            seq.push(...last);
            space(nested);
        }
    };
    space(true);
    while (at < source.length) {
        const rule = ruleId(name());
        space(false);
        if (!source.startsWith("::=", at)) fail("expected ::=");
        at += 3;
        space(true);
        rules[rule] = alternatives(false);
        if (at < source.length && !/[\r\n]/.test(source[at])) fail(`unexpected ${JSON.stringify(source[at])}`);
        space(true);
    }
    const undefinedRule = [...names].find(([, id]) => rules[id] == null);
    if (undefinedRule != null) throw new GrammarRefused(`uses the undefined rule ${JSON.stringify(undefinedRule[0])}`, "invalid_grammar");
    return rules as Rule[];
}
