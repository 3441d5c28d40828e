import type {RunnerExit} from "./runnerProcess.js";

/** What an exit of the runner means for /health: a stable code, and a reason written for the operator. */
export interface CrashStatus {
    /** For the crash counter: the signal, "exit_N", "memory", "load_timeout" or "download_stalled". */
    cause: string;
    code: string;
    reason: string;
}

/** Null for an exit that was asked for; otherwise what happened, worded for where it happened. */
export function crashStatus(exit: RunnerExit, whileLoading: boolean, loadTimeoutSeconds: number): CrashStatus | null {
    if (exit.requested && exit.killedFor !== "stop_timeout") return null;
    if (exit.killedFor === "memory")
        return {cause: "memory", code: "load_failed",
            reason: "the model runner was killed while loading: its memory grew past what the model needs (a corrupt or truncated model file?)"};
    if (exit.killedFor === "download_stalled")
        return {cause: "download_stalled", code: "download_failed",
            reason: "the model download received no data for DOWNLOAD_STALL_SECONDS (the server does not answer or the connection hangs); " +
                "it was stopped, and the next attempt resumes what arrived (the partial file is kept)"};
    if (exit.killedFor === "load_timeout")
        return {cause: "load_timeout", code: "load_failed",
            reason: `the model did not finish loading within LOAD_TIMEOUT_SECONDS (${loadTimeoutSeconds} s); the runner was killed`};
    const how = exit.signal != null ? exit.signal : `exit code ${exit.code}`;
    const cause = exit.signal ?? `exit_${exit.code}`;
    if (whileLoading)
        return {cause, code: "model_invalid",
            reason: `the model runner crashed while loading the model (${how}); the GGUF file is probably corrupt or unsupported`};
    return {cause, code: "runner_crashed", reason: `the model runner exited unexpectedly (${how})`};
}

/** Seconds before restarting a runner that crashed while serving: 1, 2, 4 ... 30, back to 1 once a runner stayed up. */
export class RestartBackoff {
    private attempt = 0;
    private readySince = 0;

    next(): number {
        // A runner that served for a minute was healthy: its crash starts the count again.
        if (this.readySince > 0 && Date.now() - this.readySince > 60_000) this.attempt = 0;
        this.readySince = 0;
        return Math.min(30, 2 ** this.attempt++);
    }

    loaded(): void {
        this.readySince = Date.now();
    }
}
