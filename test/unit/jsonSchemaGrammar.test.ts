import {test} from "node:test";
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {compileJsonSchema} from "../../src/engine/llama/jsonSchemaGrammar/compileJsonSchema.js";
import {ANNOTATION_KEYWORDS, ENFORCED_KEYWORDS, REFUSED_KEYWORDS} from "../../src/engine/llama/jsonSchemaGrammar/keywords.js";
import {integerRange} from "../../src/engine/llama/jsonSchemaGrammar/integerRange.js";
import {jsonSchemaGrammar} from "../../src/engine/llama/jsonSchemaSupport.js";
import {grammarWork, MAX_GRAMMAR_WORK, parseGbnf} from "../../src/engine/grammarComplexity.js";
import {WorkerError} from "../../src/errors.js";
import {ZOD_CASES} from "../helpers/zodSchemas.js";
import {ZOD4_CONSTRUCTS, zodJsonSchema} from "../helpers/zod4Constructs.js";
import fc from "fast-check";
import {intersect, type Dfa} from "../../src/engine/llama/jsonSchemaGrammar/automaton.js";
import {patternParts} from "../../src/engine/llama/jsonSchemaGrammar/stringGrammar.js";

test("every zod case compiles to a grammar that parses and stays within MAX_GRAMMAR_WORK", () => {
    for (const {name, schema} of ZOD_CASES) {
        const rules = parseGbnf(compileJsonSchema(schema));
        const work = grammarWork(rules);
        assert.ok(work <= MAX_GRAMMAR_WORK, `${name}: work ${work}`);
    }
});

test("every zod 4 construct, as z.toJSONSchema writes it for draft-2020-12 and draft-7, compiles within the complexity bounds", () => {
    for (const target of ["draft-2020-12", "draft-7"] as const)
        for (const {name, schema} of ZOD4_CONSTRUCTS) {
            const json = zodJsonSchema(schema, target);
            assert.equal(json.$schema, target === "draft-7" ? "http://json-schema.org/draft-07/schema#" : "https://json-schema.org/draft/2020-12/schema");
            assert.doesNotThrow(() => jsonSchemaGrammar(json), `${name} (${target}): ${JSON.stringify(json)}`);
        }
});

test("integer ranges are written digit by digit: exactly the integers in the range", () => {
    const grammar = integerRange(-15n, 237n);
    // Turn the GBNF expression into a JavaScript regular expression (its syntax is close) and compare.
    const regex = new RegExp(`^${grammar.replace(/"([^"]*)"/g, "$1").replace(/ /g, "")}$`);
    for (let n = -40; n <= 300; n++) assert.equal(regex.test(String(n)), n >= -15 && n <= 237, String(n));
    assert.equal(regex.test("-0"), false);
    assert.equal(regex.test("007"), false);
});

