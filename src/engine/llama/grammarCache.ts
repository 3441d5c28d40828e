import {isLlamaText, type Llama, type LlamaGrammar} from "node-llama-cpp";
import type {GrammarSpec} from "../types.js";
import {WorkerError} from "../../errors.js";
import {jsonSchemaGrammar} from "./jsonSchemaSupport.js";

/** Compiling a grammar costs far more than a token; requests that share one reuse it. */
const MAX_CACHED_GRAMMARS = 64;

export class GrammarCache {
    private readonly cache = new Map<string, Promise<LlamaGrammar>>();

    constructor(private readonly llama: Llama) {}

    /** A grammar that accepts exactly one of `names` (a forced call's function). */
    names(names: readonly string[]): Promise<LlamaGrammar> {
        return this.get({type: "gbnf", grammar: `root ::= ${names.map((name) => JSON.stringify(name)).join(" | ")}`});
    }

    get(spec: GrammarSpec): Promise<LlamaGrammar> {
        const key = JSON.stringify(spec);
        let grammar = this.cache.get(key);
        if (grammar == null) {
            grammar = this.compile(spec);
            grammar.catch(() => this.cache.delete(key));
            this.cache.set(key, grammar);
            if (this.cache.size > MAX_CACHED_GRAMMARS)
                this.cache.delete(this.cache.keys().next().value as string);
        }
        return grammar;
    }

    private async compile(spec: GrammarSpec): Promise<LlamaGrammar> {
        if (spec.type === "json_object")
            return await this.llama.getGrammarFor("json");
        // Refuses schemas whose constraints the grammar cannot enforce (a 400 naming the keyword).
        const schemaGrammar = spec.type === "json_schema" ? jsonSchemaGrammar(spec.schema, spec.field) : null;
        try {
            if (spec.type === "gbnf")
                return await this.llama.createGrammar({grammar: spec.grammar});
            return await this.llama.createGrammar({grammar: schemaGrammar as string});
        } catch (err) {
            throw new WorkerError("invalid_request", "invalid_grammar",
                `${spec.type === "gbnf" ? "grammar" : "JSON schema"} could not be compiled: ${(err as Error).message}`,
                {param: spec.type === "gbnf" ? "grammar" : spec.field ?? "response_format"});
        }
    }
}

/**
 * Texts after which a grammar's output is complete. node-llama-cpp's JSON grammars end with a run of
 * newlines that only its chat layer treats as the end; evaluating a sequence directly, we must stop on
 * them ourselves, or the model pads with newlines up to max_tokens.
 */
export function grammarStopTexts(grammar: LlamaGrammar | null): string[] {
    if (grammar == null)
        return [];
    return grammar.stopGenerationTriggers.flatMap((trigger) =>
        typeof trigger === "string" ? [trigger] : isLlamaText(trigger) ? [trigger.toString()] : []);
}
