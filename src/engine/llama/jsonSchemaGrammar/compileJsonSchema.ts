import {CONTROL_RULE} from "./gbnf.js";
import {ANNOTATION_KEYWORDS, ENFORCED_KEYWORDS, REFUSED_KEYWORDS, REFUSED_VALUES} from "./keywords.js";
import {ANY_INTEGER, integerBounds, numberRange, type Bounds} from "./numberRange.js";
import {integerRange} from "./integerRange.js";
import {isObject, mergeSchemas, type Schema} from "./schemaMerge.js";
import {refuse} from "./schemaRefusal.js";
import {JSON_CHAR_RULE, jsonLiteral, repeat, stringExpression} from "./stringGrammar.js";
import {keyAllowed, propertyKey} from "./propertyKey.js";

/** Item counts above this are lowered to it (fewer items still validate); a minItems above it is refused. */
export const MAX_ITEMS = 1000;
/** Enumerated multiples for multipleOf (integers only). */
const MAX_MULTIPLES = 1000;
/**
 * Most rules, and characters, a compiled grammar may have: a schema that reuses one subschema in
 * several places is written out once per place, so 12 levels of three properties made 205 MB of
 * grammar in 14 s. Past these the compiler stops at once; the grammar-complexity check (MAX_GRAMMAR_RULES
 * and MAX_GRAMMAR_ELEMENTS there) would refuse such a grammar anyway.
 */
const MAX_RULES = 4096;
const MAX_CHARACTERS = 2_000_000;
/** Most subschemas compiled: anyOf branches are written inline, so nested reuse grows without making rules. */
const MAX_SUBSCHEMAS = 20_000;
/** Schemas nested deeper than this (properties, items, allOf, $ref chains) are refused, as before this compiler. */
const MAX_INDIRECTION = 64;

const SHARED_RULES = [
    "space ::= \" \"?",
    JSON_CHAR_RULE,
    CONTROL_RULE,
    "json-string ::= \"\\\"\" json-char* \"\\\"\"",
    `json-number ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?`,
    "json-value ::= json-object | json-array | json-string | json-number | \"true\" | \"false\" | \"null\"",
    "json-object ::= \"{\" space (json-string space \":\" space json-value space (\",\" space json-string space \":\" space json-value space)*)? \"}\"",
    "json-array ::= \"[\" space (json-value space (\",\" space json-value space)*)? \"]\""
];
const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
const KNOWN = new Set([...Object.keys(ENFORCED_KEYWORDS), ...ANNOTATION_KEYWORDS]);

/**
 * Compiles a JSON schema into a GBNF grammar (root rule `root`) whose every complete text is a
 * JSON value that validates against the schema. A keyword the grammar cannot enforce is refused
 * with a SchemaRefusal naming where it is and why, never silently dropped.
 */
export function compileJsonSchema(schema: unknown): string {
    const compiler = new Compiler(schema);
    const root = compiler.value(schema, "", "root", 0);
    return [`root ::= ${root}`, ...compiler.rules, ...SHARED_RULES].join("\n") + "\n";
}

class Compiler {
    readonly rules: string[] = [];
    private characters = 0;
    private subschemas = 0;
    private readonly names = new Set<string>(["root"]);
    private readonly refs = new Map<string, string>();

    constructor(private readonly root: unknown) {}

