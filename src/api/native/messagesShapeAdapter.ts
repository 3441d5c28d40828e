import {randomUUID} from "node:crypto";
import {WorkerError} from "../../errors.js";
import type {ChatInput, ChatMessage, ChatResult, ModelInfo} from "../../service/chatService.js";
import {toChatInput} from "../../service/requestShaping.js";
import {round} from "../../service/rounding.js";
import {logprobEntries} from "../../http/logprobEntries.js";
import type {ChatRequestBody, MessagesChatResponseBody} from "./chatSchemas.js";
import type {CallerModelInfo} from "./messagesShape.js";
import type {EnhanceRequestBody, MessagesEnhanceResponseBody} from "./enhanceSchemas.js";
import type {V2EnhanceBody} from "./nativeEnhance.js";
import {nativeFinishReason, nativeUsage, type V2ChatBody} from "./nativeChat.js";

/**
 * The messages shape (`messages`, see messagesShape.ts) of /chat, /generate and
 * /enhance onto the one chat pipeline, and back into the fields those callers read.
 */

export type CallerMessage = NonNullable<ChatRequestBody["messages"]>[number];
export type MessagesChatBody = ChatRequestBody & {messages: CallerMessage[]};

export type ChatShape = {kind: "v2"; body: V2ChatBody} | {kind: "messages"; body: MessagesChatBody};

/** Fields of the v2.0 shape that would mean something else beside `messages`. */
const V2_ONLY_FIELDS = ["message", "system_prompt", "conversation_history"] as const;

/** Which shape a /chat or /generate body is in; a mix of the two, or neither, is a 400 that says so. */
export function chatShape(body: ChatRequestBody): ChatShape {
    if (body.messages != null) {
        const mixed = V2_ONLY_FIELDS.filter((field) => body[field] !== undefined);
        if (mixed.length > 0)
            throw new WorkerError("invalid_request", "mixed_request_shapes",
                `${mixed.join(", ")}: belongs to the v2.0 shape (message, system_prompt, conversation_history), but this body has messages ` +
                "(the messages shape); send one shape, not both", {param: mixed[0]});
        return {kind: "messages", body: body as MessagesChatBody};
    }
    if (body.message == null)
        throw new WorkerError("invalid_request", "invalid_request",
            "message: required (or messages, the messages shape: [{role, content}, ...])", {param: "message"});
    return {kind: "v2", body: body as V2ChatBody};
}

/** The messages as given, in order: the leading system ones and the last are pinned, the rest may be shortened to fit. */
export function messagesInput(messages: readonly CallerMessage[]): ChatInput {
    return toChatInput(messages.map(({role, content}): ChatMessage => ({role, content})));
}

/** The first system message, which the debug endpoint reports as the system prompt received. */
export function systemMessage(messages: readonly CallerMessage[]): string | null {
    return messages.find((message) => message.role === "system")?.content ?? null;
}

export function callerModelInfo(info: ModelInfo, loaded: boolean): CallerModelInfo {
    return {
        model_name: info.modelName,
        model_loaded: loaded,
        inference_engine: info.engine === "openai" ? "openai_upstream" : "llama.cpp",
        active_model_type: info.modelType
    };
}

export function messagesChatResponse(
    body: MessagesChatBody, result: ChatResult, model: CallerModelInfo, processingSeconds: number
): MessagesChatResponseBody {
    return {
        success: true,
        response: result.text,
        generation_time: round(result.generationSeconds),
        tokens_generated: result.usage.completionTokens,
        model_info: model,
        conversation_id: body.conversation_id ?? null,
        context_type: body.context_type ?? null,
        message_id: randomUUID(),
        sfw_mode: body.sfw_mode === true,
        processing_time: round(processingSeconds),
        finish_reason: nativeFinishReason(result.finishReason),
        usage: nativeUsage(result.usage),
        history_truncated: result.historyDropped,
        ...(result.logprobs != null ? {logprobs: {content: logprobEntries(result.logprobs)}} : {})
    };
}

export type MessagesEnhanceBody = EnhanceRequestBody & {messages: CallerMessage[]};
export type EnhanceShape = {kind: "v2"; body: V2EnhanceBody} | {kind: "messages"; body: MessagesEnhanceBody};

/**
 * Which shape an /enhance body is in. `prompt` beside `messages` is refused; `job_type`,
 * `quality` and `enhancement_type` beside `messages` are the caller's labels (no template
 * applies to that shape: its system message is the instruction).
 */
export function enhanceShape(body: EnhanceRequestBody): EnhanceShape {
    if (body.messages != null) {
        if (body.prompt !== undefined)
            throw new WorkerError("invalid_request", "mixed_request_shapes",
                "prompt: belongs to the v2.0 shape (prompt + job_type), but this body has messages (the messages shape); send one shape, not both",
                {param: "prompt"});
        return {kind: "messages", body: body as MessagesEnhanceBody};
    }
    if (body.prompt == null)
        throw new WorkerError("invalid_request", "invalid_request",
            "prompt: required (or messages, the messages shape, whose system message is the instruction)", {param: "prompt"});
    return {kind: "v2", body: body as V2EnhanceBody};
}

export function messagesEnhanceResponse(result: ChatResult, body: MessagesEnhanceBody, model: CallerModelInfo, processingSeconds: number): MessagesEnhanceResponseBody {
    return {
        success: true,
        enhanced_prompt: result.text,
        generation_time: round(result.generationSeconds),
        tokens_generated: result.usage.completionTokens,
        model_info: model,
        sfw_mode: body.sfw_mode === true,
        processing_time: round(processingSeconds),
        finish_reason: nativeFinishReason(result.finishReason),
        usage: nativeUsage(result.usage)
    };
}
