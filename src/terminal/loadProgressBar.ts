import type {DownloadProgress, EngineStatus} from "../engine/types.js";

const WIDTH = 30;
const GIB = 1024 ** 3;

/** "[#########.....................]  30% loading model" */
export function renderProgressBar(fraction: number, label: string): string {
    const clamped = Math.max(0, Math.min(1, fraction));
    const filled = Math.round(clamped * WIDTH);
    return `[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${String(Math.round(clamped * 100)).padStart(3)}% ${label}`;
}

/** "1.20 of 4.36 GiB", or the bytes so far while the size is not known. */
export function downloadedText(download: DownloadProgress): string {
    const done = (download.doneBytes / GIB).toFixed(2);
    return download.totalBytes != null ? `${done} of ${(download.totalBytes / GIB).toFixed(2)} GiB` : `${done} GiB`;
}

/**
 * Draws the model's download and load progress on a terminal (redrawing one line) until the load
 * settles, then leaves the final line. Only for TTYs: logs elsewhere stay clean JSON.
 */
export function showLoadProgress(status: () => EngineStatus, stream: NodeJS.WriteStream, model: string, intervalMs = 100): void {
    const draw = (line: string) => stream.write(`\r${line}\x1b[K`);
    const label = `loading ${model}`;
    const timer = setInterval(() => {
        const current = status();
        if (current.state === "loading") {
            const download = current.download;
            draw(download != null
                ? renderProgressBar(download.totalBytes != null ? download.doneBytes / download.totalBytes : 0, `downloading ${model} (${downloadedText(download)})`)
                : renderProgressBar(current.loadProgress ?? 0, label));
            return;
        }
        clearInterval(timer);
        draw(current.state === "ready" ? renderProgressBar(1, `${label}: ready`) : `${label}: ${current.state}${current.reason ? ` (${current.reason})` : ""}`);
        stream.write("\n");
    }, intervalMs);
    timer.unref();
}
