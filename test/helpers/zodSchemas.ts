/**
 * JSON schemas as zod 3 (zod-to-json-schema, draft-07), earlier zod 4 releases and Pydantic emit
 * them for the constructs issue 25 lists, written out by hand (the installed zod 4's own output is
 * in zod4Constructs.ts).
 */
export interface ZodCase {
    name: string;
    schema: Record<string, unknown>;
}

const ISO_DATETIME = "^(?:(?:\\d\\d[2468][048]|\\d\\d[13579][26]|\\d\\d0[48]|[02468][048]00|[13579][26]00)-02-29|\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|(?:02)-(?:0[1-9]|1\\d|2[0-8])))T(?:(?:[01]\\d|2[0-3]):[0-5]\\d(?::[0-5]\\d(?:\\.\\d+)?)?(?:Z))$";
const ZOD4_UUID = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000)$";
const DRAFT7 = "http://json-schema.org/draft-07/schema#";
const DRAFT2020 = "https://json-schema.org/draft/2020-12/schema";

export const ZOD_CASES: ZodCase[] = [
    {name: "z.number().int() (zod 3)", schema: {$schema: DRAFT7, type: "integer"}},
    {name: "z.int() (zod 4: safe-integer bounds)", schema: {$schema: DRAFT2020, type: "integer", minimum: -9007199254740991, maximum: 9007199254740991}},
    {name: "z.number().min(1).max(10)", schema: {$schema: DRAFT7, type: "number", minimum: 1, maximum: 10}},
    {name: "z.number().int().min(-5).max(250)", schema: {$schema: DRAFT7, type: "integer", minimum: -5, maximum: 250}},
    {name: "z.number().positive() (zod 3)", schema: {$schema: DRAFT7, type: "number", exclusiveMinimum: 0}},
    {name: "z.number().int().positive() (zod 4)", schema: {$schema: DRAFT2020, type: "integer", exclusiveMinimum: 0, maximum: 9007199254740991}},
    {name: "z.number().negative().gt(-3.5)", schema: {type: "number", exclusiveMaximum: 0, exclusiveMinimum: -3.5}},
    {name: "z.number().multipleOf(5).int().max(100).min(0)", schema: {type: "integer", multipleOf: 5, minimum: 0, maximum: 100}},
    {name: "z.string().email() (zod 3)", schema: {$schema: DRAFT7, type: "string", format: "email"}},
    {name: "z.email() (zod 4)", schema: {$schema: DRAFT2020, type: "string", format: "email", pattern: "^[A-Za-z0-9_'+\\-\\.]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$"}},
    {name: "z.email() (zod 4.0: leading negative lookaheads)", schema: {type: "string", format: "email", pattern: "^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$"}},
    {name: "a pattern with only leading lookaheads constraining it", schema: {type: "string", pattern: "^(?!\\.)(?!.*\\.\\.)[a-z.]{1,8}$"}},
    {name: "z.string().url()", schema: {type: "string", format: "uri"}},
    {name: "z.string().uuid() (zod 3)", schema: {type: "string", format: "uuid"}},
    {name: "z.uuid() (zod 4)", schema: {type: "string", format: "uuid", pattern: ZOD4_UUID}},
    {name: "z.string().regex(/^[A-Z]{3}-\\d{4}$/)", schema: {type: "string", pattern: "^[A-Z]{3}-\\d{4}$"}},
    {name: "z.string().regex(/ab+c/) (unanchored)", schema: {type: "string", pattern: "ab+c", maxLength: 12}},
    {name: "z.iso.datetime() (zod 4)", schema: {type: "string", format: "date-time", pattern: ISO_DATETIME}},
    {name: "z.string().datetime() (zod 3)", schema: {type: "string", format: "date-time"}},
    {name: "z.string().date() / time() / ip()", schema: {type: "object", properties: {d: {type: "string", format: "date"}, t: {type: "string", format: "time"}, ip: {type: "string", format: "ipv4"}, host: {type: "string", format: "hostname"}}, required: ["d", "t", "ip", "host"], additionalProperties: false}},
    {name: "z.string().min(2).max(5)", schema: {type: "string", minLength: 2, maxLength: 5}},
    {name: "z.record(z.string(), z.number())", schema: {type: "object", additionalProperties: {type: "number"}, maxProperties: 3}},
    {name: "z.record(z.string().regex(/^[a-z]+$/), z.boolean()) (zod 4 propertyNames)", schema: {type: "object", propertyNames: {type: "string", pattern: "^[a-z]+$", maxLength: 6}, additionalProperties: {type: "boolean"}, maxProperties: 3}},
    {name: "z.record(z.enum([\"a\",\"b\"]), z.string())", schema: {type: "object", propertyNames: {enum: ["a", "b"]}, additionalProperties: {type: "string", maxLength: 4}, maxProperties: 2}},
    {name: "z.tuple([z.string(), z.number()]) (zod 3, draft-07 items array)", schema: {$schema: DRAFT7, type: "array", minItems: 2, maxItems: 2, items: [{type: "string", maxLength: 5}, {type: "number"}]}},
    {name: "z.tuple([z.string(), z.boolean()]).rest(z.number()) (zod 4 prefixItems)", schema: {type: "array", prefixItems: [{type: "string", maxLength: 5}, {type: "boolean"}], items: {type: "integer"}, maxItems: 4}},
    {name: "z.array(z.string()).min(1).max(3)", schema: {type: "array", items: {type: "string", maxLength: 8}, minItems: 1, maxItems: 3}},
    {name: "recursive z.lazy (zod 3, #/definitions)", schema: {$schema: DRAFT7, $ref: "#/definitions/Category", definitions: {Category: {type: "object", properties: {name: {type: "string", maxLength: 8}, subcategories: {type: "array", items: {$ref: "#/definitions/Category"}, maxItems: 2}}, required: ["name", "subcategories"], additionalProperties: false}}}},
    {name: "recursive (zod 4, #/$defs and #)", schema: {$schema: DRAFT2020, type: "object", properties: {value: {type: "integer", minimum: 0, maximum: 9}, next: {anyOf: [{$ref: "#"}, {type: "null"}]}}, required: ["value", "next"], additionalProperties: false}},
    {name: "z.enum / z.literal / z.union", schema: {type: "object", properties: {kind: {type: "string", enum: ["a", "b"]}, fixed: {type: "string", const: "x"}, either: {anyOf: [{type: "string", maxLength: 3}, {type: "number"}]}}, required: ["kind", "fixed", "either"], additionalProperties: false}},
    {name: "z.string().nullable().optional() (zod 3 type array)", schema: {type: "object", properties: {a: {type: ["string", "null"], maxLength: 4}, b: {type: "integer", minimum: 1, maximum: 3}}, required: ["b"], additionalProperties: false}},
    {name: "z.intersection / .and() (allOf of objects)", schema: {allOf: [{type: "object", properties: {a: {type: "string", maxLength: 3}}, required: ["a"]}, {type: "object", properties: {b: {type: "boolean"}}, required: ["b"]}]}},
    {name: "z.discriminatedUnion (oneOf of objects)", schema: {oneOf: [{type: "object", properties: {type: {const: "circle"}, r: {type: "number", minimum: 0, maximum: 10}}, required: ["type", "r"], additionalProperties: false}, {type: "object", properties: {type: {const: "square"}, side: {type: "integer", minimum: 1, maximum: 5}}, required: ["type", "side"], additionalProperties: false}]}},
    {name: "OpenAI strict mode (all required, nullable via anyOf, $defs)", schema: {type: "object", properties: {step: {$ref: "#/$defs/step"}, note: {anyOf: [{type: "string", maxLength: 6}, {type: "null"}]}}, required: ["step", "note"], additionalProperties: false, $defs: {step: {type: "object", properties: {n: {type: "integer", minimum: 1, maximum: 99}}, required: ["n"], additionalProperties: false}}}},
    {name: "Pydantic dict[constr(pattern), int] with declared properties (patternProperties)", schema: {type: "object", properties: {id: {type: "integer", minimum: 0, maximum: 9}, x_a: {type: "string"}}, required: ["id", "x_a"], patternProperties: {"^x_": {type: "string", maxLength: 3}, "^n_[a-z]$": {type: "number", minimum: -1, maximum: 1}}, additionalProperties: false, propertyNames: {maxLength: 4}, maxProperties: 4}},
    {name: "patternProperties with an additionalProperties schema", schema: {type: "object", patternProperties: {"^[a-c]$": {type: "boolean"}}, additionalProperties: {type: "integer", minimum: 0, maximum: 3}, propertyNames: {maxLength: 2}, maxProperties: 3}},
    {name: "Pydantic (title, description, default, optional with default)", schema: {title: "Item", type: "object", properties: {price: {title: "Price", type: "number", exclusiveMinimum: 0, maximum: 1000}, qty: {title: "Qty", type: "integer", default: 1, minimum: 0, maximum: 50}}, required: ["price"]}}
];
