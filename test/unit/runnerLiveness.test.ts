import {test} from "node:test";
import assert from "node:assert/strict";
import {livenessVerdict, type LivenessFacts, type LivenessVerdict} from "../../src/engine/runner/runnerLiveness.js";

/**
 * When the parent kills a runner that is alive but stuck (issue 24, defects 3 and 4): no pong
 * for the heartbeat timeout, or running generations with no progress for the step timeout;
 * never while a load runs, and never on a tick that follows a stall of the parent's own loop.
 */
test("livenessVerdict: unresponsive, step_timeout or nothing, by a table", () => {
    const options = {intervalMs: 1000, timeoutMs: 10_000, stepTimeoutMs: 60_000};
    const now = 100_000;
    const facts = (overrides: Partial<LivenessFacts>): LivenessFacts =>
        ({now, oldestUnansweredAt: null, stalledMs: null, previousTickAt: now - 1000, paused: false, ...overrides});
    const table: Array<[string, Partial<LivenessFacts>, LivenessVerdict]> = [
        ["every ping answered, idle", {}, null],
        ["a ping unanswered for 9 s", {oldestUnansweredAt: now - 9000}, null],
        ["a ping unanswered for 11 s", {oldestUnansweredAt: now - 11_000}, "unresponsive"],
        ["the same while a load runs", {oldestUnansweredAt: now - 11_000, paused: true}, null],
        ["the same right after the parent's own loop stalled 5 s", {oldestUnansweredAt: now - 11_000, previousTickAt: now - 5000}, null],
        ["generations stalled 59 s", {stalledMs: 59_000}, null],
        ["generations stalled 61 s", {stalledMs: 61_000}, "step_timeout"],
        ["generations stalled 61 s while a load runs", {stalledMs: 61_000, paused: true}, null],
        ["both: unanswered decides", {oldestUnansweredAt: now - 11_000, stalledMs: 61_000}, "unresponsive"]
    ];
    for (const [what, overrides, verdict] of table)
        assert.equal(livenessVerdict(facts(overrides), options), verdict, what);
});
