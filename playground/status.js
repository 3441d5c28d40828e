// @ts-check
/**
 * The status strip: model, device, state with load/unload, running and queued requests, memory,
 * and the worker's generation speed, refreshed live from GET /health, /model/info and /metrics.
 */
import {api} from "./api.js";
import {byId, messageOf, showError} from "./dom.js";

const REFRESH_MS = 2000;
const TOKENS_METRIC = "chat_worker_generation_tokens_total";

/**
 * A sample's value from Prometheus text (unlabelled samples only), or null when it is absent.
 * @param {string} text
 * @param {string} name
 */
export function metricValue(text, name) {
    for (const line of text.split("\n"))
        if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
    return null;
}

export class StatusStrip {
    constructor() {
        this.load = byId("model-load", HTMLButtonElement);
        this.unload = byId("model-unload", HTMLButtonElement);
        this.error = byId("status-error", HTMLElement);
        this.stateChip = byId("status-state-chip", HTMLElement);
        this.refreshing = false;
        /** The worker's answer to the last load or unload when it refused; shown until the next one. */
        /** @type {string | null} */
        this.controlError = null;
        /** @type {string | null} */
        this.deviceState = null;
        /** @type {{tokens: number, at: number} | null} */
        this.lastTokens = null;
        this.load.addEventListener("click", () => void this.control("/memory/load"));
        this.unload.addEventListener("click", () => void this.control("/memory/unload"));
    }

    start() {
        void this.refresh();
        setInterval(() => void this.refresh(), REFRESH_MS);
    }

    async refresh() {
        if (this.refreshing) return;
        this.refreshing = true;
        try {
            const health = await api("/health");
            this.set("status-model", health.model_name);
            const progress = health.load_progress != null ? ` ${health.load_progress}%` : "";
            // While MODEL's files download, the state reads "downloading 42%" (the load follows).
            this.set("status-state", health.reason_code === "downloading"
                ? `downloading${health.download_progress != null ? ` ${health.download_progress}%` : ""}`
                : `${stateWord(health.model_state)}${progress}`);
            this.stateChip.dataset.state = health.model_state;
            this.load.disabled = health.model_state === "ready" || health.model_state === "loading";
            this.unload.disabled = health.model_state === "unloaded";
            this.set("status-running", String(health.running_jobs));
            this.set("status-queued", String(health.queued_jobs));
            this.set("status-memory", health.memory_usage == null ? "unknown"
                : `${Number(health.memory_usage).toFixed(2)} GiB ${String(health.memory_kind ?? "").toUpperCase()}`.trim());
            // The device can change with a load; ask again when the state does.
            if (this.deviceState !== health.model_state) {
                const info = await api("/model/info");
                this.set("status-device", info.device ?? info.device_type ?? "unknown");
                this.deviceState = health.model_state;
            }
            this.throughput(await api("/metrics"));
            showError(this.error, this.controlError);
        } catch (err) {
            showError(this.error, messageOf(err));
        } finally {
            this.refreshing = false;
        }
    }

    /** Tokens per second the whole worker generated since the last refresh (every client's requests). */
    throughput(/** @type {string} */ metrics) {
        const tokens = metricValue(metrics, TOKENS_METRIC);
        if (tokens == null) {
            this.set("status-throughput", "unknown");
            return;
        }
        const now = performance.now();
        if (this.lastTokens != null) {
            const rate = (tokens - this.lastTokens.tokens) / ((now - this.lastTokens.at) / 1000);
            this.set("status-throughput", `${rate.toFixed(1)} tok/s`);
        } else {
            this.set("status-throughput", "measuring");
        }
        this.lastTokens = {tokens, at: now};
    }

    /** POST /memory/load or /memory/unload, then a refresh; the worker's answer is shown if it refuses. */
    async control(/** @type {string} */ path) {
        this.load.disabled = true;
        this.unload.disabled = true;
        this.set("status-state", path.endsWith("unload") ? "unloading" : "loading");
        this.controlError = null;
        try {
            await api(path, {body: {}});
        } catch (err) {
            this.controlError = messageOf(err);
        }
        showError(this.error, this.controlError);
        await this.refresh();
    }

    /**
     * @param {string} id
     * @param {string} text
     */
    set(id, text) {
        byId(id, HTMLElement).textContent = text;
    }
}

/** @param {string} state the engine state from /health */
function stateWord(state) {
    return state === "ready" ? "loaded" : state;
}
