import type {EngineStatus} from "../engine/types.js";

const WIDTH = 30;

/** "[#########.....................]  30% loading model" */
export function renderProgressBar(fraction: number, label: string): string {
    const clamped = Math.max(0, Math.min(1, fraction));
    const filled = Math.round(clamped * WIDTH);
    return `[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${String(Math.round(clamped * 100)).padStart(3)}% ${label}`;
}

/**
 * Draws the model's load progress on a terminal (redrawing one line) until the load settles,
 * then leaves the final line. Only for TTYs: logs elsewhere stay clean JSON.
 */
export function showLoadProgress(status: () => EngineStatus, stream: NodeJS.WriteStream, label: string, intervalMs = 100): void {
    const draw = (line: string) => stream.write(`\r${line}\x1b[K`);
    const timer = setInterval(() => {
        const current = status();
        if (current.state === "loading") {
            draw(renderProgressBar(current.loadProgress ?? 0, label));
            return;
        }
        clearInterval(timer);
        draw(current.state === "ready" ? renderProgressBar(1, `${label}: ready`) : `${label}: ${current.state}${current.reason ? ` (${current.reason})` : ""}`);
        stream.write("\n");
    }, intervalMs);
    timer.unref();
}
