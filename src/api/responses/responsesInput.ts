import type {ChatMessage, ToolCallRecord, ToolSet} from "../../service/chatService.js";
import {checkSchemaBounds} from "../../service/schemaBounds.js";
import {WorkerError} from "../../errors.js";
import {refuse} from "../../http/fieldTable.js";
import type {InputItem, ResponsesRequest} from "./responsesSchemas.js";

/**
 * A Responses conversation, item by item, as the worker keeps it between turns: what a message
 * said, a call an answer made, the output the client ran it to. `at` names where it came from,
 * for errors (`input[2]`, or `previous_response_id` for a stored item).
 */
export type ConversationItem =
    | {kind: "message"; role: "system" | "user" | "assistant"; text: string; at: string}
    | {kind: "call"; callId: string; name: string; arguments: string; at: string}
    | {kind: "output"; callId: string; output: string; at: string};

const MESSAGE_ROLES = {system: "system", developer: "system", user: "user", assistant: "assistant"} as const;

/** Text of a message's content or a call's output: a string, or text parts joined by newlines. */
function partsText(content: InputItem["content"], at: string): string {
    if (typeof content === "string") return content;
    return (content ?? []).map((part, index) => {
        if ((part.type !== "input_text" && part.type !== "output_text") || typeof part.text !== "string")
            throw refuse(`${at}[${index}]`, `only input_text and output_text parts are supported (got ${JSON.stringify(part.type)})`);
        return part.text;
    }).join("\n");
}

function only(item: InputItem, at: string, allowed: readonly string[]): void {
    for (const [field, value] of Object.entries(item))
        if (value != null && !allowed.includes(field))
            throw refuse(`${at}.${field}`, `does not belong to a ${JSON.stringify(item.type ?? "message")} item`, "invalid_request");
}

/**
 * `input` as conversation items, every item checked (its kind, the fields that kind needs). An
 * `item_reference` (what a client with `store` sends for an earlier answer's items) is looked up
 * with `storedItem`.
 */
export function conversationItems(input: string | InputItem[], storedItem: (id: string) => ConversationItem | null = () => null): ConversationItem[] {
    if (typeof input === "string")
        return [{kind: "message", role: "user", text: input, at: "input"}];
    return input.map((item, index): ConversationItem => {
        const at = `input[${index}]`;
        const type = item.type ?? "message";
        if (type === "message") {
            only(item, at, ["type", "role", "content", "id", "status", "phase"]);
            const role = MESSAGE_ROLES[item.role as keyof typeof MESSAGE_ROLES];
            if (role == null)
                throw refuse(`${at}.role`, `must be one of system, developer, user, assistant (got ${JSON.stringify(item.role)})`, "invalid_request");
            if (item.content == null)
                throw refuse(`${at}.content`, "is required for a message", "invalid_request");
            return {kind: "message", role, text: partsText(item.content, `${at}.content`), at};
        }
        if (type === "function_call") {
            only(item, at, ["type", "call_id", "name", "arguments", "id", "status"]);
            if (item.call_id == null || item.name == null || item.arguments == null)
                throw refuse(at, "a function_call needs call_id, name and arguments", "invalid_request");
            return {kind: "call", callId: item.call_id, name: item.name, arguments: item.arguments, at};
        }
        if (type === "function_call_output") {
            only(item, at, ["type", "call_id", "output", "id", "status"]);
            if (item.call_id == null || item.output == null)
                throw refuse(at, "a function_call_output needs call_id and output", "invalid_request");
            return {kind: "output", callId: item.call_id, output: partsText(item.output, `${at}.output`), at};
        }
        if (type === "item_reference") {
            only(item, at, ["type", "id"]);
            const stored = item.id != null ? storedItem(item.id) : null;
            if (stored == null)
                throw new WorkerError("not_found", "item_not_found",
                    `${at}.id: no stored response has an item with the id ${JSON.stringify(item.id)} (responses are kept in memory for a while, and only with store)`,
                    {param: `${at}.id`});
            return {...stored, at};
        }
        throw refuse(`${at}.type`,
            `only message, function_call, function_call_output and item_reference items are supported (got ${JSON.stringify(type)})`);
    });
}

/**
 * The conversation as engine messages: instructions first (as the system message), calls folded
 * into the assistant turn that made them, each with the output that answers it. As OpenAI
 * requires, every call is answered before the conversation goes on, and every output answers a call.
 */
