import {test} from "node:test";
import assert from "node:assert/strict";
import {pieceLength, SETTLE_PIECE_TOKENS} from "../../src/engine/llama/replySettle.js";
import {MIN_EVALUATED_TOKENS} from "../../src/engine/llama/determinism.js";
import {StepGate} from "../../src/engine/llama/stepGate.js";

test("settle pieces are at most SETTLE_PIECE_TOKENS and never leave a piece shorter than a prompt piece", () => {
    for (let left = MIN_EVALUATED_TOKENS; left <= 5 * SETTLE_PIECE_TOKENS; left++) {
        const pieces: number[] = [];
        for (let rest = left; rest > 0; rest -= pieces.at(-1)!) pieces.push(pieceLength(rest));
        assert.equal(pieces.reduce((sum, piece) => sum + piece, 0), left);
        for (const piece of pieces) {
            assert.ok(piece >= MIN_EVALUATED_TOKENS, `${left}: ${pieces.join(",")}`);
            assert.ok(piece <= SETTLE_PIECE_TOKENS, `${left}: ${pieces.join(",")}`);
        }
    }
});

test("the step gate is idle only when no sequence generates and no setup work holds the context", async () => {
    const gate = new StepGate(false);
    let idle = false;
    await gate.idle();
    gate.enter();
    gate.enter();
    const waiting = gate.idle().then(() => idle = true);
    gate.leave();
    await Promise.resolve();
    assert.equal(idle, false, "one sequence still generates");
    let release = (): void => undefined;
    const setup = gate.exclusive(() => new Promise<void>((resolve) => release = resolve));
    gate.leave();
    await Promise.resolve();
    assert.equal(idle, false, "setup work holds the context");
    release();
    await setup;
    await waiting;
    assert.equal(idle, true);
});
