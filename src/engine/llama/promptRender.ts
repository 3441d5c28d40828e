import {
    LlamaText, SpecialToken, SpecialTokensText, type ChatHistoryItem, type ChatModelFunctionCall, type ChatModelFunctions, type ChatModelResponse, type ChatWrapper,
    type LlamaModel, type Token
} from "node-llama-cpp";
import type {ChatMessage, ToolSet} from "../types.js";
import {forcedFunction} from "./toolCallSyntax.js";

/** JSON the client sent as text (call arguments, tool results) as a value, so the wrapper writes it as the model was trained to; other text stays a string. */
function jsonOrText(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

function endsWithCall(item: ChatHistoryItem | undefined): boolean {
    if (item?.type !== "model") return false;
    const last = item.response.at(-1);
    return typeof last === "object" && last != null && last.type === "functionCall";
}

function toChatHistory(messages: ChatMessage[], openAssistantTurn: boolean): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = [];
    for (const message of messages) {
        if (message.role === "system")
            history.push({type: "system", text: message.content});
        else if (message.role === "user")
            history.push({type: "user", text: message.content});
        else {
            const calls = (message.toolCalls ?? []).map((call): ChatModelFunctionCall => ({
                type: "functionCall", name: call.name, params: jsonOrText(call.arguments), result: jsonOrText(call.result)
            }));
            const response: ChatModelResponse["response"] = [...(message.content !== "" || calls.length === 0 ? [message.content] : []), ...calls];
            // After tool results the model goes on in the same turn (node-llama-cpp's model of a
            // turn): the answer that follows them continues the item that made the calls.
            const previous = history.at(-1);
            if (endsWithCall(previous))
                (previous as ChatModelResponse).response.push(...response);
            else
                history.push({type: "model", response});
        }
    }
    // An empty model turn at the end makes the template open the assistant's reply; after tool
    // results the wrapper opens it itself.
    if (openAssistantTurn && !endsWithCall(history.at(-1)))
        history.push({type: "model", response: []});
    return history;
}

function availableFunctions(tools: ToolSet): ChatModelFunctions {
    return Object.fromEntries(tools.functions.map((fn) => [fn.name, {
        ...(fn.description != null ? {description: fn.description} : {}),
        ...(fn.parameters != null ? {params: fn.parameters as never} : {})
    }]));
}

/**
 * Renders with the model's chat wrapper. Client text stays text: the wrapper keeps special tokens
 * apart from message strings, so "<|im_end|>" typed by a client is tokenized as plain characters.
 * Tools are described the way the wrapper's template does it (Qwen: a `# Tools` section in the
 * system turn). A forced call (`required`, or a named function) opens the call in the prompt: the
 * wrapper's call prefix, and for a known function its name, so the model writes only what a
 * grammar lets it.
 */
export function renderPrompt(
    loaded: {chatWrapper: ChatWrapper; model: LlamaModel}, messages: ChatMessage[], openAssistantTurn = true, tools: ToolSet | null = null
): {text: string; tokens: Token[]} {
    const {contextText} = loaded.chatWrapper.generateContextState({
        chatHistory: toChatHistory(messages, openAssistantTurn),
        ...(tools != null ? {availableFunctions: availableFunctions(tools), documentFunctionParams: true} : {})
    });
    const forced = openAssistantTurn && tools != null ? forcedOpening(loaded.chatWrapper, tools) : null;
    const text = forced != null ? LlamaText([contextText, forced]) : contextText;
    return {text: displayText(text, loaded.model), tokens: text.tokenize(loaded.model.tokenizer)};
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

/** What a forced call's prompt ends with: the call prefix, and the name and params prefix when the function is known. */
function forcedOpening(wrapper: ChatWrapper, tools: ToolSet): LlamaText | null {
    if (tools.choice !== "required" && typeof tools.choice !== "object")
        return null;
    const {call} = wrapper.settings.functions;
    const name = forcedFunction(tools);
    return name != null ? LlamaText([call.prefix, name, call.paramsPrefix]) : LlamaText(call.prefix);
}

/** A raw prompt (no template): the model's BOS token when it wants one, then the text tokenized as text. */
export function renderRawPrompt(model: LlamaModel, text: string): {text: string; tokens: Token[]} {
    const bos = model.tokens.bos != null && model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
    const tokens = model.tokenize(text, false);
    return bos != null
        ? {text: (model.tokens.bosString ?? "") + text, tokens: [bos, ...tokens]}
        : {text, tokens};
}
