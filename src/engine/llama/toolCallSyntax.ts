import {LlamaText, type ChatWrapper} from "node-llama-cpp";
import type {ToolSet} from "../types.js";
import type {ToolCallSyntax} from "./toolCallParser.js";

/**
 * How the model writes a call, as text, from the chat wrapper's function-call settings (the same
 * ones node-llama-cpp's own function calling detects calls with). Qwen:
 * `<tool_call>\n{"name": "` NAME `", "arguments": ` JSON `}\n</tool_call>`.
 */
export function toolCallSyntax(wrapper: ChatWrapper): ToolCallSyntax {
    const {call} = wrapper.settings.functions;
    return {
        prefix: LlamaText(call.prefix).toString(),
        paramsPrefix: LlamaText(call.paramsPrefix).toString(),
        suffix: LlamaText(call.suffix).toString()
    };
}

/** The one function a forced call must be: the named one, or the only one offered with `required`; null when the model picks. */
export function forcedFunction(tools: ToolSet): string | null {
    if (typeof tools.choice === "object")
        return tools.choice.name;
    if (tools.choice === "required" && tools.functions.length === 1)
        return tools.functions[0].name;
    return null;
}

/** Whether the tool choice forces a call (a grammar then writes it). */
export function isForced(tools: ToolSet | null | undefined): boolean {
    return tools != null && (tools.choice === "required" || typeof tools.choice === "object");
}
