import {test} from "node:test";
import assert from "node:assert/strict";
import {createRequire} from "node:module";
import fc from "fast-check";
import {compileJsonSchema} from "../../src/engine/llama/jsonSchemaGrammar/compileJsonSchema.js";

/*
 * Number bounds (issue 25): the grammar for a bounded number writes decimals without an exponent,
 * with up to 6 fraction digits (more when a bound has more), and for such decimals it must accept
 * exactly those that a validator (ajv, comparing doubles) accepts: never one outside the bounds,
 * and every one inside them.
 */
const require = createRequire(import.meta.url);
const Ajv2020 = require("ajv/dist/2020").default;

/** The root expression of a compiled number schema as a JavaScript regular expression (GBNF's syntax is close). */
function grammarRegex(schema: Record<string, unknown>): RegExp {
    const root = /^root ::= (.*)$/m.exec(compileJsonSchema(schema))?.[1] ?? "";
    assert.doesNotMatch(root, /[a-z-]+-/, "a number's grammar is one expression, without rule references");
    return new RegExp(`^${root.replace(/"([^"]*)"/g, (_, text: string) => text.replace(/[.-]/g, "\\$&")).replace(/ /g, "")}$`);
}

/** Decimals with `digits` fraction digits around `value` (a few units either side), as canonical JSON numbers. */
function around(value: number, digits: number, units = 3): string[] {
    const out: string[] = [];
    const base = BigInt(Math.round(value * 10 ** digits));
    for (let offset = -units; offset <= units; offset++) {
        const n = base + BigInt(offset);
        const text = (n < 0n ? -n : n).toString().padStart(digits + 1, "0");
        const decimal = `${n < 0n ? "-" : ""}${text.slice(0, -digits)}.${text.slice(-digits)}`;
        out.push(decimal, decimal.replace(/\.?0+$/, ""));
    }
    return out.filter((text) => text !== "");
}

/** The schema in draft 2020-12 form: draft-04's boolean exclusiveMinimum/Maximum become the number forms. */
function modern(schema: Record<string, unknown>): Record<string, unknown> {
    const out = {...schema};
    for (const [flag, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]]) {
        if (typeof out[flag] !== "boolean") continue;
        if (out[flag] === true) out[flag] = out[bound];
        else delete out[flag];
        if (out[flag] !== undefined) delete out[bound];
    }
    return out;
}

function checkExact(schema: Record<string, unknown>, candidates: string[], label = JSON.stringify(schema)): void {
    const regex = grammarRegex(schema);
    const valid = new Ajv2020({strict: false}).compile(modern(schema));
    // "-0" is a valid number the grammar never writes (it is not the integer 0 to every reader).
    for (const text of candidates.filter((candidate) => !/^-0(\.0*)?$/.test(candidate)))
        assert.equal(regex.test(text), valid(JSON.parse(text)) as boolean, `${label}: ${text}`);
}

const TABLE: Array<{name: string; schema: Record<string, unknown>; inside: string[]; outside: string[]}> = [
    {name: "z.number().min(0.1).max(0.9)", schema: {type: "number", minimum: 0.1, maximum: 0.9},
        inside: ["0.1", "0.9", "0.5", "0.123456", "0.900000"], outside: ["0.099999", "0.900001", "0", "1", "-0.5", "0.1e0"]},
    {name: "min(-1.5).max(2.25)", schema: {type: "number", minimum: -1.5, maximum: 2.25},
        inside: ["-1.5", "-1", "-0.000001", "0", "2", "2.25", "1.999999"], outside: ["-1.500001", "2.250001", "-2", "3", "-0"]},
    {name: "z.number().positive() (exclusiveMinimum 0)", schema: {type: "number", exclusiveMinimum: 0},
        inside: ["0.000001", "1", "12345.5", "9999999999999999"], outside: ["0", "0.0", "-0", "-1", "1e5"]},
    {name: "z.number().min(0).max(1)", schema: {type: "number", minimum: 0, maximum: 1},
        inside: ["0", "0.0", "1", "1.0", "0.5"], outside: ["1.000001", "-0.000001", "2"]},
    {name: "gt(0.1).lt(0.3) (exclusive, non-integer)", schema: {type: "number", exclusiveMinimum: 0.1, exclusiveMaximum: 0.3},
        inside: ["0.100001", "0.2", "0.299999"], outside: ["0.1", "0.3", "0.10", "0.30"]},
    {name: "large bounds (1e20 to 1e21)", schema: {type: "number", minimum: 1e20, maximum: 1e21},
        inside: ["100000000000000000000", "100000000000000000000.5", "1000000000000000000000"], outside: ["99999999999999990000", "1000000000000000200000"]},
    {name: "draft-04 booleans (exclusiveMaximum: true)", schema: {type: "number", minimum: -2, maximum: -1, exclusiveMaximum: true},
        inside: ["-2", "-1.000001", "-1.5"], outside: ["-1", "-2.000001", "-1.0"]},
    {name: "bounds with more digits (1e-9 to 2.5e-9)", schema: {type: "number", minimum: 1e-9, maximum: 2.5e-9},
        inside: ["0.000000001", "0.0000000025", "0.000000002"], outside: ["0.0000000009", "0.0000000026", "0"]}
];

test("number bounds between non-integers are enforced exactly: a table", () => {
    for (const {name, schema, inside, outside} of TABLE) {
        const regex = grammarRegex(schema);
        for (const text of inside) assert.ok(regex.test(text), `${name}: ${text} should be written`);
        for (const text of outside) assert.ok(!regex.test(text), `${name}: ${text} must not be written`);
        const bounds = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].map((key) => schema[key]).filter((v) => typeof v === "number");
        // Large bounds: doubles there are coarser than 1e-6, so the decimals checked step by whole units.
        checkExact(schema, bounds.flatMap((bound) => Math.abs(bound) > 1e15 ? [] : around(bound, 6)).concat(inside, outside.filter((t) => !/e/.test(t))), name);
    }
});

test("property: for decimals of up to 6 fraction digits the grammar accepts exactly what ajv validates", () => {
    const decimal = fc.tuple(fc.integer({min: -3_000_000, max: 3_000_000}), fc.integer({min: 0, max: 6})).map(([n, digits]) => n / 10 ** digits);
    const bound = fc.option(fc.tuple(decimal, fc.boolean()), {nil: undefined});
    fc.assert(fc.property(bound, bound, fc.array(decimal, {maxLength: 8}), (low, high, extra) => {
        fc.pre(low != null || high != null);
        const schema: Record<string, unknown> = {type: "number"};
        if (low != null) schema[low[1] ? "exclusiveMinimum" : "minimum"] = low[0];
        if (high != null) schema[high[1] ? "exclusiveMaximum" : "maximum"] = high[0];
        const empty = low != null && high != null && (low[0] > high[0] || low[0] === high[0] && (low[1] || high[1]));
        if (empty) {
            assert.throws(() => compileJsonSchema(schema), /no number/);
            return;
        }
        const candidates = [...(low ? around(low[0], 6) : []), ...(high ? around(high[0], 6) : []), ...extra.flatMap((value) => around(value, 6, 1))];
        checkExact(schema, candidates);
    }), {numRuns: 300, seed: 25});
});
