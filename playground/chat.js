// @ts-check
/**
 * The Chat tab: a conversation with the worker over POST /chat, streamed token by token. The
 * conversation id and history are kept here, so each turn lets the worker reuse the cached prefix.
 */
import {api, streamChat} from "./api.js";
import {byId, make, messageOf, numberValue} from "./dom.js";

/** @typedef {{sender: "user" | "assistant", content: string}} Turn */

/** Settings inputs and the request fields they fill; an empty input sends nothing. */
const SETTINGS = [
    {id: "temperature", field: "temperature", label: "Temperature"},
    {id: "top-p", field: "top_p", label: "top_p"},
    {id: "max-tokens", field: "max_tokens", label: "Max tokens"},
    {id: "seed", field: "seed", label: "Seed"},
    {id: "frequency-penalty", field: "frequency_penalty", label: "Frequency penalty"},
    {id: "presence-penalty", field: "presence_penalty", label: "Presence penalty"},
    {id: "repetition-penalty", field: "repetition_penalty", label: "Repetition penalty"}
];

/** A conversation id that works outside secure contexts too (crypto.randomUUID needs one). */
function newConversationId() {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return `playground-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

export class ChatTab {
    constructor() {
        this.form = byId("chat-form", HTMLFormElement);
        this.input = byId("message", HTMLTextAreaElement);
        this.send = byId("send", HTMLButtonElement);
        this.stop = byId("stop", HTMLButtonElement);
        this.messages = byId("messages", HTMLOListElement);
        /** A scroll is already planned for the next frame. */
        this.scrollPending = false;
        this.systemPrompt = byId("system-prompt", HTMLTextAreaElement);
        this.modelField = byId("model-field", HTMLLabelElement);
        this.modelSelect = byId("model-select", HTMLSelectElement);
        this.conversationLabel = byId("conversation-id", HTMLElement);
        /** @type {Turn[]} */
        this.history = [];
        /** @type {AbortController | null} */
        this.running = null;
        /** The body of the last turn sent, as sent (the Debug tab renders it). */
        /** @type {Record<string, unknown> | null} */
        this.lastBody = null;
        this.conversationId = "";
        this.newConversation();

        this.input.addEventListener("keydown", (event) => {
            // Enter sends; Shift+Enter (and Enter while an input method composes) adds a line.
            if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
                event.preventDefault();
                this.form.requestSubmit();
            }
        });
        this.form.addEventListener("submit", (event) => {
            event.preventDefault();
            void this.submit();
        });
        this.stop.addEventListener("click", () => this.running?.abort());
        byId("new-conversation", HTMLButtonElement).addEventListener("click", () => this.newConversation());
    }

    newConversation() {
        this.running?.abort();
        this.history = [];
        this.lastBody = null;
        this.messages.replaceChildren();
        this.conversationId = newConversationId();
        this.conversationLabel.textContent = this.conversationId;
    }

    /** Shows the model picker when the worker serves more than one model (GET /v1/models). */
    async loadModels() {
        const list = await api("/v1/models");
        const ids = (Array.isArray(list?.data) ? list.data : []).map((/** @type {{id: string}} */ model) => model.id);
        const current = this.modelSelect.value;
        this.modelSelect.replaceChildren(...ids.map((/** @type {string} */ id) => new Option(id, id)));
        if (ids.includes(current)) this.modelSelect.value = current;
        this.modelField.hidden = ids.length < 2;
    }

    /**
     * The request body for `message` as the next turn of this conversation, with the system
     * prompt and the settings that are set. Throws, naming the field, when a setting is not a number.
     * @param {string} message
     * @returns {Record<string, unknown>}
     */
    requestBody(message) {
        /** @type {Record<string, unknown>} */
        const body = {message, conversation_id: this.conversationId, conversation_history: [...this.history]};
        if (this.systemPrompt.value !== "") body.system_prompt = this.systemPrompt.value;
        if (!this.modelField.hidden && this.modelSelect.value !== "") body.model = this.modelSelect.value;
        for (const setting of SETTINGS) {
            const value = numberValue(byId(setting.id, HTMLInputElement), setting.label);
            if (value !== undefined) body[setting.field] = value;
        }
        return body;
    }

    async submit() {
        const text = this.input.value;
        if (text.trim() === "" || this.running != null) return;
        const userItem = this.addMessage("user", text);
        const reply = this.addMessage("assistant", "");
        /** @type {Record<string, unknown>} */
        let body;
        try {
            body = this.requestBody(text);
        } catch (err) {
            this.fail(userItem, reply, messageOf(err));
            return;
        }
        this.input.value = "";
        this.lastBody = body;
        const controller = new AbortController();
        this.setRunning(controller);
        const content = reply.querySelector(".content");
        const textNode = document.createTextNode("");
        content?.append(textNode);
        const started = performance.now();
        try {
            const done = await streamChat(body, controller.signal, (piece) => {
                textNode.appendData(piece);
                this.scrollToEnd();
            });
            // The done event carries the whole reply: show it as the worker has it.
            textNode.data = done.response;
            reply.dataset.state = "done";
            this.meta(reply, replyFacts(done));
            this.history.push({sender: "user", content: text}, {sender: "assistant", content: done.response});
        } catch (err) {
            if (controller.signal.aborted) {
                reply.dataset.state = "stopped";
                const seconds = (performance.now() - started) / 1000;
                this.meta(reply, `stopped after ${seconds.toFixed(1)} s`);
                // What was shown stays part of the conversation, as in any chat.
                this.history.push({sender: "user", content: text}, {sender: "assistant", content: textNode.data});
            } else {
                this.fail(userItem, reply, messageOf(err));
            }
        } finally {
            this.setRunning(null);
        }
    }

    /**
     * @param {HTMLLIElement} userItem
     * @param {HTMLLIElement} reply
     * @param {string} message
     */
    fail(userItem, reply, message) {
        userItem.classList.add("unanswered");
        reply.dataset.state = "error";
        reply.classList.add("error");
        const content = reply.querySelector(".content");
        if (content != null) content.textContent = message;
        if (this.input.value === "") this.input.value = userItem.querySelector(".content")?.textContent ?? "";
    }

    /** @param {AbortController | null} controller */
    setRunning(controller) {
        this.running = controller;
        this.send.hidden = controller != null;
        this.stop.hidden = controller == null;
        if (controller == null) this.input.focus();
    }

    /**
     * @param {"user" | "assistant"} sender
     * @param {string} text
     */
    addMessage(sender, text) {
        const item = make("li", `message ${sender}`);
        item.dataset.state = sender === "assistant" ? "streaming" : "sent";
        item.append(make("span", "who", sender === "user" ? "You" : "Model"), make("div", "content", text));
        this.messages.append(item);
        this.scrollToEnd();
        return item;
    }

    /**
     * @param {HTMLLIElement} item
     * @param {string} text
     */
    meta(item, text) {
        item.append(make("div", "meta", text));
    }

    /**
     * At most one scroll per frame: scrolling lays the page out, and doing it for every token of a
     * fast stream (thousands a second) froze the page, Stop button included.
     */
    scrollToEnd() {
        if (this.scrollPending) return;
        this.scrollPending = true;
        requestAnimationFrame(() => {
            this.scrollPending = false;
            this.messages.lastElementChild?.scrollIntoView({block: "end"});
        });
    }
}

/**
 * One line under a reply: tokens, speed, cache use and why it ended.
 * @param {any} done the `done` event's body
 */
export function replyFacts(done) {
    const usage = done.usage ?? {};
    const seconds = Number(done.generation_time);
    const rate = usage.completion_tokens / seconds;
    const speed = seconds > 0 ? `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} tok/s` : "tok/s unknown";
    return [
        `${usage.completion_tokens} tokens`,
        speed,
        `cached ${usage.cached_tokens} of ${usage.prompt_tokens} prompt tokens`,
        `finish: ${done.finish_reason}`
    ].join(" · ");
}