    private ruleName(hint: string): string {
        let base = (hint.replace(/[^a-zA-Z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "r").toLowerCase();
        // Names of the shared rules, and the root, are taken.
        if (/^(space|json-|root)/.test(base)) base = `s-${base}`;
        let name = base;
        for (let i = 2; this.names.has(name); i++) name = `${base}-${i}`;
        this.names.add(name);
        return name;
    }

    private rule(hint: string, body: string): string {
        const name = this.ruleName(hint);
        this.add([`${name} ::= ${body}`]);
        return name;
    }

    private add(rules: string[]): void {
        this.rules.push(...rules);
        for (const rule of rules) this.characters += rule.length;
    }

    /** The target of a local reference. */
    private resolve(ref: unknown, path: string): unknown {
        if (typeof ref !== "string" || !ref.startsWith("#"))
            refuse(path, "only local references (#, #/$defs/<name>, #/definitions/<name>) are supported");
        let target: unknown = this.root;
        for (const part of (ref as string).slice(1).split("/").slice(1)) {
            const key = decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~");
            if (!isObject(target) && !Array.isArray(target) || !(key in (target as object)))
                refuse(path, `${JSON.stringify(ref)} points at nothing`);
            target = (target as Record<string, unknown>)[key];
        }
        return target;
    }

    /** A GBNF expression for the values `schema` allows. */
    value(schema: unknown, path: string, hint: string, depth: number): string {
        if (depth > MAX_INDIRECTION) refuse(path, `nesting deeper than ${MAX_INDIRECTION} levels is not supported`);
        if (this.rules.length > MAX_RULES || this.characters > MAX_CHARACTERS || ++this.subschemas > MAX_SUBSCHEMAS)
            refuse(path, `the schema compiles to a grammar of more than ${MAX_RULES} rules, ${MAX_CHARACTERS} characters or ${MAX_SUBSCHEMAS} subschemas (a subschema used in several places is written out in each)`);
        if (schema === true) return "json-value";
        if (schema === false) refuse(path, "the schema false allows no value");
        if (!isObject(schema)) refuse(path, "must be an object");
        for (const key of Object.keys(schema)) {
            if (key in REFUSED_KEYWORDS) refuse(`${path}.${key}`, REFUSED_KEYWORDS[key]);
            if (!KNOWN.has(key)) refuse(`${path}.${key}`, `"${key}" is not a keyword the grammar enforces, so the output could not be guaranteed to match it`);
        }
        const constraints = Object.keys(schema).filter((key) => !ANNOTATION_KEYWORDS.includes(key) && key !== "$defs" && key !== "definitions");
        if (schema.$ref != null) {
            const rest = Object.fromEntries(Object.entries(schema).filter(([key]) => key !== "$ref" && constraints.includes(key)));
            if (Object.keys(rest).length > 0)
                return this.value({allOf: [{$ref: schema.$ref}, rest]}, path, hint, depth + 1);
            return this.reference(schema.$ref, `${path}.$ref`);
        }
        if (schema.allOf != null) {
            const {allOf, ...rest} = schema;
            if (!Array.isArray(allOf) || allOf.length === 0) refuse(`${path}.allOf`, "must be a non-empty array");
            let merged: Schema = rest;
            (allOf as unknown[]).forEach((branch, index) => {
                let resolved = branch;
                for (let hops = 0; isObject(resolved) && resolved.$ref != null; hops++) {
                    if (hops > MAX_INDIRECTION) refuse(`${path}.allOf[${index}]`, "references loop");
                    const {$ref, ...siblings} = resolved;
                    const target = this.resolve($ref, `${path}.allOf[${index}].$ref`);
                    resolved = Object.keys(siblings).length > 0 ? {allOf: [target, siblings]} : target;
                }
                if (isObject(resolved) && resolved.allOf != null) {
                    const inner = resolved;
                    resolved = {};
                    merged = mergeSchemas(merged, {allOf: inner.allOf}, path);
                    const {allOf: _, ...innerRest} = inner;
                    resolved = innerRest;
                }
                if (resolved === true) return;
                if (!isObject(resolved)) refuse(`${path}.allOf[${index}]`, "must be an object");
                merged = mergeSchemas(merged, resolved, `${path}.allOf[${index}]`);
            });
            return this.value(merged, path, hint, depth + 1);
        }
        if (schema.nullable === true) {
            const {nullable: _, ...rest} = schema;
            return `(${this.value(rest, path, hint, depth + 1)} | "null")`;
        }
        if (schema.const !== undefined) return jsonLiteral(schema.const);
        if (schema.enum != null) {
            if (!Array.isArray(schema.enum) || schema.enum.length === 0) refuse(`${path}.enum`, "must be a non-empty array");
            const values = schema.enum.filter((value) => this.hasType(schema, value));
            if (values.length === 0) refuse(`${path}.enum`, "no value has the schema's type");
            return `(${values.map(jsonLiteral).join(" | ")})`;
        }
        for (const key of ["anyOf", "oneOf"] as const) {
            if (schema[key] == null) continue;
            const branches = schema[key];
            if (!Array.isArray(branches) || branches.length === 0) refuse(`${path}.${key}`, "must be a non-empty array");
            const {[key]: _, ...rest} = schema;
            const shared = Object.keys(rest).some((name) => constraints.includes(name));
            return `(${(branches as unknown[]).map((branch, index) => this.value(shared ? {allOf: [rest, branch]} : branch,
                `${path}.${key}[${index}]`, `${hint}-${index}`, depth + 1)).join(" | ")})`;
        }
        const type = schema.type ?? inferType(schema);
        if (Array.isArray(type)) {
            if (type.length === 0) refuse(`${path}.type`, "must not be empty");
            return `(${type.map((t) => this.value({...schema, type: t}, path, `${hint}-${String(t)}`, depth + 1)).join(" | ")})`;
        }
        if (type == null) return "json-value";
        if (typeof type !== "string" || !TYPES.has(type)) refuse(`${path}.type`, `must be one of ${[...TYPES].join(", ")} (or a list of them)`);
        switch (type) {
            case "null": return "\"null\"";
            case "boolean": return "(\"true\" | \"false\")";
            case "string": return stringExpression(schema, path, this.ruleName(hint), (rules) => this.add(rules));
            case "integer": return this.integer(schema, path);
            case "number": return this.number(schema, path);
            case "array": return this.array(schema, path, hint, depth);
            default: return this.object(schema, path, hint, depth);
        }
    }

    private reference(ref: unknown, path: string): string {
        const key = String(ref);
        let name = this.refs.get(key);
        if (name == null) {
            name = this.ruleName(`ref-${key.split("/").pop() ?? "root"}`);
            this.refs.set(key, name);
            const index = this.rules.length;
            this.rules.push("");
            this.rules[index] = `${name} ::= ${this.value(this.resolve(ref, path), path, name, 0)}`;
            this.characters += this.rules[index].length;
        }
        return name;
    }

    private hasType(schema: Schema, value: unknown): boolean {
        if (schema.type == null) return true;
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        const kind = value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "object" ? "object"
            : typeof value === "number" ? (Number.isInteger(value) ? "integer" : "number") : typeof value;
        return types.includes(kind) || (kind === "integer" && types.includes("number"));
    }

    private bounds(schema: Schema, path: string): Bounds {
        const number = (key: string): number | null => {
            const value = schema[key];
            if (value == null || typeof value === "boolean") return null;
            if (typeof value !== "number" || !Number.isFinite(value)) refuse(`${path}.${key}`, "must be a number");
            return value;
        };
        const bounds: Bounds = {min: number("minimum"), minExclusive: schema.exclusiveMinimum === true, max: number("maximum"), maxExclusive: schema.exclusiveMaximum === true};
        const exclusiveMin = number("exclusiveMinimum");
        if (exclusiveMin != null && (bounds.min == null || exclusiveMin >= bounds.min)) [bounds.min, bounds.minExclusive] = [exclusiveMin, true];
        const exclusiveMax = number("exclusiveMaximum");
        if (exclusiveMax != null && (bounds.max == null || exclusiveMax <= bounds.max)) [bounds.max, bounds.maxExclusive] = [exclusiveMax, true];
        return bounds;
    }

    private integer(schema: Schema, path: string): string {
        const bounds = this.bounds(schema, path);
        const range = integerBounds(bounds);
        if (range == null) refuse(path, "no integer lies within its minimum and maximum");
        const [lo, hi] = range;
        const step = schema.multipleOf;
        if (step != null && step !== 1) {
            if (typeof step !== "number" || !Number.isInteger(step) || step <= 0) refuse(`${path}.multipleOf`, REFUSED_VALUES.multipleOf);
            // The multiples nearest zero within the bounds, at most MAX_MULTIPLES of them: fewer values, all valid.
            const k = BigInt(step);
            const first = lo > 0n ? (lo + k - 1n) / k * k : hi < 0n ? hi / k * k : 0n;
            const values: bigint[] = [];
            for (let up = first, down = first - k; values.length < MAX_MULTIPLES && (up <= hi || down >= lo); up += k, down -= k) {
                if (up <= hi && up >= lo) values.push(up);
                if (down >= lo && down <= hi && values.length < MAX_MULTIPLES) values.push(down);
            }
            if (values.length === 0) refuse(path, "no multiple of multipleOf lies within its minimum and maximum");
            return `(${values.map((v) => `"${v}"`).join(" | ")})`;
        }
        if (bounds.min == null && bounds.max == null) return `(${ANY_INTEGER})`;
        return integerRange(lo, hi);
    }

    private number(schema: Schema, path: string): string {
        if (schema.multipleOf != null) {
            if (schema.multipleOf === 1) return this.integer(schema, path);
            refuse(`${path}.multipleOf`, REFUSED_VALUES.multipleOf);
        }
        const range = numberRange(this.bounds(schema, path));
        if (range == null) refuse(path, "no number the grammar can write lies within its minimum and maximum");
        return range;
    }

    private count(schema: Schema, key: string, path: string): number | null {
        const value = schema[key];
        if (value == null) return null;
        if (typeof value !== "number" || !Number.isInteger(value) || value < 0) refuse(`${path}.${key}`, "must be a non-negative integer");
        return value;
    }

    private array(schema: Schema, path: string, hint: string, depth: number): string {
        if (schema.uniqueItems === true) refuse(`${path}.uniqueItems`, REFUSED_VALUES.uniqueItems);
        const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : Array.isArray(schema.items) ? schema.items : [];
        const rest = schema.prefixItems != null || !Array.isArray(schema.items) ? schema.items : schema.additionalItems;
        const min = this.count(schema, "minItems", path) ?? 0;
        const max = Math.min(this.count(schema, "maxItems", path) ?? Infinity, MAX_ITEMS);
        if (min > MAX_ITEMS) refuse(`${path}.minItems`, `arrays of more than ${MAX_ITEMS} items are not supported`);
        if (max < min) refuse(path, "maxItems is below minItems");
        const written = Math.min(prefix.length, max);
        if (written < min && rest === false) refuse(path, "minItems asks for more items than the tuple allows");
        const items = prefix.slice(0, written).map((item, index) => this.value(item, `${path}.prefixItems[${index}]`, `${hint}-${index}`, depth + 1));
        // A tuple without a schema for the rest writes no more items than minItems needs.
        const restMax = rest === false || (rest == null && prefix.length > 0) ? min - written : max - written;
        const restMin = Math.max(0, min - written);
        const item = restMax > 0 ? this.rule(`${hint}-item`, this.value(rest ?? true, `${path}.items`, `${hint}-item`, depth + 1)) : "";
        const body = items.map((text, index) => `${index > 0 ? "\",\" space " : ""}${text} space`).join(" ");
        let tail = "";
        if (restMax > 0) {
            const more = repeat(`("," space ${item} space)`, written > 0 ? restMin : Math.max(0, restMin - 1), written > 0 ? restMax : restMax - 1);
            tail = written > 0 ? more : restMin > 0 ? `${item} space ${more}` : `(${item} space ${more})?`;
        }
        return `"[" space ${body} ${tail} "]"`.replace(/ +/g, " ");
    }

    private object(schema: Schema, path: string, hint: string, depth: number): string {
        if (!isObject(schema.properties ?? {})) refuse(`${path}.properties`, "must be an object");
        const properties: Schema = {...(schema.properties as Schema | undefined)};
        const required = schema.required ?? [];
        if (!Array.isArray(required) || required.some((name) => typeof name !== "string")) refuse(`${path}.required`, "must be an array of property names");
        const additional = schema.additionalProperties;
        const patterns = schema.patternProperties ?? {};
        if (!isObject(patterns)) refuse(`${path}.patternProperties`, "must be an object");
        const regexes = Object.keys(patterns).map((pattern) => {
            try {
                return new RegExp(pattern, "u");
            } catch {
                return refuse(`${path}.patternProperties`, `${JSON.stringify(pattern)} is not a regular expression`);
            }
        });
        // A required name without a declared schema (zod 4's z.record over an enum) is written as a
        // declared property: its value is what patternProperties or additionalProperties give its key.
        for (const name of required as string[]) {
            if (name in properties) continue;
            const matched = regexes.some((regex) => regex.test(name));
            if (!matched && additional === false) refuse(`${path}.required`, `names "${name}", which neither properties nor patternProperties allow`);
            if (schema.propertyNames != null && !keyAllowed(schema.propertyNames, name))
                refuse(`${path}.required`, `names "${name}", which propertyNames does not allow`);
            properties[name] = matched || additional == null ? true : additional;
        }
        const names = Object.keys(properties);
        // A declared property whose name a pattern matches must satisfy that pattern's schema too.
        const declared = (name: string): unknown => {
            const matching = Object.keys(patterns).filter((_, index) => regexes[index].test(name)).map((pattern) => patterns[pattern]);
            return matching.length === 0 ? properties[name] : {allOf: [properties[name], ...matching]};
        };
        // Other keys: those of one pattern each (a key two patterns match is not written), then, with
        // an additionalProperties schema, keys no pattern matches; with neither, no other key.
        const kinds: Array<{require: string[]; value: unknown; path: string}> = Object.keys(patterns).map((pattern) =>
            ({require: [pattern], value: patterns[pattern], path: `${path}.patternProperties[${JSON.stringify(pattern)}]`}));
        // {} allows what true allows (zod's looseObject): with declared properties, no other key is written.
        const constraining = isObject(additional) && Object.keys(additional).length > 0;
        if (constraining || (names.length === 0 && kinds.length === 0 && additional !== false))
            kinds.push({require: [], value: additional ?? true, path: `${path}.additionalProperties`});
        const open = kinds.length > 0;
        const optional = names.filter((name) => !required.includes(name)).length;
        const minProperties = this.count(schema, "minProperties", path);
        const maxProperties = this.count(schema, "maxProperties", path);
        if (minProperties != null && minProperties > required.length) refuse(`${path}.minProperties`, REFUSED_VALUES.minProperties);
        if (maxProperties != null && maxProperties < required.length) refuse(`${path}.maxProperties`, "is below the number of required properties");
        if (maxProperties != null && maxProperties < names.length && optional > 0)
            refuse(`${path}.maxProperties`, "fewer than the declared properties together with optional ones is not supported");
        const extraMax = maxProperties == null ? Infinity : maxProperties - names.length;
        if (open && maxProperties != null && optional > 0) refuse(`${path}.maxProperties`, "together with optional properties and additional keys is not supported");
        const pairs = names.map((name) => this.rule(`${hint}-${name}-kv`,
            `${jsonLiteral(name)} space ":" space ${this.value(declared(name), `${path}.properties.${name}`, `${hint}-${name}`, depth + 1)} space`));
        let extra = "";
        if (open && extraMax > 0) {
            const keySchema = schema.propertyNames ?? {};
            if (!isObject(keySchema)) refuse(`${path}.propertyNames`, "must be an object");
            const all = Object.keys(patterns);
            const pairs = kinds.flatMap((kind, index) => {
                const key = propertyKey(keySchema, `${path}.propertyNames`, () => this.ruleName(`${hint}-key`), (rules) => this.add(rules), names,
                    {require: kind.require, exclude: all.filter((pattern) => !kind.require.includes(pattern))});
                return key == null ? [] : [`${key} space ":" space ${this.value(kind.value, kind.path, `${hint}-value-${index}`, depth + 1)} space`];
            });
            if (pairs.length > 0) extra = this.rule(`${hint}-extra-kv`, pairs.join(" | "));
        }
        // Built from the end: `rest` follows a written member (a comma first), `first` begins the object.
        let rest = extra === "" ? "" : repeat(`("," space ${extra})`, 0, extraMax);
        let first = extra === "" ? "" : `(${extra} ${repeat(`("," space ${extra})`, 0, extraMax - 1)})?`;
        for (let i = names.length - 1; i >= 0; i--) {
            const isRequired = required.includes(names[i]);
            const nextRest = rest === "" ? "" : this.rule(`${hint}-rest`, rest);
            rest = isRequired ? `"," space ${pairs[i]} ${nextRest}` : `("," space ${pairs[i]})? ${nextRest}`;
            first = isRequired ? `${pairs[i]} ${nextRest}` : `(${pairs[i]} ${nextRest}${first === "" ? ")?" : ` | ${this.rule(`${hint}-first`, first)})`}`;
        }
        return `"{" space ${first} "}"`.replace(/ +/g, " ");
    }

}

function inferType(schema: Schema): string | null {
    if (["properties", "patternProperties", "additionalProperties", "required", "propertyNames", "minProperties", "maxProperties"].some((key) => key in schema)) return "object";
    if (["items", "prefixItems", "minItems", "maxItems", "additionalItems"].some((key) => key in schema)) return "array";
    if (["minLength", "maxLength", "pattern", "format"].some((key) => key in schema)) return "string";
    if (["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].some((key) => key in schema)) return "number";
    return null;
}
