import {refuse} from "./schemaRefusal.js";

export type Schema = Record<string, unknown>;

export function isObject(value: unknown): value is Schema {
    return typeof value === "object" && value != null && !Array.isArray(value);
}

const LOWER = new Set(["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"]);
const UPPER = new Set(["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"]);

/**
 * One schema that means what `a` and `b` mean together (allOf): properties and required lists
 * combined, bounds the tighter, types and enums intersected, and a property both describe becomes
 * an allOf of the two. Keywords with different values that cannot be combined are refused.
 */
export function mergeSchemas(a: Schema, b: Schema, path: string): Schema {
    const out: Schema = {...a};
    for (const [key, value] of Object.entries(b)) {
        const mine = out[key];
        if (!(key in out) || JSON.stringify(mine) === JSON.stringify(value)) {
            out[key] = value;
            continue;
        }
        if (LOWER.has(key) && typeof mine === "number" && typeof value === "number") out[key] = Math.max(mine, value);
        else if (UPPER.has(key) && typeof mine === "number" && typeof value === "number") out[key] = Math.min(mine, value);
        else if (key === "required" && Array.isArray(mine) && Array.isArray(value)) out[key] = [...new Set([...mine, ...value])];
        else if ((key === "properties" || key === "patternProperties") && isObject(mine) && isObject(value)) {
            const merged: Schema = {...mine};
            for (const [name, sub] of Object.entries(value))
                merged[name] = name in merged ? {allOf: [merged[name], sub]} : sub;
            out[key] = merged;
        } else if ((key === "$defs" || key === "definitions") && isObject(mine) && isObject(value)) out[key] = {...mine, ...value};
        else if (key === "type") {
            const list = (t: unknown): unknown[] => Array.isArray(t) ? t : [t];
            const both = list(mine).filter((t) => list(value).includes(t) || (t === "integer" && list(value).includes("number")));
            const extra = list(value).filter((t) => t === "integer" && list(mine).includes("number"));
            const types = [...new Set([...both, ...extra])];
            if (types.length === 0) refuse(path, `allOf: the types ${JSON.stringify(mine)} and ${JSON.stringify(value)} have no value in common`);
            out.type = types.length === 1 ? types[0] : types.filter((t) => !(t === "number" && types.includes("integer")));
        } else if (key === "enum" && Array.isArray(mine) && Array.isArray(value)) {
            const keys = new Set(value.map((v) => JSON.stringify(v)));
            out.enum = mine.filter((v) => keys.has(JSON.stringify(v)));
        } else if ((key === "additionalProperties" || key === "items") && (mine === false || value === false)) out[key] = false;
        else if ((key === "additionalProperties" || key === "items" || key === "propertyNames") && isObject(mine) && isObject(value))
            out[key] = {allOf: [mine, value]};
        else if (key === "title" || key === "description" || key === "default" || key === "examples") continue;
        else refuse(path, `allOf: "${key}" has different values in two branches, which cannot be combined`);
    }
    return out;
}