export function toChatMessages(items: ConversationItem[], instructions: string | null | undefined): ChatMessage[] {
    const out: ChatMessage[] = instructions != null ? [{role: "system", content: instructions}] : [];
    let open: Map<string, ToolCallRecord & {answered: boolean; at: string}> | null = null;
    const closeCalls = (at: string) => {
        const missing = open != null ? [...open.values()].filter((call) => !call.answered) : [];
        if (missing.length > 0)
            throw refuse(missing[0].at, `the call ${JSON.stringify(missing[0].id)} needs a function_call_output before ${at}`, "invalid_request");
        open = null;
    };
    let previous: ConversationItem | null = null;
    for (const item of items) {
        if (item.kind === "output") {
            const call = open?.get(item.callId);
            if (call == null)
                throw refuse(`${item.at}.call_id`, "must name a function_call of the turn before it", "invalid_request");
            call.result = item.output;
            call.answered = true;
        } else if (item.kind === "call") {
            // Calls in a row are one assistant turn, which joins the text the answer wrote before them.
            if (previous?.kind !== "call") {
                closeCalls(item.at);
                open = new Map();
                if (!(previous?.kind === "message" && previous.role === "assistant"))
                    out.push({role: "assistant", content: ""});
            }
            if (open!.has(item.callId))
                throw refuse(`${item.at}.call_id`, `the id ${JSON.stringify(item.callId)} is used twice`, "invalid_request");
            open!.set(item.callId, {id: item.callId, name: item.name, arguments: item.arguments, result: "", answered: false, at: item.at});
            out[out.length - 1].toolCalls = [...open!.values()];
        } else {
            closeCalls(item.at);
            out.push({role: item.role, content: item.text});
        }
        previous = item;
    }
    closeCalls("the new answer");
    // The records were filled in place; the engine gets them without the bookkeeping.
    return out.map((message) => message.toolCalls != null
        ? {...message, toolCalls: message.toolCalls.map(({id, name, arguments: args, result}) => ({id, name, arguments: args, result}))}
        : message);
}

const FUNCTION_TOOL_FIELDS = ["type", "name", "description", "parameters", "strict"];

/** The request's function tools as the engine's tool set; null when it offers none. */
export function toToolSet(body: Pick<ResponsesRequest, "tools" | "tool_choice" | "parallel_tool_calls">): ToolSet | null {
    const tools = body.tools ?? [];
    const choice = body.tool_choice;
    const functions = tools.map((tool, index) => {
        if (tool.type !== "function")
            throw refuse(`tools[${index}].type`, `only function tools are supported (got ${JSON.stringify(tool.type)})`);
        for (const field of Object.keys(tool))
            if (!FUNCTION_TOOL_FIELDS.includes(field) && (tool as Record<string, unknown>)[field] != null)
                throw refuse(`tools[${index}].${field}`, "is not supported on function tools");
        const {name, description, parameters} = tool;
        if (name == null)
            throw refuse(`tools[${index}].name`, "is required for a function tool", "invalid_request");
        if (tools.findIndex((other) => other.name === name) !== index)
            throw refuse(`tools[${index}].name`, `${JSON.stringify(name)} is offered twice`, "invalid_request");
        if (parameters != null)
            checkSchemaBounds(parameters, `tools[${index}].parameters`);
        return {name, ...(description != null ? {description} : {}), ...(parameters != null ? {parameters} : {})};
    });
    let toolChoice: ToolSet["choice"] = "auto";
    if (typeof choice === "string") {
        if (choice !== "none" && choice !== "auto" && choice !== "required")
            throw refuse("tool_choice", `must be "none", "auto", "required" or a function (got ${JSON.stringify(choice)})`, "invalid_request");
        toolChoice = choice;
    } else if (choice != null) {
        if (choice.type !== "function" || choice.name == null)
            throw refuse("tool_choice", `only "none", "auto", "required" or {type: "function", name} are supported (got type ${JSON.stringify(choice.type)})`);
        const name = choice.name;
        if (!functions.some((fn) => fn.name === name))
            throw refuse("tool_choice", `names the function ${JSON.stringify(name)}, which is not in tools`, "invalid_request");
        toolChoice = {name};
    }
    if (functions.length === 0) {
        if (toolChoice !== "none" && toolChoice !== "auto")
            throw refuse("tool_choice", "needs tools to choose from", "invalid_request");
        return null;
    }
    return {functions, choice: toolChoice, parallel: body.parallel_tool_calls ?? true};
}
