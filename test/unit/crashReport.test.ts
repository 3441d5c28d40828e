import {test} from "node:test";
import assert from "node:assert/strict";
import {crashReport, startFailure} from "../../src/engine/runner/crashReport.js";
import type {RunnerExit} from "../../src/engine/runner/runnerProcess.js";

const exit = (signal: NodeJS.Signals | null, code: number | null = null, killedFor: string | null = null, requested = false): RunnerExit =>
    ({signal, code, killedFor, requested});

/**
 * What a runner's exit says (issue 24, defect 7): only a runner that died of its own accord while
 * loading (an abort, a segfault, an exit code) blames the model file; a kill from outside does not.
 */
test("crashReport: the code and cause of each kind of exit, while loading and while serving", () => {
    const table: Array<[RunnerExit, boolean, string | null, string | null]> = [
        // exit, while loading, code, cause
        [exit("SIGABRT"), true, "model_invalid", "SIGABRT"],
        [exit("SIGSEGV"), true, "model_invalid", "SIGSEGV"],
        [exit("SIGBUS"), true, "model_invalid", "SIGBUS"],
        [exit(null, 134), true, "model_invalid", "exit_134"],
        [exit("SIGKILL"), true, "runner_crashed", "SIGKILL"],
        [exit("SIGTERM"), true, "runner_crashed", "SIGTERM"],
        [exit("SIGHUP"), true, "runner_crashed", "SIGHUP"],
        [exit("SIGKILL"), false, "runner_crashed", "SIGKILL"],
        [exit("SIGABRT"), false, "runner_crashed", "SIGABRT"],
        [exit(null, 1), false, "runner_crashed", "exit_1"],
        [exit("SIGKILL", null, "memory"), true, "load_failed", "memory"],
        [exit("SIGKILL", null, "load_timeout"), true, "load_failed", "load_timeout"],
        [exit("SIGKILL", null, "download_stalled"), true, "download_failed", "download_stalled"],
        // Stuck, not broken (runnerLiveness.ts): restarted, the file never blamed.
        [exit("SIGKILL", null, "unresponsive"), false, "runner_crashed", "unresponsive"],
        [exit("SIGKILL", null, "step_timeout"), false, "runner_crashed", "step_timeout"],
        [exit("SIGKILL", null, "stop_timeout", true), false, "runner_crashed", "SIGKILL"],
        [exit(null, 0, null, true), false, null, null],
        [exit("SIGKILL", null, "shutdown", true), true, null, null]
    ];
    for (const [happened, whileLoading, code, cause] of table) {
        const report = crashReport(happened, whileLoading, 60);
        const what = `${JSON.stringify(happened)} ${whileLoading ? "while loading" : "while serving"}`;
        assert.equal(report?.code ?? null, code, what);
        assert.equal(report?.cause ?? null, cause, what);
        if (report != null) assert.equal(report.whileLoading, whileLoading, what);
    }
});

test("crashReport: the reason blames the file only for a crash of the runner's own while loading", () => {
    assert.match(crashReport(exit("SIGABRT"), true, 60)!.reason, /crashed while loading the model \(SIGABRT\); the GGUF file is probably corrupt/);
    const killed = crashReport(exit("SIGKILL"), true, 60)!.reason;
    assert.match(killed, /killed while loading the model \(SIGKILL, from outside/);
    assert.doesNotMatch(killed, /corrupt/);
    assert.match(crashReport(exit("SIGKILL", null, "load_timeout"), true, 7)!.reason, /LOAD_TIMEOUT_SECONDS \(7 s\)/);
    assert.deepEqual(startFailure("it exited"), {
        cause: "start", code: "backend_unavailable", whileLoading: true, reason: "the model runner could not start: it exited"
    });
});
