import {z} from "zod";

/**
 * Real zod 4 schemas for every construct issue 25 lists, as the client libraries receive them from
 * an application (each client turns them into JSON Schema itself). Each construct sits in an object,
 * because structured output and tool parameters are objects. Strings carry a maxLength where the
 * construct allows one, so a sampled value stays short under the small token limits of the tests.
 */
export interface ZodClientCase {
    name: string;
    schema: z.ZodObject;
    /**
     * False where OpenAI's strict structured outputs cannot say it (records: additionalProperties
     * with a schema; tuples): the `openai` package's zod helpers then refuse the schema before
     * sending, so its tests send the JSON Schema (z.toJSONSchema) with `strict: false` instead.
     */
    openAiStrict?: false;
}

interface Tree {
    name: string;
    children: Tree[];
}

// Getter-based recursion: zod 4 emits it as a $ref into $defs (draft 2020-12) or definitions (draft-07).
// At most one child per node, so a sampled tree ends soon (with two, it can grow past any token limit).
const TreeNode: z.ZodType<Tree> = z.object({
    name: z.string().max(4),
    get children() {
        return z.array(TreeNode).max(1);
    }
});

const LazyNode: z.ZodType<Tree> = z.lazy(() => z.object({name: z.string().max(4), children: z.array(LazyNode).max(1)}));

export const ZOD_CLIENT_CASES: ZodClientCase[] = [
    {name: "z.number().int().min(-5).max(250)", schema: z.object({n: z.number().int().min(-5).max(250)})},
    {name: "z.number().positive()", schema: z.object({n: z.number().positive()})},
    {name: "z.number().min(0.1).max(0.9) (non-integer bounds)", schema: z.object({ratio: z.number().min(0.1).max(0.9)})},
    {name: "z.int().positive() and z.number().min(1).max(10)", schema: z.object({count: z.int().positive(), score: z.number().min(1).max(10)})},
    {name: "z.email()", schema: z.object({email: z.email().max(24)})},
    {name: "z.url()", schema: z.object({url: z.url().max(30)})},
    {name: "z.uuid()", schema: z.object({id: z.uuid()})},
    {name: "z.string().regex(/^[A-Z]{3}-\\d{4}$/)", schema: z.object({code: z.string().regex(/^[A-Z]{3}-\d{4}$/)})},
    {name: "z.iso.datetime()", schema: z.object({at: z.iso.datetime()})},
    {name: "z.record(z.string(), z.number())", schema: z.object({scores: z.record(z.string().max(4), z.number().int().min(0).max(9))}), openAiStrict: false},
    {name: "z.tuple([z.string(), z.number()])", schema: z.object({pair: z.tuple([z.string().max(4), z.number().int().min(0).max(99)])}), openAiStrict: false},
    {name: "recursive (getter)", schema: z.object({root: TreeNode})},
    {name: "recursive (z.lazy)", schema: z.object({root: LazyNode})},
    {name: "z.array().min(1).max(3), z.string().min(1).max(4)", schema: z.object({tags: z.array(z.string().min(1).max(4)).min(1).max(3)})}
];
