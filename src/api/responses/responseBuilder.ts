import {randomUUID} from "node:crypto";
import type {ChatResult, ToolCallEvent} from "../../service/chatService.js";
import type {ConversationItem} from "./responsesInput.js";
import type {ItemStatus, OutputItem, OutputText, ResponseObject} from "./responsesSchemas.js";

/** An id in OpenAI's style: a prefix and 32 hex digits. */
export function newId(prefix: "resp" | "msg" | "fc"): string {
    return `${prefix}_${randomUUID().replace(/-/g, "")}`;
}

type MessageItem = Extract<OutputItem, {type: "message"}>;

/** Sends one event of the Responses stream (its `type` is the SSE event name too). */
export type EmitEvent = (event: {type: string; sequence_number: number} & Record<string, unknown>) => void;

/**
 * Builds a response from the chat service's hooks, and (streaming) emits OpenAI's events as the
 * output grows: an item is added when it starts, its text or arguments stream as deltas, and it
 * is done when the next one starts or the answer ends. The JSON body without `stream` is built by
 * the same calls, so both forms of an answer agree.
 */
export class ResponseBuilder {
    private sequence = 0;
    /** The item being written, if it is still open. */
    private current: OutputItem | null = null;

    constructor(readonly response: ResponseObject, private readonly emit: EmitEvent | null = null) {}

    /** The next event's sequence number (an error event takes its place in the order). */
    get nextSequence(): number {
        return this.sequence;
    }

    private send(type: string, fields: Record<string, unknown>): void {
        this.emit?.({type, sequence_number: this.sequence++, ...fields});
    }

    /** The stream's first events, once a sequence is leased. */
    start(): void {
        this.send("response.created", {response: this.response});
        this.send("response.in_progress", {response: this.response});
    }

    text(piece: string): void {
        if (piece === "") return;
        let item = this.current;
        if (item?.type !== "message") {
            this.closeCurrent("completed");
            item = this.open<MessageItem>({type: "message", id: newId("msg"), role: "assistant", status: "in_progress", content: []});
            const part: OutputText = {type: "output_text", text: "", annotations: [], logprobs: []};
            item.content.push(part);
            this.send("response.content_part.added", {item_id: item.id, output_index: this.index, content_index: 0, part});
        }
        item.content[0].text += piece;
        this.send("response.output_text.delta", {item_id: item.id, output_index: this.index, content_index: 0, delta: piece, logprobs: []});
    }

    toolCall(event: ToolCallEvent): void {
        let item = this.current;
        if (event.id != null || item?.type !== "function_call") {
            this.closeCurrent("completed");
            item = this.open({type: "function_call", id: newId("fc"), call_id: event.id ?? newId("fc"), name: event.name ?? "", arguments: "",
                status: "in_progress"});
        }
        if (event.arguments === "") return;
        item.arguments += event.arguments;
        this.send("response.function_call_arguments.delta", {item_id: item.id, output_index: this.index, delta: event.arguments});
    }

    /** Closes the last item and the response; returns the response as it ends. */
    finish(result: ChatResult): ResponseObject {
        const incomplete = result.finishReason === "length" || result.finishReason === "timeout";
        if (this.response.output.length === 0) this.emptyMessage();
        this.closeCurrent(incomplete ? "incomplete" : "completed");
        const {promptTokens, completionTokens, cachedTokens} = result.usage;
        Object.assign(this.response, {
            status: incomplete ? "incomplete" : "completed",
            completed_at: Math.floor(Date.now() / 1000),
            incomplete_details: incomplete ? {reason: "max_output_tokens"} : null,
            usage: {
                input_tokens: promptTokens, input_tokens_details: {cached_tokens: cachedTokens},
                output_tokens: completionTokens, output_tokens_details: {reasoning_tokens: 0}, total_tokens: promptTokens + completionTokens
            }
        });
        this.send(incomplete ? "response.incomplete" : "response.completed", {response: this.response});
        return this.response;
    }

    /** The answer's items, by their ids, as the conversation a follow-up continues. */
    conversationItems(): Map<string, ConversationItem> {
        return new Map(this.response.output.map((item): [string, ConversationItem] => [item.id, item.type === "message"
            ? {kind: "message", role: "assistant", text: item.content.map((part) => part.text).join(""), at: "previous_response_id"}
            : {kind: "call", callId: item.call_id, name: item.name, arguments: item.arguments, at: "previous_response_id"}]));
    }

    private get index(): number {
        return this.response.output.length - 1;
    }

    /** An answer with neither text nor calls is still one (empty) message, as OpenAI answers it. */
    private emptyMessage(): void {
        const item = this.open<MessageItem>({type: "message", id: newId("msg"), role: "assistant", status: "in_progress", content: []});
        const part: OutputText = {type: "output_text", text: "", annotations: [], logprobs: []};
        item.content.push(part);
        this.send("response.content_part.added", {item_id: item.id, output_index: this.index, content_index: 0, part});
    }

    private open<T extends OutputItem>(item: T): T {
        this.response.output.push(item);
        this.current = item;
        this.send("response.output_item.added", {output_index: this.index, item});
        return item;
    }

    private closeCurrent(status: ItemStatus): void {
        const item = this.current;
        if (item == null) return;
        this.current = null;
        item.status = status;
        if (item.type === "message") {
            const part = item.content[0];
            this.send("response.output_text.done", {item_id: item.id, output_index: this.index, content_index: 0, text: part.text, logprobs: []});
            this.send("response.content_part.done", {item_id: item.id, output_index: this.index, content_index: 0, part});
        } else
            this.send("response.function_call_arguments.done", {item_id: item.id, output_index: this.index, name: item.name, arguments: item.arguments});
        this.send("response.output_item.done", {output_index: this.index, item});
    }
}
