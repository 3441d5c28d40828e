import type {ChatMessage, ToolCallRecord, ToolSet} from "../../service/chatService.js";
import type {ChatCompletionRequest, OpenAiMessage} from "./openaiSchemas.js";
import {checkSchemaBounds} from "../../service/schemaBounds.js";
import {refuse} from "../../http/fieldTable.js";

/** Message content as text: a string, or text parts joined by newlines (as vLLM joins them). */
function contentText(message: OpenAiMessage, index: number): string {
    const {content} = message;
    if (content == null) {
        if (message.role !== "assistant")
            throw refuse(`messages[${index}].content`, "is required for this role", "invalid_request");
        return "";
    }
    if (typeof content === "string")
        return content;
    return content.map((part, partIndex) => {
        if (part.type !== "text" || typeof part.text !== "string")
            throw refuse(`messages[${index}].content[${partIndex}]`,
                `only text parts are supported (got ${JSON.stringify(part.type)} without text)`);
        return part.text;
    }).join("\n");
}

/**
 * What OpenAI returns on an assistant message about that answer (citations, a refusal's text, the
 * id of its audio, a reasoning model's thoughts). A conversation replayed from OpenAI carries them;
 * they describe an output and cannot change what the model is given, so they are accepted on
 * assistant messages and never rendered.
 */
export const OUTPUT_ONLY_FIELDS = ["annotations", "refusal", "audio", "reasoning_content"] as const;

/**
 * OpenAI messages as engine messages: `developer` is the system role, and `tool` messages fold
 * into the assistant turn whose call they answer (the engine renders a call with its result). As
 * OpenAI does, every call must be answered before the conversation goes on, and every tool message
 * must answer a call of the assistant turn before it.
 */
export function toChatMessages(messages: OpenAiMessage[]): ChatMessage[] {
    const out: ChatMessage[] = [];
    let open: {index: number; calls: Map<string, ToolCallRecord & {answered: boolean}>} | null = null;
    const closeCalls = (index: number) => {
        const missing = open != null ? [...open.calls.values()].filter((call) => !call.answered) : [];
        if (missing.length > 0)
            throw refuse(`messages[${open!.index}].tool_calls`,
                `every call needs a tool message answering it before messages[${index}]; unanswered: ${missing.map((call) => call.id).join(", ")}`,
                "invalid_request");
        open = null;
    };
    messages.forEach((message, index) => {
        if (message.function_call != null)
            throw refuse(`messages[${index}].function_call`, "is deprecated by OpenAI; use tool_calls");
        for (const field of OUTPUT_ONLY_FIELDS)
            if (message[field] != null && message.role !== "assistant")
                throw refuse(`messages[${index}].${field}`, "belongs to assistant messages (it describes an earlier answer)", "invalid_request");
        if (message.role === "tool") {
            const call = open?.calls.get(message.tool_call_id ?? "");
            if (call == null)
                throw refuse(`messages[${index}].tool_call_id`, "must name a call of the assistant message before it", "invalid_request");
            call.result = contentText(message, index);
            call.answered = true;
            return;
        }
        if (message.tool_call_id != null)
            throw refuse(`messages[${index}].tool_call_id`, "belongs to tool messages", "invalid_request");
        closeCalls(index);
        if (message.tool_calls != null && message.tool_calls.length > 0) {
            if (message.role !== "assistant")
                throw refuse(`messages[${index}].tool_calls`, "belongs to assistant messages", "invalid_request");
            const calls = new Map<string, ToolCallRecord & {answered: boolean}>();
            for (const call of message.tool_calls) {
                if (calls.has(call.id))
                    throw refuse(`messages[${index}].tool_calls`, `the id ${JSON.stringify(call.id)} is used twice`, "invalid_request");
                calls.set(call.id, {id: call.id, name: call.function.name, arguments: call.function.arguments, result: "", answered: false});
            }
            open = {index, calls};
            out.push({role: "assistant", content: contentText(message, index), toolCalls: [...calls.values()]});
            return;
        }
        out.push({role: message.role === "developer" ? "system" : message.role, content: contentText(message, index)});
    });
    closeCalls(messages.length);
    // The records were filled in place; the engine gets them without the bookkeeping.
    return out.map((message) => message.toolCalls != null
        ? {...message, toolCalls: message.toolCalls.map(({id, name, arguments: args, result}) => ({id, name, arguments: args, result}))}
        : message);
}

/** The request's tools as the engine's tool set; null when it offers none. */
export function toToolSet(body: Pick<ChatCompletionRequest, "tools" | "tool_choice" | "parallel_tool_calls">): ToolSet | null {
    const tools = body.tools ?? [];
    const choice = body.tool_choice;
    if (tools.length === 0) {
        if (choice != null && choice !== "none" && choice !== "auto")
            throw refuse("tool_choice", "needs tools to choose from", "invalid_request");
        return null;
    }
    const functions = tools.map((tool, index) => {
        if (tool.type !== "function" || tool.function == null)
            throw refuse(`tools[${index}]`, "only function tools are supported (custom tools are not)");
        const {name, description, parameters} = tool.function;
        if (tools.findIndex((other) => other.function?.name === name) !== index)
            throw refuse(`tools[${index}].function.name`, `${JSON.stringify(name)} is offered twice`, "invalid_request");
        if (parameters != null)
            checkSchemaBounds(parameters, `tools[${index}].function.parameters`);
        return {name, ...(description != null ? {description} : {}), ...(parameters != null ? {parameters} : {})};
    });
    let toolChoice: ToolSet["choice"] = "auto";
    if (typeof choice === "string")
        toolChoice = choice;
    else if (choice != null) {
        if (choice.type !== "function" || choice.function == null)
            throw refuse("tool_choice", `only "none", "auto", "required" or a named function are supported (got type ${JSON.stringify(choice.type)})`);
        const name = choice.function.name;
        if (!functions.some((fn) => fn.name === name))
            throw refuse("tool_choice", `names the function ${JSON.stringify(name)}, which is not in tools`, "invalid_request");
        toolChoice = {name};
    }
    return {functions, choice: toolChoice, parallel: body.parallel_tool_calls ?? true};
}