test("what a grammar cannot express is refused by name, with the reason, as a 400 naming the field", () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{type: "array", uniqueItems: true}, /\.uniqueItems: uniqueItems: true: a grammar cannot compare/],
        [{type: "object", properties: {a: {not: {type: "string"}}}}, /\.properties\.a\.not: a grammar cannot exclude/],
        [{type: "number", multipleOf: 0.1}, /\.multipleOf: .*floating point/],
        [{if: {type: "string"}, then: {maxLength: 2}}, /\.if: .*if\/then\/else/],
        [{type: "object", dependentRequired: {a: ["b"]}}, /\.dependentRequired: /],
        [{type: "string", format: "idn-email"}, /\.format: only the formats date-time, date, time/],
        [{type: "string", pattern: "^a(?=b)b$"}, /\.pattern: a lookaround group/],
        [{type: "string", pattern: "(?=a)b"}, /\.pattern: a lookaround group/],
        [{type: "string", pattern: "^(?!(?=a)b)c$"}, /\.pattern: a lookahead inside a negative lookahead/],
        [{type: "string", format: "cuid"}, /\.format: only the formats .* together with the pattern that defines them/],
        [{type: "string", pattern: "(a)\\1"}, /\.pattern: the escape \\1/],
        [{$ref: "https://example.com/s.json"}, /\.\$ref: only local references/],
        [{type: "object", properties: {a: {type: "string"}}, minProperties: 1}, /minProperties above the number of required/],
        [{type: "integer", minimum: 5, maximum: 4}, /no integer lies within/],
        [{type: "string", format: "uuid", pattern: "^x$"}, /no string satisfies all of its constraints/],
        [{type: "string", frobnicate: 1}, /"frobnicate" is not a keyword the grammar enforces/]
    ];
    for (const [schema, message] of cases) {
        const err = (() => {
            try {
                jsonSchemaGrammar(schema, "tools[0].function.parameters");
            } catch (caught) {
                return caught;
            }
            return null;
        })();
        assert.ok(err instanceof WorkerError, JSON.stringify(schema));
        assert.equal(err.kind, "invalid_request");
        assert.equal(err.code, "unsupported_schema");
        assert.equal(err.details.param, "tools[0].function.parameters");
        assert.match(err.message, /^tools\[0\]\.function\.parameters/);
        assert.match(err.message, message, JSON.stringify(schema));
    }
    assert.throws(() => jsonSchemaGrammar({type: "array", uniqueItems: true}),
        (err: WorkerError) => err.details.param === "response_format" && err.message.startsWith("response_format.json_schema.schema.uniqueItems"));
});

test("docs/openai-api.md lists exactly the keywords the compiler enforces, reads as annotations and refuses", () => {
    const doc = readFileSync(new URL("../../docs/openai-api.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## JSON Schema keywords"));
    const tableKeys = (header: string): string[] => {
        const start = section.indexOf(header);
        assert.ok(start >= 0, header);
        const rows = section.slice(start).split("\n").slice(2);
        return rows.slice(0, rows.findIndex((row) => !row.startsWith("|"))).map((row) => /^\| `([^`]+)`/.exec(row)?.[1] ?? row);
    };
    assert.deepEqual(tableKeys("| Enforced keyword |"), Object.keys(ENFORCED_KEYWORDS));
    assert.deepEqual(tableKeys("| Refused keyword |"), Object.keys(REFUSED_KEYWORDS));
    const annotations = /Annotations, accepted and without effect: (.*)\./.exec(section)?.[1] ?? "";
    assert.deepEqual([...annotations.matchAll(/`([^`]+)`/g)].map((m) => m[1]), ANNOTATION_KEYWORDS);
});

function accepts(dfa: Dfa, text: string): boolean {
    let state = 0;
    for (const char of text) {
        const code = char.codePointAt(0) as number;
        const edge = dfa.edges[state].find((e) => e.ranges.some(([from, to]) => from <= code && code <= to));
        if (edge == null) return false;
        state = edge.to;
    }
    return dfa.accepting[state];
}

/** A random string the automaton accepts (a random walk that stops at accepting states now and then). */
function walk(dfa: Dfa, random: () => number): string {
    let state = 0;
    let text = "";
    for (;;) {
        const edges = dfa.edges[state];
        if (dfa.accepting[state] && (edges.length === 0 || random() < 0.15)) return text;
        const edge = edges[Math.floor(random() * edges.length)];
        const [from, to] = edge.ranges[Math.floor(random() * edge.ranges.length)];
        const code = from + Math.floor(random() * Math.min(to - from + 1, 128));
        text += String.fromCodePoint(code);
        state = edge.to;
    }
}

