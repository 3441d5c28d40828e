// @ts-check
/**
 * The Debug tab: the exact prompt the model was given for the Chat tab's last turn, or would be
 * given for a next message (POST /chat/debug/system-prompt), and whether the system prompt
 * reached it unchanged.
 */
import {api} from "./api.js";
import {byId, messageOf, showError} from "./dom.js";

export class DebugTab {
    /** @param {import("./chat.js").ChatTab} chat */
    constructor(chat) {
        this.chat = chat;
        this.message = byId("debug-message", HTMLInputElement);
        this.error = byId("debug-error", HTMLElement);
        this.result = byId("debug-result", HTMLElement);
        byId("debug-form", HTMLFormElement).addEventListener("submit", (event) => {
            event.preventDefault();
            void this.render();
        });
    }

    /** When the tab opens with nothing shown yet, it shows the last turn's prompt. */
    shown() {
        if (this.result.hidden && this.message.value === "" && this.chat.lastBody != null)
            void this.render();
    }

    async render() {
        showError(this.error, null);
        const what = byId("debug-what", HTMLElement);
        try {
            /** @type {Record<string, unknown>} */
            let request;
            /** @type {string} */
            let label;
            if (this.message.value !== "") {
                request = this.chat.requestBody(this.message.value);
                label = "The next turn, with this message and the Chat tab's settings:";
            } else if (this.chat.lastBody != null) {
                request = this.chat.lastBody;
                label = "The last turn, exactly as it was sent:";
            } else {
                throw new Error("Type a message to render, or send one in the Chat tab first.");
            }
            const body = await api("/chat/debug/system-prompt", {body: request});
            const verdict = byId("debug-verdict", HTMLElement);
            // An empty System prompt box sends none: that is a choice, not an override, whatever
            // the worker then puts in the system message (the v2.0 shape's fallback, shown below).
            const sent = body.system_prompt_received != null;
            verdict.textContent = !sent
                ? (body.system_prompt_used == null
                    ? "No system prompt sent, and none was added."
                    : "No system prompt sent: the worker used its fallback system prompt, shown below.")
                : body.no_override_detected
                    ? "No override detected: the system prompt reached the model unchanged."
                    : "Override detected: the system prompt the model got differs from the one sent.";
            verdict.dataset.ok = sent ? String(body.no_override_detected === true) : "none";
            byId("debug-tokens", HTMLElement).textContent = body.prompt_tokens == null ? "unknown" : String(body.prompt_tokens);
            byId("debug-rendered-by", HTMLElement).textContent = body.rendered_by;
            byId("debug-truncated", HTMLElement).textContent = `${body.history_truncated} messages`;
            const note = byId("debug-note", HTMLElement);
            note.textContent = body.rendering_note ?? "";
            note.hidden = body.rendering_note == null;
            byId("rendered-prompt", HTMLElement).textContent = body.rendered_prompt ?? "(rendered by the upstream; not known here)";
            byId("system-prompt-used", HTMLElement).textContent = body.system_prompt_used ?? "(none)";
            // Labelled only now, with the result it describes: set before the answer, it named a turn
            // the page was not showing yet.
            what.textContent = label;
            this.result.hidden = false;
        } catch (err) {
            this.result.hidden = true;
            showError(this.error, messageOf(err));
        }
    }
}
