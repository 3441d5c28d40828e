import type {EngineExit} from "../types.js";
import type {RunnerExit} from "./runnerProcess.js";

/**
 * Signals a process raises on itself: llama.cpp's abort on a failed assert, a segfault, a bus error.
 * An exit code is its own doing too. Any other signal (SIGKILL, SIGTERM, SIGHUP...) came from
 * outside: an operator, the OOM killer, an orchestrator. It says nothing about the model file.
 */
const SELF_RAISED = new Set<string>(["SIGABRT", "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP", "SIGSYS"]);

/**
 * What an exit of the runner says, as facts for ModelLifecycle: null for an exit that was asked
 * for. A crash while loading blames the model file only when the runner died of its own accord
 * (or we killed it for its memory or its load time); a kill from outside does not.
 */
export function crashReport(exit: RunnerExit, whileLoading: boolean, loadTimeoutSeconds: number): EngineExit | null {
    if (exit.requested && exit.killedFor !== "stop_timeout") return null;
    if (exit.killedFor === "memory")
        return {cause: "memory", code: "load_failed", whileLoading,
            reason: "the model runner was killed while loading: its memory grew past what the model needs (a corrupt or truncated model file?)"};
    if (exit.killedFor === "download_stalled")
        return {cause: "download_stalled", code: "download_failed", whileLoading,
            reason: "the model download received no data for DOWNLOAD_STALL_SECONDS (the server does not answer or the connection hangs); " +
                "it was stopped, and the next attempt resumes what arrived (the partial file is kept)"};
    if (exit.killedFor === "load_timeout")
        return {cause: "load_timeout", code: "load_failed", whileLoading,
            reason: `the model did not finish loading within LOAD_TIMEOUT_SECONDS (${loadTimeoutSeconds} s); the runner was killed`};
    // Stuck, not broken: restarted like a crash while serving (a load is never judged by these: runnerLiveness.ts).
    if (exit.killedFor === "unresponsive")
        return {cause: "unresponsive", code: "runner_crashed", whileLoading,
            reason: "the model runner stopped answering (RUNNER_HEARTBEAT_TIMEOUT_SECONDS) and was killed"};
    if (exit.killedFor === "step_timeout")
        return {cause: "step_timeout", code: "runner_crashed", whileLoading,
            reason: "a generation made no progress for GENERATION_STEP_TIMEOUT_SECONDS (a decode or grammar step that does not end); the model runner was killed"};
    const how = exit.signal != null ? exit.signal : `exit code ${exit.code}`;
    const cause = exit.signal ?? `exit_${exit.code}`;
    if (!whileLoading)
        return {cause, code: "runner_crashed", whileLoading, reason: `the model runner exited unexpectedly (${how})`};
    if (exit.signal == null || SELF_RAISED.has(exit.signal))
        return {cause, code: "model_invalid", whileLoading,
            reason: `the model runner crashed while loading the model (${how}); the GGUF file is probably corrupt or unsupported`};
    return {cause, code: "runner_crashed", whileLoading,
        reason: `the model runner was killed while loading the model (${how}, from outside: not a fault of the file)`};
}

/** A runner that could not start, or died before its ready handshake. */
export function startFailure(message: string): EngineExit {
    return {cause: "start", code: "backend_unavailable", whileLoading: true, reason: `the model runner could not start: ${message}`};
}
