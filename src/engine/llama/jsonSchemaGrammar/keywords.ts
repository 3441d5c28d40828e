/**
 * Which JSON Schema keywords the grammar compiler enforces, which it reads as annotations (they
 * constrain nothing), and which it refuses, each with the reason. docs/openai-api.md's table is
 * checked against these lists by a unit test.
 */
export const ENFORCED_KEYWORDS: Readonly<Record<string, string>> = {
    "type": "one type or a list (a nullable form such as [\"string\", \"null\"])",
    "nullable": "OpenAPI 3.0's nullable: true",
    "enum": "values of other types than `type` are dropped",
    "const": "",
    "anyOf": "",
    "oneOf": "as anyOf: branches are expected not to overlap",
    "allOf": "merged into one schema (objects: properties and required combined; bounds: the tighter)",
    "$ref": "local JSON pointers (#, #/$defs/..., #/definitions/...), recursion included",
    "$defs": "",
    "definitions": "",
    "properties": "required ones always written, optional ones may be left out, in schema order",
    "required": "",
    "additionalProperties": "false, or a schema for the other keys (records); with declared properties, true, {} or absent writes no other key",
    "patternProperties": "keys matching one pattern each, valued by its schema; a declared property a pattern matches meets both schemas; without an additionalProperties schema, no key that no pattern matches",
    "propertyNames": "string constraints, enum or const; the declared properties' names are excluded",
    "minProperties": "only up to the number of required properties",
    "maxProperties": "not together with optional properties and additional keys",
    "items": "a schema, or a draft-07 tuple (array)",
    "prefixItems": "",
    "additionalItems": "",
    "minItems": "up to 1000",
    "maxItems": "counts above 1000 are lowered to 1000",
    "uniqueItems": "false only",
    "minLength": "up to 1000 characters",
    "maxLength": "lengths above 1000 (above 256 with a pattern or format) are lowered to that",
    "pattern": "anchors (also ^a$|^b$), literals, ., classes, \\d \\w \\s, groups, alternation, ? * + {m,n}, lookaheads right after a leading ^",
    "format": "date-time, date, time, uuid, email, uri, ipv4, ipv6 (full form), hostname (a conservative subset of each); zod's cuid, cuid2, ulid, nanoid, e164, base64, base64url, starts_with, ends_with, includes, lowercase, uppercase through the pattern zod emits with them",
    "minimum": "exact: integers digit by digit; other numbers as decimals without an exponent, up to 6 fraction digits (more when a bound has more), exactly those a validator accepts",
    "maximum": "",
    "exclusiveMinimum": "the number (2019+) and the boolean (draft-04) forms",
    "exclusiveMaximum": "",
    "multipleOf": "integer values on integers"
};

export const ANNOTATION_KEYWORDS: readonly string[] = [
    "title", "description", "$schema", "$id", "$comment", "$anchor", "default", "examples", "deprecated",
    "readOnly", "writeOnly", "contentEncoding", "contentMediaType"
];

export const REFUSED_KEYWORDS: Readonly<Record<string, string>> = {
    "not": "a grammar cannot exclude exactly what another schema matches",
    "if": "a grammar cannot make one part of a value depend on whether another schema matched (if/then/else)",
    "then": "a grammar cannot make one part of a value depend on whether another schema matched (if/then/else)",
    "else": "a grammar cannot make one part of a value depend on whether another schema matched (if/then/else)",
    "dependentRequired": "a grammar cannot require a property depending on which others were written",
    "dependentSchemas": "a grammar cannot constrain a value depending on which other properties were written",
    "dependencies": "a grammar cannot constrain a value depending on which other properties were written",
    "contains": "a grammar cannot count the items that match a schema among items of any kind",
    "minContains": "a grammar cannot count the items that match a schema among items of any kind",
    "maxContains": "a grammar cannot count the items that match a schema among items of any kind",
    "unevaluatedProperties": "depends on what the other subschemas evaluated, which a grammar does not track",
    "unevaluatedItems": "depends on what the other subschemas evaluated, which a grammar does not track",
    "$dynamicRef": "dynamic references are resolved at validation time",
    "$recursiveRef": "dynamic references are resolved at validation time"
};

/** Reasons for refusing a keyword's value (rather than the keyword). */
export const REFUSED_VALUES = {
    uniqueItems: "uniqueItems: true: a grammar cannot compare one item with another",
    multipleOf: "multipleOf that is not an integer, or on a number: validators test it in floating point, where 0.3 is not a multiple of 0.1",
    minProperties: "minProperties above the number of required properties: a grammar cannot keep generated keys distinct"
};
