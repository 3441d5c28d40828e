import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {createRequire} from "node:module";
import fc from "fast-check";
import {getLlama, LlamaGrammarEvaluationState, type Llama, type LlamaContext, type LlamaModel, type Token} from "node-llama-cpp";
import {testModelPath} from "../helpers/testWorker.js";
import {requireStoriesModel} from "../helpers/storiesModel.js";
import {ZOD_CASES} from "../helpers/zodSchemas.js";
import {ZOD4_CONSTRUCTS, zodJsonSchema} from "../helpers/zod4Constructs.js";
import {PATTERN_FORMATS} from "../../src/engine/llama/jsonSchemaGrammar/stringFormats.js";
import {compileJsonSchema} from "../../src/engine/llama/jsonSchemaGrammar/compileJsonSchema.js";

/*
 * Issue 25: every text a model writes under a compiled schema grammar validates against the
 * schema, checked with ajv (and ajv-formats, for formats) as an independent validator. Outputs are
 * sampled at temperature 1 from the synthetic model and from stories260K; a sample that reaches
 * its token limit before the grammar completes is not a complete value and is not counted, but
 * each schema must give at least one complete value.
 */
const require = createRequire(import.meta.url);
const Ajv2020 = require("ajv/dist/2020").default;
const AjvDraft7 = require("ajv").default;
const addFormats = require("ajv-formats");

function validator(schema: Record<string, unknown>): (value: unknown) => boolean {
    const draft7 = typeof schema.$schema === "string" && schema.$schema.includes("draft-07") || "definitions" in schema || Array.isArray(schema.items);
    const ajv = draft7 ? new AjvDraft7({strict: false}) : new Ajv2020({strict: false});
    addFormats(ajv);
    // zod's own formats have no meaning beyond the pattern zod writes with them, which ajv checks.
    for (const format of PATTERN_FORMATS) ajv.addFormat(format, true);
    const {$schema: _, ...rest} = schema;
    return ajv.compile(rest);
}

let llama: Llama;
const models: Array<{name: string; model: LlamaModel; context: LlamaContext}> = [];

before(async () => {
    llama = await getLlama({gpu: false, build: "never", maxThreads: 1});
    for (const [name, path] of [["synthetic", await testModelPath()], ["stories260K", requireStoriesModel()]]) {
        const model = await llama.loadModel({modelPath: path});
        models.push({name, model, context: await model.createContext({contextSize: 512, sequences: 1})});
    }
});
after(() => llama.dispose());

/** Samples one text under `grammarText`; null when `maxTokens` ran out first. */
async function sample(which: (typeof models)[number], grammarText: string, seed: number, maxTokens: number): Promise<string | null> {
    const grammar = await llama.createGrammar({grammar: grammarText});
    const sequence = which.context.getSequence();
    try {
        const tokens: Token[] = [];
        const prompt = which.model.tokenize("JSON:", false);
        const iterator = sequence.evaluate(prompt, {temperature: 1, seed,
            grammarEvaluationState: new LlamaGrammarEvaluationState({model: which.model, grammar})});
        for (;;) {
            const next = await iterator.next();
            if (next.done) break;
            tokens.push(next.value);
            if (tokens.length >= maxTokens) {
                await iterator.return(undefined);
                return null;
            }
        }
        return which.model.detokenize(tokens);
    } finally {
        sequence.dispose();
    }
}

async function checkOutputs(schema: Record<string, unknown>, label: string, seeds: number[], maxTokens: number,
    parses: (value: unknown) => boolean = () => true): Promise<number> {
    const grammar = compileJsonSchema(schema);
    const valid = validator(schema);
    let complete = 0;
    for (const which of models)
        for (const seed of seeds) {
            const text = await sample(which, grammar, seed, maxTokens);
            if (text == null) continue;
            complete++;
            let value: unknown;
            assert.doesNotThrow(() => value = JSON.parse(text), `${label} (${which.name}, seed ${seed}): not JSON: ${text}`);
            assert.ok(valid(value), `${label} (${which.name}, seed ${seed}): ${text} does not validate`);
            assert.ok(parses(value), `${label} (${which.name}, seed ${seed}): ${text} does not parse with the zod schema`);
        }
    return complete;
}

test("every zod construct of issue 25: outputs sampled under the grammar validate with ajv", async () => {
    for (const {name, schema} of ZOD_CASES) {
        const complete = await checkOutputs(schema, name, [1, 2, 3], 160);
        assert.ok(complete >= 1, `${name}: no sample completed within 160 tokens`);
    }
});

