import {randomUUID} from "node:crypto";
import type {ChatInput, ChatMessage, ChatResult, FinishReason, Usage} from "../../service/chatService.js";
import {round} from "../../service/rounding.js";
import {logprobEntries} from "../../http/logprobEntries.js";
import type {ChatRequestBody, ChatResponseBody, ChatUsage, FINISH_REASONS, HistoryEntry} from "./chatSchemas.js";

/** A /chat body in the v2.0 shape (chatShape() checked it has `message`). */
export type V2ChatBody = ChatRequestBody & {message: string};

/** The original worker's minimal fallback, used only when the request carries no system prompt. */
export const FALLBACK_SYSTEM_PROMPT = "You are a helpful AI assistant.";

/** The native finish reasons; `tool_calls` needs tools, which the native routes never offer, so it cannot reach here (and would read as stop). */
export function nativeFinishReason(reason: FinishReason): (typeof FINISH_REASONS)[number] {
    return reason === "tool_calls" ? "stop" : reason;
}

export function systemPromptUsed(body: Pick<ChatRequestBody, "system_prompt">): string {
    return body.system_prompt ?? FALLBACK_SYSTEM_PROMPT;
}

/** Maps the native request onto the service's input: system pinned, history droppable, message pinned. */
export function chatInput(body: V2ChatBody): ChatInput {
    return {
        prefix: [{role: "system", content: systemPromptUsed(body)}],
        history: (body.conversation_history ?? []).map((entry): ChatMessage => ({role: entry.sender, content: entry.content})),
        tail: [{role: "user", content: body.message}]
    };
}

export function chatResponse(
    body: V2ChatBody, result: ChatResult, model: {model_name: string; model_loaded: boolean}, processingSeconds: number
): ChatResponseBody {
    const now = new Date().toISOString();
    // Only the contract's fields are echoed: an unknown field in an entry (any depth, any size)
    // is the client's business, not ours to serialize back.
    const history: HistoryEntry[] = [
        ...(body.conversation_history ?? []).map(({sender, content, created_at}) => created_at != null ? {sender, content, created_at} : {sender, content}),
        {sender: "user", content: body.message, created_at: now},
        {sender: "assistant", content: result.text, created_at: now}
    ];
    return {
        success: true,
        response: result.text,
        conversation_id: body.conversation_id ?? null,
        context_type: body.context_type ?? "general",
        message_id: randomUUID(),
        conversation_history: history,
        system_prompt_used: systemPromptUsed(body),
        model_info: model,
        sfw_mode: body.sfw_mode === true,
        processing_time: round(processingSeconds),
        generation_time: round(result.generationSeconds),
        finish_reason: nativeFinishReason(result.finishReason),
        usage: nativeUsage(result.usage),
        history_truncated: result.historyDropped,
        ...(result.logprobs != null ? {logprobs: {content: logprobEntries(result.logprobs)}} : {})
    };
}

/** The native `usage` object shared by /chat and /enhance. */
export function nativeUsage(usage: Usage): ChatUsage {
    return {
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        total_tokens: usage.promptTokens + usage.completionTokens,
        cached_tokens: usage.cachedTokens
    };
}
