import {WorkerError} from "../../errors.js";
import {compileJsonSchema} from "./jsonSchemaGrammar/compileJsonSchema.js";
import {SchemaRefusal} from "./jsonSchemaGrammar/schemaRefusal.js";
// The one model of llama.cpp's per-token grammar work, shared with the check on raw grammars (an
// engine-to-service import, the only one: the module is pure and imports nothing but errors).
import {checkGrammarComplexity} from "../grammarComplexity.js";

/**
 * A response_format or a forced tool call promises output that validates against the schema, so
 * the schema is compiled into a grammar by our own compiler (jsonSchemaGrammar/), which enforces
 * the keywords generators emit and refuses, by name, those a grammar cannot express, instead of
 * node-llama-cpp's generator, which silently ignores what it does not implement.
 */

/** Where a schema came from, for errors: its field on the wire, and the request parameter to blame. */
interface SchemaSource {
    field: string;
    param: string;
}

/**
 * Rules (llama.cpp's count: groups and repetitions included) a compiled schema's grammar may have.
 * More than a raw grammar's MAX_GRAMMAR_RULES: each bounded number or property makes a few groups
 * (500 bounded integer properties: 3,326; 300 decimal ranges: 29,272), and what costs per token is
 * the work and the elements, which keep their bounds.
 */
const MAX_SCHEMA_GRAMMAR_RULES = 65_536;

const RESPONSE_FORMAT: SchemaSource = {field: "response_format.json_schema.schema", param: "response_format"};

/**
 * The GBNF grammar for `schema`, or a 400 WorkerError naming the first keyword whose constraint
 * the grammar cannot enforce. `field` names the schema's place on the wire (a tool's parameters,
 * or by default response_format's schema).
 */
export function jsonSchemaGrammar(schema: Record<string, unknown>, field?: string): string {
    const source = field != null ? {field, param: field} : RESPONSE_FORMAT;
    let grammar: string;
    try {
        grammar = compileJsonSchema(schema);
    } catch (err) {
        if (!(err instanceof SchemaRefusal)) throw err;
        throw new WorkerError("invalid_request", "unsupported_schema", `${source.field}${err.path}: ${err.message}`, {param: source.param});
    }
    // A schema can compile to a grammar that would stall llama.cpp as a raw one can (many nested
    // alternatives): the same bound, refused before the grammar reaches llama.cpp, naming the schema.
    try {
        checkGrammarComplexity(grammar, source.param, MAX_SCHEMA_GRAMMAR_RULES);
    } catch (err) {
        if (!(err instanceof WorkerError)) throw err;
        throw new WorkerError("invalid_request", err.code, `${source.field}: compiles to a grammar that ${err.message.slice(source.param.length + 2)}`, {param: source.param});
    }
    return grammar;
}
