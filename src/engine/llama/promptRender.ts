import {SpecialToken, SpecialTokensText, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type LlamaText, type Token} from "node-llama-cpp";
import type {ChatMessage} from "../types.js";

function toChatHistory(messages: ChatMessage[], openAssistantTurn: boolean): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
        switch (message.role) {
            case "system": return {type: "system", text: message.content};
            case "user": return {type: "user", text: message.content};
            case "assistant": return {type: "model", response: [message.content]};
        }
    });
    // An empty model turn at the end makes the template open the assistant's reply.
    if (openAssistantTurn)
        history.push({type: "model", response: []});
    return history;
}

/**
 * Renders with the model's chat wrapper. Client text stays text: the wrapper keeps special tokens
 * apart from message strings, so "<|im_end|>" typed by a client is tokenized as plain characters.
 */
export function renderPrompt(
    loaded: {chatWrapper: ChatWrapper; model: LlamaModel}, messages: ChatMessage[], openAssistantTurn = true
): {text: string; tokens: Token[]} {
    const {contextText} = loaded.chatWrapper.generateContextState({chatHistory: toChatHistory(messages, openAssistantTurn)});
    return {text: displayText(contextText, loaded.model), tokens: contextText.tokenize(loaded.model.tokenizer)};
}

/**
 * The prompt as the model sees it: a special token shown by its own text (`<s>`, `<|im_start|>`),
 * not by node-llama-cpp's placeholder name (`BOS`), which no model ever reads.
 */
function displayText(text: LlamaText, model: LlamaModel): string {
    return text.values.map((value) => {
        if (value instanceof SpecialToken)
            return model.detokenize(value.tokenize(model.tokenizer), true);
        if (value instanceof SpecialTokensText)
            return value.value;
        return value;
    }).join("");
}
