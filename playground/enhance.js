// @ts-check
/** The Enhance tab: POST /enhance with a job type and quality, the result beside the original, and a copy button. */
import {api} from "./api.js";
import {byId, messageOf, showError} from "./dom.js";

export class EnhanceTab {
    constructor() {
        this.jobType = byId("job-type", HTMLSelectElement);
        this.quality = byId("quality", HTMLSelectElement);
        this.prompt = byId("enhance-prompt", HTMLTextAreaElement);
        this.run = byId("enhance-run", HTMLButtonElement);
        this.error = byId("enhance-error", HTMLElement);
        this.result = byId("enhance-result", HTMLElement);
        this.output = byId("enhance-output", HTMLElement);
        this.copied = byId("enhance-copied", HTMLElement);
        byId("enhance-form", HTMLFormElement).addEventListener("submit", (event) => {
            event.preventDefault();
            void this.enhance();
        });
        byId("enhance-copy", HTMLButtonElement).addEventListener("click", () => void this.copy());
    }

    /** The job types the worker has templates for (GET /enhancement/info). */
    async loadJobTypes() {
        const info = await api("/enhancement/info");
        const current = this.jobType.value;
        /** @type {Record<string, {description?: string | null, quality?: string}>} */
        const details = info.job_types ?? {};
        this.jobType.replaceChildren(new Option("the worker's default", ""), ...info.supported_job_types.map(
            (/** @type {string} */ type) => new Option(details[type]?.quality != null ? `${type} (${details[type].quality})` : type, type)));
        this.jobType.value = info.supported_job_types.includes(current) ? current : "";
    }

    async enhance() {
        showError(this.error, null);
        /** @type {Record<string, unknown>} */
        const body = {prompt: this.prompt.value};
        if (this.jobType.value !== "") body.job_type = this.jobType.value;
        if (this.quality.value !== "") body.quality = this.quality.value;
        this.run.disabled = true;
        try {
            const answer = await api("/enhance", {body});
            byId("enhance-original", HTMLElement).textContent = answer.original_prompt;
            this.output.textContent = answer.enhanced_prompt;
            byId("enhance-meta", HTMLElement).textContent = [
                answer.job_type, answer.quality, `${answer.usage?.completion_tokens} tokens`,
                `${Number(answer.generation_time).toFixed(2)} s`, `finish: ${answer.finish_reason}`
            ].join(" · ");
            this.copied.hidden = true;
            this.result.hidden = false;
        } catch (err) {
            showError(this.error, messageOf(err));
        } finally {
            this.run.disabled = false;
        }
    }

    /** Copies the enhanced prompt; outside a secure context (plain http on a LAN address) the Clipboard API is missing. */
    async copy() {
        const text = this.output.textContent ?? "";
        try {
            if (navigator.clipboard != null) {
                await navigator.clipboard.writeText(text);
            } else {
                const scratch = document.createElement("textarea");
                scratch.value = text;
                document.body.append(scratch);
                scratch.select();
                const copied = document.execCommand("copy");
                scratch.remove();
                if (!copied) throw new Error("the browser refused to copy");
            }
            this.copied.hidden = false;
        } catch (err) {
            showError(this.error, `Copy failed: ${messageOf(err)}`);
        }
    }
}
