import {ANNOTATION_KEYWORDS} from "./keywords.js";
import {isObject, type Schema} from "./schemaMerge.js";
import {refuse, SchemaRefusal} from "./schemaRefusal.js";
import {jsonLiteral, stringExpression, type KeyPatterns} from "./stringGrammar.js";

const KEY_KEYWORDS = ["type", "pattern", "format", "minLength", "maxLength", "enum", "const", ...ANNOTATION_KEYWORDS];

/**
 * A GBNF expression for the other keys of an object: strings propertyNames (`schema`) allows that
 * are none of `declared` and match the patterns of `patterns.require` and none of `patterns.exclude`
 * (patternProperties). Null when no key fits: the object then has no such key.
 */
export function propertyKey(schema: Schema, path: string, ruleName: () => string, addRules: (rules: string[]) => void,
    declared: string[], patterns: KeyPatterns): string | null {
    for (const key of Object.keys(schema))
        if (!KEY_KEYWORDS.includes(key))
            refuse(`${path}.${key}`, "propertyNames supports only type, pattern, format, minLength, maxLength, enum and const");
    if (schema.type != null && schema.type !== "string") refuse(`${path}.type`, "property names are strings");
    const listed = schema.const !== undefined ? [schema.const] : Array.isArray(schema.enum) ? schema.enum : null;
    if (listed != null) {
        const fits = (name: string): boolean => keyAllowed(schema, name) && patterns.require.every((p) => new RegExp(p, "u").test(name)) &&
            !patterns.exclude.some((p) => new RegExp(p, "u").test(name));
        const keys = listed.filter((name): name is string => typeof name === "string" && !declared.includes(name) && fits(name));
        return keys.length === 0 ? null : `(${keys.map(jsonLiteral).join(" | ")})`;
    }
    const rules: string[] = [];
    try {
        const expression = stringExpression(schema, path, ruleName(), (more) => rules.push(...more), declared, patterns);
        addRules(rules);
        return expression;
    } catch (err) {
        // Constraints no key meets together (every name the pattern allows is declared): no such key.
        if (err instanceof SchemaRefusal && err.message === "no string satisfies all of its constraints together") return null;
        throw err;
    }
}

/** Whether propertyNames allows `name` (its string keywords; with a format, which is not checked here, it does not). */
export function keyAllowed(keySchema: unknown, name: string): boolean {
    if (keySchema === true || keySchema == null) return true;
    if (!isObject(keySchema) || keySchema.format != null) return false;
    const length = [...name].length;
    return (keySchema.const === undefined || keySchema.const === name)
        && (!Array.isArray(keySchema.enum) || keySchema.enum.includes(name))
        && (typeof keySchema.pattern !== "string" || new RegExp(keySchema.pattern, "u").test(name))
        && (typeof keySchema.minLength !== "number" || length >= keySchema.minLength)
        && (typeof keySchema.maxLength !== "number" || length <= keySchema.maxLength);
}