test("every zod 4 construct, z.toJSONSchema for draft-2020-12 and draft-7: sampled outputs validate with ajv and parse with zod", async () => {
    for (const target of ["draft-2020-12", "draft-7"] as const)
        for (const {name, schema} of ZOD4_CONSTRUCTS) {
            const label = `${name} (${target})`;
            const complete = await checkOutputs(zodJsonSchema(schema, target), label, [1, 2, 3, 4], 300, (value) => schema.safeParse(value).success);
            assert.ok(complete >= 1, `${label}: no sample completed within 300 tokens`);
        }
});

/** Random schemas from the supported keywords, kept small enough that a sample completes. */
const leaf = fc.oneof(
    fc.record({type: fc.constant("integer"), minimum: fc.integer({min: -300, max: 50}), maximum: fc.integer({min: 51, max: 4000})}),
    fc.record({type: fc.constant("integer")}),
    fc.record({type: fc.constant("number"), exclusiveMinimum: fc.integer({min: -20, max: 5}), maximum: fc.double({min: 6, max: 99, noNaN: true})}, {requiredKeys: ["type"]}),
    // Bounds between non-integers, inclusive or exclusive.
    fc.tuple(fc.integer({min: -500, max: 500}), fc.integer({min: 1, max: 500}), fc.integer({min: 0, max: 3}), fc.boolean(), fc.boolean())
        .map(([low, span, digits, openLow, openHigh]) => ({type: "number", [openLow ? "exclusiveMinimum" : "minimum"]: low / 10 ** digits,
            [openHigh ? "exclusiveMaximum" : "maximum"]: (low + span) / 10 ** digits})),
    fc.tuple(fc.integer({min: 0, max: 2}), fc.integer({min: 0, max: 4})).map(([min, more]) => ({type: "string", minLength: min, maxLength: min + more})),
    fc.record({type: fc.constant("string"), format: fc.constantFrom("date-time", "date", "time", "uuid", "email", "uri", "ipv4", "hostname")}),
    fc.record({type: fc.constant("string"), pattern: fc.constantFrom("^[a-c]{1,3}$", "^\\d+-x?$", "^(ab|c)+$", "^[^\"\\\\]{2}$", "^\\w\\s?\\d$")}),
    fc.record({type: fc.constant("boolean")}),
    fc.record({enum: fc.uniqueArray(fc.oneof(fc.string({maxLength: 4}), fc.integer(), fc.constant(null)), {minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v)})}),
    fc.record({type: fc.constant(["string", "null"]), maxLength: fc.constant(3)})
);
const schemaArbitrary = fc.letrec<{node: Record<string, unknown>}>((tie) => ({
    node: fc.oneof({depthSize: "small", withCrossShrink: true},
        leaf,
        fc.tuple(tie("node"), fc.integer({min: 0, max: 1}), fc.integer({min: 0, max: 1})).map(([items, min, more]) => ({type: "array", items, minItems: min, maxItems: min + more})),
        fc.record({type: fc.constant("array"), prefixItems: fc.array(tie("node"), {minLength: 1, maxLength: 2})}),
        fc.record({type: fc.constant("object"), additionalProperties: tie("node"), propertyNames: fc.record({pattern: fc.constant("^[a-z]{1,3}$")}), maxProperties: fc.integer({min: 0, max: 2})}),
        fc.record({type: fc.constant("object"), patternProperties: fc.dictionary(fc.constantFrom("^a", "^[ab]$", "b+", "^c\\d?$"), tie("node"), {minKeys: 1, maxKeys: 2}),
            additionalProperties: fc.oneof(fc.constant(false), tie("node")), maxProperties: fc.integer({min: 0, max: 2})}),
        fc.dictionary(fc.constantFrom("a", "b", "c"), tie("node"), {minKeys: 1, maxKeys: 3}).chain((properties) =>
            fc.subarray(Object.keys(properties)).map((required) => ({type: "object", properties, required, additionalProperties: false}))),
        fc.array(tie("node"), {minLength: 1, maxLength: 3}).map((anyOf) => ({anyOf})))
})).node;

test("property: random schemas from the supported keywords, every completed sample validates (synthetic and stories260K)", async () => {
    let complete = 0;
    await fc.assert(fc.asyncProperty(schemaArbitrary, fc.integer({min: 1, max: 1000}), async (schema, seed) => {
        complete += await checkOutputs(schema, JSON.stringify(schema), [seed], 120);
    }), {numRuns: 25, seed: 25});
    assert.ok(complete >= 20, `only ${complete} of 50 samples completed`);
});
