import type {ChatInput, SamplingParams, ToolSet} from "../../service/chatService.js";
import {OPENAI_SAMPLING_DEFAULTS, samplingParams, toChatInput} from "../../service/requestShaping.js";
import {checkSchemaBounds} from "../../service/schemaBounds.js";
import {refuse, refusedField} from "../../http/fieldTable.js";
import {RESPONSES_FIELDS} from "./responsesFields.js";
import {conversationItems, toChatMessages, toToolSet, type ConversationItem} from "./responsesInput.js";
import type {ResponsesRequest} from "./responsesSchemas.js";

export interface ResponsesJob {
    input: ChatInput;
    params: SamplingParams;
    tools: ToolSet | null;
    /** The conversation without instructions: what a stored response keeps for a follow-up. */
    items: ConversationItem[];
    stream: boolean;
    store: boolean;
}

/**
 * Maps a Responses request (and the stored conversation it continues, if any) onto the chat
 * service's job, refusing what the worker cannot honour, never silently.
 */
export function toResponsesJob(
    body: ResponsesRequest, earlier: ConversationItem[], defaultMaxTokens: number, storedItem: (id: string) => ConversationItem | null
): ResponsesJob {
    const refused = refusedField(RESPONSES_FIELDS, body as Record<string, unknown>);
    if (refused != null)
        throw refuse(refused.field, refused.note);
    if (body.text?.verbosity != null)
        throw refuse("text.verbosity", "the worker's models have no verbosity control");
    const items = [...earlier, ...conversationItems(body.input, storedItem)];
    const tools = toToolSet(body);
    const format = body.text?.format;
    const forced = tools != null && tools.choice !== "none" && tools.choice !== "auto";
    if (forced && format != null && format.type !== "text")
        throw refuse("tool_choice", "a forced call is written under its own grammar: it cannot be combined with a JSON text.format");
    const params = samplingParams({
        max_tokens: body.max_output_tokens ?? defaultMaxTokens, temperature: body.temperature, top_p: body.top_p, seed: body.seed
    }, defaultMaxTokens, OPENAI_SAMPLING_DEFAULTS);
    if (format?.type === "json_object")
        params.grammar = {type: "json_object"};
    else if (format?.type === "json_schema") {
        if (format.name == null || format.schema == null)
            throw refuse("text.format", "a json_schema format needs name and schema", "invalid_request");
        checkSchemaBounds(format.schema, "text.format.schema");
        params.grammar = {type: "json_schema", schema: format.schema, field: "text.format.schema"};
    }
    return {
        input: toChatInput(toChatMessages(items, body.instructions)), params, tools, items, stream: body.stream ?? false, store: body.store ?? true
    };
}
