import {
    ChatWrapper, LlamaText, SpecialToken,
    type ChatWrapperGenerateContextStateOptions, type ChatWrapperGeneratedContextState, type LlamaModel
} from "node-llama-cpp";

/**
 * How a model without a chat template (a base model) sees a conversation: the later worker's
 * plain fallback, one `role: content` line per message, ending in `assistant:` for the reply.
 * node-llama-cpp would otherwise guess a wrapper from the architecture (Llama2Chat's `[INST]` for
 * a llama base model), a format the model was never trained on and the caller never asked for.
 */
export class PlainChatWrapper extends ChatWrapper {
    readonly wrapperName = "plain";

    /** `bos`: the model wants its BOS token first (llama.cpp's add_bos), as any template would put it. */
    constructor(private readonly bos: boolean) {
        super();
    }

    override generateContextState({chatHistory}: ChatWrapperGenerateContextStateOptions): ChatWrapperGeneratedContextState {
        const lines: LlamaText[] = chatHistory.map((item, index) => {
            const last = index === chatHistory.length - 1;
            switch (item.type) {
                case "system":
                    return LlamaText(["system: ", LlamaText.fromJSON(item.text), "\n"]);
                case "user":
                    return LlamaText(["user: ", item.text, "\n"]);
                case "model": {
                    const text = this.generateModelResponseText(item.response);
                    // The open turn at the end is where the model answers.
                    return last && text.values.length === 0 ? LlamaText("assistant:") : LlamaText(["assistant: ", text, "\n"]);
                }
            }
        });
        return {
            contextText: LlamaText([this.bos ? new SpecialToken("BOS") : "", ...lines]),
            stopGenerationTriggers: [LlamaText(new SpecialToken("EOS"))]
        };
    }
}

/** True when the GGUF carries no chat template: it is rendered with PlainChatWrapper. */
export function hasNoChatTemplate(model: LlamaModel): boolean {
    const template = (model.fileInfo.metadata as {tokenizer?: {chat_template?: unknown}}).tokenizer?.chat_template;
    return typeof template !== "string" || template.trim() === "";
}
