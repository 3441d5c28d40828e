import {z} from "zod";

/**
 * The zod 4 constructs issue 25 lists (and their neighbours a client reaches for), as real zod
 * schemas: tests turn each into JSON Schema with zod's own z.toJSONSchema, for both targets it
 * offers, and parse outputs back with the zod schema. Strings and arrays carry small maxima so a
 * sample from a tiny model completes.
 */
export interface Zod4Construct {
    name: string;
    schema: z.ZodType;
}

interface Category {
    name: string;
    children: Category[];
}
const Category: z.ZodType<Category> = z.object({
    name: z.string().max(6),
    get children() {
        return z.array(Category).max(2);
    }
});

export const ZOD4_CONSTRUCTS: Zod4Construct[] = [
    {name: "z.number().int()", schema: z.number().int()},
    {name: "z.int().min(-5).max(250)", schema: z.int().min(-5).max(250)},
    {name: "z.number().min(1).max(10)", schema: z.number().min(1).max(10)},
    {name: "z.number().min(0.1).max(0.9)", schema: z.number().min(0.1).max(0.9)},
    {name: "z.number().min(-1.5).max(2.25)", schema: z.number().min(-1.5).max(2.25)},
    {name: "z.number().positive()", schema: z.number().positive()},
    {name: "z.number().negative().gt(-3.5)", schema: z.number().negative().gt(-3.5)},
    {name: "z.number().nonnegative().lt(1)", schema: z.number().nonnegative().lt(1)},
    {name: "z.int().positive()", schema: z.int().positive()},
    {name: "z.int().multipleOf(5).min(0).max(100)", schema: z.int().multipleOf(5).min(0).max(100)},
    {name: "z.string().email()", schema: z.string().email()},
    {name: "z.email()", schema: z.email()},
    {name: "z.string().url()", schema: z.string().url()},
    {name: "z.string().uuid()", schema: z.string().uuid()},
    {name: "z.guid()", schema: z.guid()},
    {name: "z.string().regex(/^[A-Z]{3}-\\d{4}$/)", schema: z.string().regex(/^[A-Z]{3}-\d{4}$/)},
    {name: "z.string().regex(/ab+c/).max(12)", schema: z.string().regex(/ab+c/).max(12)},
    {name: "z.iso.datetime()", schema: z.iso.datetime()},
    {name: "z.iso.datetime({offset: true})", schema: z.iso.datetime({offset: true})},
    {name: "z.iso.date()", schema: z.iso.date()},
    {name: "z.iso.time()", schema: z.iso.time()},
    {name: "z.string().ipv4()", schema: z.string().ipv4()},
    {name: "z.hostname() (a leading lookahead)", schema: z.hostname()},
    {name: "z.cuid()", schema: z.cuid()},
    {name: "z.cuid2().max(10)", schema: z.cuid2().max(10)},
    {name: "z.ulid()", schema: z.ulid()},
    {name: "z.nanoid()", schema: z.nanoid()},
    {name: "z.e164()", schema: z.e164()},
    {name: "z.ipv6()", schema: z.ipv6()},
    {name: "z.base64().max(12) (^$|^...$)", schema: z.base64().max(12)},
    {name: "z.string().startsWith(\"ab\").max(5)", schema: z.string().startsWith("ab").max(5)},
    {name: "z.string().min(2).max(5)", schema: z.string().min(2).max(5)},
    {name: "z.record(z.string().max(2), z.int().min(0).max(9))", schema: z.record(z.string().max(2), z.int().min(0).max(9))},
    {name: "z.record(z.string().regex(/^[a-z]+$/), z.boolean())", schema: z.record(z.string().regex(/^[a-z]+$/).max(6), z.boolean())},
    {name: "z.record(z.enum([\"a\", \"b\"]), z.string())", schema: z.record(z.enum(["a", "b"]), z.string().max(4))},
    {name: "z.tuple([z.string(), z.number()])", schema: z.tuple([z.string().max(5), z.number()])},
    {name: "z.tuple([z.string(), z.boolean()]).rest(z.int())", schema: z.tuple([z.string().max(5), z.boolean()]).rest(z.int().min(0).max(9))},
    {name: "z.array(z.string()).min(1).max(3)", schema: z.array(z.string().max(8)).min(1).max(3)},
    {name: "recursive (getter)", schema: Category},
    {name: "z.enum / z.literal / z.union", schema: z.object({kind: z.enum(["a", "b"]), fixed: z.literal("x"), either: z.union([z.string().max(3), z.number()])})},
    {name: "nullable, optional, default", schema: z.object({a: z.string().max(4).nullable(), b: z.int().min(1).max(3).optional(), c: z.boolean().default(true)})},
    {name: "z.intersection", schema: z.intersection(z.object({a: z.string().max(3)}), z.object({b: z.boolean()}))},
    {name: "z.discriminatedUnion", schema: z.discriminatedUnion("type", [
        z.object({type: z.literal("circle"), r: z.number().min(0).max(10)}),
        z.object({type: z.literal("square"), side: z.int().min(1).max(5)})])},
    {name: "z.strictObject", schema: z.strictObject({n: z.int().min(1).max(99), note: z.string().max(6).nullable()})},
    {name: "z.looseObject", schema: z.looseObject({n: z.int().min(0).max(9)})}
];

/** The JSON Schema zod emits for `schema`, for `target` (draft-2020-12 is zod's default). */
export function zodJsonSchema(schema: z.ZodType, target: "draft-2020-12" | "draft-7"): Record<string, unknown> {
    return z.toJSONSchema(schema, {target, io: "output"}) as Record<string, unknown>;
}
