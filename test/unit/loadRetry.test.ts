import {test} from "node:test";
import assert from "node:assert/strict";
import {LoadRetry} from "../../src/service/loadRetry.js";

const schedule = {firstSeconds: 0.01, maxSeconds: 0.04};

/** A plan's timer keeps no process alive (unref): the test holds the event loop open while it waits. */
async function awaitHeld(promise: Promise<void> | undefined): Promise<void> {
    const hold = setInterval(() => undefined, 1000);
    try {
        await promise;
    } finally {
        clearInterval(hold);
    }
}

test("LoadRetry: each plan waits longer (up to the cap), runs the load once, and `done` settles after it", async () => {
    let loads = 0;
    const retry = new LoadRetry(async () => {
        loads++;
    });
    assert.equal(retry.isPlanned, false);
    assert.equal(retry.done, undefined);
    const waits = [retry.plan(schedule), retry.plan(schedule), retry.plan(schedule), retry.plan(schedule)];
    assert.deepEqual(waits, [0.01, 0.02, 0.04, 0.04], "a new plan replaces the last one and counts one more failure");
    assert.equal(retry.isPlanned, true);
    assert.equal(retry.inSeconds, 1);
    await awaitHeld(retry.done);
    assert.equal(loads, 1);
    assert.equal(retry.isPlanned, false);
    assert.equal(retry.inSeconds, null);
});

test("LoadRetry: cancel settles `done` without loading; a model ready for a minute starts the count again", async () => {
    let loads = 0;
    const retry = new LoadRetry(async () => {
        loads++;
    });
    retry.plan(schedule);
    const done = retry.done;
    retry.cancel();
    await awaitHeld(done);
    assert.equal(loads, 0);
    assert.equal(retry.plan(schedule), 0.02, "the cancelled plan's failure still counts");
    retry.cancel();
    retry.ready();
    assert.equal(retry.plan(schedule), 0.04, "ready for less than a minute: the count goes on");
    retry.cancel();
    const realNow = performance.now.bind(performance);
    retry.ready();
    performance.now = () => realNow() + 61_000;
    try {
        assert.equal(retry.plan(schedule), 0.01, "ready for a minute: from the first delay again");
    } finally {
        performance.now = realNow;
        retry.cancel();
    }
});
