import {WorkerError} from "../errors.js";

/**
 * Bounds on a JSON schema a request hands to the grammar generator, checked in the HTTP process
 * before the schema crosses to the runner. A schema nested 1,000 deep (60 KB) overflowed the
 * runner's IPC deserializer and crashed every running generation; 2,000 deep held a sequence for
 * good; a 20,000-value enum took 16.7 s. The walk is iterative, so no depth overflows it here.
 *
 * The limits, measured on the bench model (20 tokens): 64 nested objects 0.8 s, 500 properties
 * 0.8 s, a 3,000-value enum 0.7 s. The runner's schema check allows 64 schema levels, which is
 * 128 JSON levels (each level is a schema inside `properties`); OpenAI allows 10 levels, 5,000
 * properties and 1,000 enum values.
 */

/** JSON nesting: 64 schema levels of `{"properties": {"a": ...}}`. */
export const MAX_SCHEMA_DEPTH = 128;
/** Values in the whole schema (objects, arrays, strings, numbers...), keys not counted. */
export const MAX_SCHEMA_VALUES = 16_384;
/** Enum values plus oneOf/anyOf branches, over the whole schema: each is an alternative the grammar carries. */
export const MAX_SCHEMA_ALTERNATIVES = 4096;

/** Throws a 400 naming `param` (the schema's field on the wire) when `schema` passes a bound. */
export function checkSchemaBounds(schema: unknown, param: string): void {
    const refuse = (message: string): never => {
        throw new WorkerError("invalid_request", "schema_too_large", `${param}: ${message}`, {param});
    };
    const pending: Array<{value: unknown; depth: number}> = [{value: schema, depth: 1}];
    let values = 0;
    let alternatives = 0;
    while (pending.length > 0) {
        const {value, depth} = pending.pop() as {value: unknown; depth: number};
        if (++values > MAX_SCHEMA_VALUES)
            refuse(`has more than ${MAX_SCHEMA_VALUES} values (MAX_SCHEMA_VALUES)`);
        if (typeof value !== "object" || value == null) continue;
        if (depth > MAX_SCHEMA_DEPTH)
            refuse(`is nested deeper than ${MAX_SCHEMA_DEPTH} levels (MAX_SCHEMA_DEPTH)`);
        if (!Array.isArray(value))
            for (const key of ["enum", "oneOf", "anyOf"]) {
                const list = (value as Record<string, unknown>)[key];
                if (Array.isArray(list) && (alternatives += list.length) > MAX_SCHEMA_ALTERNATIVES)
                    refuse(`has more than ${MAX_SCHEMA_ALTERNATIVES} enum values and oneOf/anyOf branches in all (MAX_SCHEMA_ALTERNATIVES)`);
            }
        for (const child of Array.isArray(value) ? value : Object.values(value))
            pending.push({value: child, depth: depth + 1});
    }
}
