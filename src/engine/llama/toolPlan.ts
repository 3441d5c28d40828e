import {randomBytes} from "node:crypto";
import {LlamaText, type ChatWrapper, type LlamaGrammar, type LlamaModel} from "node-llama-cpp";
import type {ToolSet} from "../types.js";
import type {GrammarCache} from "./grammarCache.js";
import type {ToolPlan} from "./generation.js";
import {forcedFunction, isForced, toolCallSyntax} from "./toolCallSyntax.js";

/** A function without `parameters` takes none: its arguments are an empty object. */
const NO_PARAMETERS = {type: "object", properties: {}, additionalProperties: false};

/** OpenAI's call ids: "call_" and 24 random characters. */
function newCallId(): string {
    return `call_${randomBytes(18).toString("base64url").slice(0, 24)}`;
}

/**
 * How a generation handles `tools`: null with `none` (the tools are described, no call is
 * read); with `auto` calls are parsed out of the text; a forced call gets its grammars, compiled
 * here (before the first token, so a schema the grammar cannot enforce is a 400 up front).
 */
export async function toolPlan(
    loaded: {chatWrapper: ChatWrapper; model: LlamaModel; grammars: GrammarCache}, tools: ToolSet | null | undefined
): Promise<ToolPlan | null> {
    if (tools == null || tools.choice === "none")
        return null;
    const syntax = toolCallSyntax(loaded.chatWrapper);
    if (!isForced(tools))
        return {syntax, newId: newCallId, parallel: tools.parallel, forced: null};
    const name = forcedFunction(tools);
    const candidates = tools.functions
        .map((fn, index) => ({fn, index}))
        .filter(({fn}) => name == null || fn.name === name);
    const grammars = new Map<string, LlamaGrammar>();
    for (const {fn, index} of candidates)
        grammars.set(fn.name, await loaded.grammars.get({
            type: "json_schema", schema: fn.parameters ?? NO_PARAMETERS, field: `tools[${index}].function.parameters`
        }));
    return {
        syntax, newId: newCallId, parallel: false,
        forced: {
            name,
            names: name == null ? await loaded.grammars.names(tools.functions.map((fn) => fn.name)) : null,
            paramsPrefix: LlamaText(loaded.chatWrapper.settings.functions.call.paramsPrefix).tokenize(loaded.model.tokenizer),
            argumentsGrammar: async (chosen) => {
                const grammar = grammars.get(chosen);
                if (grammar == null) throw new Error(`no grammar for the function ${JSON.stringify(chosen)}`);
                return grammar;
            }
        }
    };
}