test("leading lookaheads and anchored top-level branches: every string the grammar's automaton writes matches the real RegExp; exact ones accept exactly its strings", () => {
    const zodHostname = "^(?=.{1,253}\\.?$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[-0-9a-zA-Z]{0,61}[0-9a-zA-Z])?)*\\.?$";
    const cases: Array<{pattern: string; exact: boolean; maxLength?: number}> = [
        {pattern: zodHostname, exact: false, maxLength: 40},
        {pattern: "^(?!admin)[a-z]{1,8}$", exact: true},
        {pattern: "^(?=.*[0-9])(?=[a-z])[a-z0-9]{3,6}$", exact: true},
        {pattern: "^(?!.*--)[a-z-]{2,7}$", exact: true},
        {pattern: "^$|^(?:ad)+$|^x-?z$", exact: true}
    ];
    for (const {pattern, exact, maxLength} of cases) {
        const {parts, minLength, maxLength: patternMax} = patternParts(pattern, ".pattern");
        const dfa = intersect(parts.map((p) => p.dfa), ".pattern", {negate: parts.map((p) => p.negate), minLength, maxLength: Math.min(patternMax, maxLength ?? Infinity)});
        const regex = new RegExp(pattern, "u");
        fc.assert(fc.property(fc.integer(), (seed) => {
            let x = seed >>> 0 || 1;
            const random = (): number => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
            const text = walk(dfa, random);
            assert.ok(regex.test(text), `${pattern}: wrote ${JSON.stringify(text)}`);
        }), {numRuns: 300, seed: 3});
        if (!exact) continue;
        fc.assert(fc.property(fc.string({unit: fc.constantFrom(..."admin0123-xz"), maxLength: 9}), (text) => {
            assert.equal(accepts(dfa, text), regex.test(text), `${pattern}: ${JSON.stringify(text)}`);
        }), {numRuns: 2000, seed: 3});
    }
    assert.ok(accepts(intersect([patternParts("^(?!admin)[a-z]{1,8}$", "").parts[0].dfa], ""), "admin"), "the main pattern alone allows admin: the lookahead removes it");
});

test("a schema that compiles to an enormous grammar is a 400 naming the field, decided quickly, not a stall", () => {
    const leaf = (i: number): Record<string, unknown> => ({type: "integer", minimum: i, maximum: 100000 + i});
    const branches = (make: (i: number) => Record<string, unknown>): Record<string, unknown> => ({anyOf: Array.from({length: 21}, (_, i) => make(i))});
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
        // 9,261 alternatives three anyOf levels deep: compiles (1.4 MB), but is past the complexity bounds.
        ["grammar_too_complex", branches((a) => branches((b) => branches((c) => leaf(a * 441 + b * 21 + c)))),
            /^tools\[0\]\.function\.parameters: compiles to a grammar that is larger than 100000 elements/],
        // 500 optional properties: each may start the object, so one character needs too many parse stacks.
        ["grammar_too_complex", {type: "object", properties: Object.fromEntries(Array.from({length: 500}, (_, i) => [`p${i}`, leaf(i)]))},
            /compiles to a grammar that is too ambiguous/],
        // One subschema reused three times a level, 12 levels: 3^12 copies; the compiler stops early.
        ["unsupported_schema", (() => {
            let node: Record<string, unknown> = leaf(1);
            for (let i = 0; i < 12; i++) node = {type: "object", properties: {a: node, b: node, c: node}};
            return node;
        })(), /compiles to a grammar of more than 4096 rules/]
    ];
    // Large but harmless schemas still compile: 500 required bounded properties, 300 decimal ranges.
    assert.doesNotThrow(() => jsonSchemaGrammar({type: "object", required: Array.from({length: 500}, (_, i) => `p${i}`),
        properties: Object.fromEntries(Array.from({length: 500}, (_, i) => [`p${i}`, leaf(i)]))}));
    assert.doesNotThrow(() => jsonSchemaGrammar({type: "array", prefixItems: Array.from({length: 300}, (_, i) => ({type: "number", minimum: -i - 0.5, maximum: i * 1000 + 0.25}))}));
    for (const [code, schema, message] of cases) {
        const started = performance.now();
        assert.throws(() => jsonSchemaGrammar(schema, "tools[0].function.parameters"), (err: WorkerError) =>
            err.kind === "invalid_request" && err.code === code && err.details.param === "tools[0].function.parameters" && message.test(err.message));
        assert.ok(performance.now() - started < 5000, `${code}: took ${performance.now() - started} ms`);
    }
});
