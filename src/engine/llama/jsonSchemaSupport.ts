import {WorkerError} from "../../errors.js";

/**
 * node-llama-cpp turns a JSON schema into a grammar, but it silently ignores keywords it does not
 * implement (a `pattern` or a `minimum` would not constrain the output). A response_format promises
 * output that validates against the schema, so a schema that uses such a keyword is refused up front
 * instead of producing JSON that might not match it.
 */

/** Keywords the grammar generator enforces, plus annotations that constrain nothing. */
const SUPPORTED = new Set([
    "type", "properties", "additionalProperties", "required", "items", "prefixItems", "minItems", "maxItems",
    "minLength", "maxLength", "minProperties", "maxProperties", "format", "enum", "const", "oneOf", "anyOf",
    "$defs", "$ref",
    // annotations
    "description", "title", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly"
]);
const FORMATS = new Set(["date-time", "time", "date"]);
const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
/** A schema deeper than this is refused rather than left to the generator's own nesting limit. */
const MAX_DEPTH = 64;

/** Where a schema came from, for errors: its field on the wire, and the request parameter to blame. */
interface SchemaSource {
    field: string;
    param: string;
}

const RESPONSE_FORMAT: SchemaSource = {field: "response_format.json_schema.schema", param: "response_format"};

class Unsupported extends Error {
    constructor(readonly path: string, message: string) {
        super(message);
    }
}

function unsupported(path: string, message: string): Unsupported {
    return new Unsupported(path, message);
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value != null && !Array.isArray(value);
}

/**
 * Returns the schema in the form the grammar generator understands (`anyOf` becomes `oneOf`: output
 * matching one branch satisfies anyOf), or throws a 400 WorkerError naming the first keyword whose
 * constraint the grammar cannot enforce. `field` names the schema's place on the wire (a tool's
 * parameters, or by default response_format's schema).
 */
export function prepareJsonSchema(schema: Record<string, unknown>, field?: string): Record<string, unknown> {
    const source = field != null ? {field, param: field} : RESPONSE_FORMAT;
    try {
        return normalize(schema, "", 0) as Record<string, unknown>;
    } catch (err) {
        if (!(err instanceof Unsupported)) throw err;
        throw new WorkerError("invalid_request", "unsupported_schema", `${source.field}${err.path}: ${err.message}`, {param: source.param});
    }
}

function normalize(schema: unknown, path: string, depth: number): unknown {
    if (depth > MAX_DEPTH)
        throw unsupported(path, `nesting deeper than ${MAX_DEPTH} levels is not supported`);
    if (schema === true)
        return {};
    if (!isObject(schema))
        throw unsupported(path, "must be an object");
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema)) {
        if (!SUPPORTED.has(key))
            throw unsupported(path, `keyword "${key}" is not supported by the grammar, so the output could not be guaranteed to match it`);
        const here = `${path}.${key}`;
        switch (key) {
            case "type": {
                const types = Array.isArray(value) ? value : [value];
                if (types.length === 0 || types.some((type) => typeof type !== "string" || !TYPES.has(type)))
                    throw unsupported(here, `must be one of ${[...TYPES].join(", ")} (or a list of them)`);
                if (Array.isArray(value) && value.length > 1 && value.some((type) => type === "object" || type === "array"))
                    throw unsupported(here, "a list of types that includes object or array is not supported; use anyOf");
                out.type = value;
                break;
            }
            case "properties":
            case "$defs": {
                if (!isObject(value))
                    throw unsupported(here, "must be an object");
                out[key] = Object.fromEntries(Object.entries(value)
                    .map(([name, sub]) => [name, normalize(sub, `${here}.${name}`, depth + 1)]));
                break;
            }
            case "additionalProperties":
            case "items":
                out[key] = typeof value === "boolean" && key === "additionalProperties" ? value : normalize(value, here, depth + 1);
                break;
            case "prefixItems":
            case "oneOf":
            case "anyOf": {
                if (!Array.isArray(value) || value.length === 0)
                    throw unsupported(here, "must be a non-empty array");
                out[key === "anyOf" ? "oneOf" : key] = value.map((sub, index) => normalize(sub, `${here}[${index}]`, depth + 1));
                break;
            }
            case "format":
                if (typeof value !== "string" || !FORMATS.has(value))
                    throw unsupported(here, `only ${[...FORMATS].join(", ")} are supported`);
                out.format = value;
                break;
            case "$ref":
                if (typeof value !== "string" || !value.startsWith("#/$defs/"))
                    throw unsupported(here, "only local references of the form #/$defs/<name> are supported");
                out.$ref = value;
                break;
            case "required":
                if (!Array.isArray(value) || value.some((name) => typeof name !== "string"))
                    throw unsupported(here, "must be an array of property names");
                // The generator always emits every property, which satisfies any `required` list
                // whose names are all properties.
                for (const name of value as string[])
                    if (!isObject(schema.properties) || !(name in schema.properties))
                        throw unsupported(here, `names "${name}", which is not in properties`);
                break;
            case "description":
            case "title":
            case "$schema":
            case "$id":
            case "$comment":
            case "default":
            case "examples":
            case "deprecated":
            case "readOnly":
            case "writeOnly":
                if (key === "description") out.description = value;
                break;
            default:
                out[key] = value;
        }
    }
    if ("oneOf" in schema && "anyOf" in schema)
        throw unsupported(path, "oneOf and anyOf together are not supported");
    return out;
}

/**
 * node-llama-cpp 3.21.1's number rules let an "integer" carry an exponent (`1e-5` is not an integer)
 * and give exponents up to 16 digits (`1e4739974759974717` parses to Infinity). Integers lose the
 * exponent and other numbers get at most two exponent digits, so every value is what the schema
 * says and stays finite. Rules that do not look as expected are left alone.
 */
export function tightenNumberRules(grammar: string): string {
    return grammar
        .replace(/^integer-number-rule ::= .*$/m, 'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15})')
        .replace(/^fractional-number-rule ::= .*$/m,
            'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?');
}
