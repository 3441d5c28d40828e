import type {Llama, LlamaGrammar} from "node-llama-cpp";
import type {GrammarSpec} from "../types.js";
import {WorkerError} from "../errors.js";

/** Compiling a grammar costs far more than a token; requests that share one reuse it. */
const MAX_CACHED_GRAMMARS = 64;

export class GrammarCache {
    private readonly cache = new Map<string, Promise<LlamaGrammar>>();

    constructor(private readonly llama: Llama) {}

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
        try {
            if (spec.type === "gbnf")
                return await this.llama.createGrammar({grammar: spec.grammar});
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            return await this.llama.createGrammarForJsonSchema(spec.schema as any);
        } catch (err) {
            throw new WorkerError("invalid_request", "invalid_grammar",
                `${spec.type === "gbnf" ? "grammar" : "JSON schema"} could not be compiled: ${(err as Error).message}`,
                {param: spec.type === "gbnf" ? "grammar" : "response_format"});
        }
    }
}
