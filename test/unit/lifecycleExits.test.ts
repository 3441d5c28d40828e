import {test} from "node:test";
import assert from "node:assert/strict";
import {ModelLifecycle} from "../../src/service/modelLifecycle.js";
import {ModelNotReadyError} from "../../src/errors.js";
import {unloadedStatus, type EngineExit} from "../../src/engine/types.js";
import {FakeEngine, streams} from "../helpers/fakeEngine.js";

/**
 * ModelLifecycle's decisions after an exit the engine reports (issue 22: it is the one owner of
 * the model's state), driven through a scripted engine: a crash while serving restarts it, a crash
 * that blames the model fails it and loads again later, an unload or /memory/load supersedes the plan.
 */

const quiet = {info: () => undefined, warn: () => undefined};

/** A scripted engine whose runner can "exit": its status goes to unloaded and the listeners hear why. */
class ExitingEngine extends FakeEngine {
    private readonly listeners: Array<(exit: EngineExit) => void> = [];

    onExit(listener: (exit: EngineExit) => void): void {
        this.listeners.push(listener);
    }

    exit(code: string, reason: string): void {
        this.state = unloadedStatus();
        for (const listener of this.listeners) listener({cause: "SIGKILL", code, reason, whileLoading: false});
    }
}

/** A planned load's timer keeps no process alive (unref): the test holds the event loop open while it waits. */
async function held<T>(promise: Promise<T>): Promise<T> {
    const hold = setInterval(() => undefined, 1000);
    try {
        return await promise;
    } finally {
        clearInterval(hold);
    }
}

async function loaded(): Promise<{engine: ExitingEngine; lifecycle: ModelLifecycle}> {
    const engine = new ExitingEngine(streams(["x"]));
    const lifecycle = new ModelLifecycle(engine, {idleUnloadSeconds: 0}, quiet);
    assert.equal((await lifecycle.load()).state, "ready");
    return {engine, lifecycle};
}

test("a runner that exits while serving: loading (runner_restarting) with the wait, a request waits for the new runner", async () => {
    const {engine, lifecycle} = await loaded();
    engine.exit("runner_crashed", "the model runner exited unexpectedly (SIGKILL)");
    const status = lifecycle.status();
    assert.equal(status.state, "loading");
    assert.equal(status.code, "runner_restarting");
    assert.equal(status.reason, "the model runner exited unexpectedly (SIGKILL); starting a new runner in 1 s");
    assert.equal(lifecycle.retryInSeconds, 1);
    const hold = await held(lifecycle.enter());
    hold.release();
    assert.equal(lifecycle.status().state, "ready");
    assert.equal(engine.loads, 2, "one load at boot, one restart");
    assert.equal(lifecycle.retryInSeconds, null);
});

test("a crash that blames the model: failed with the engine's reason, requests refused, a load planned; /memory/load tries at once", async () => {
    const {engine, lifecycle} = await loaded();
    engine.exit("model_invalid", "the model runner crashed while loading the model (SIGABRT)");
    assert.deepEqual(lifecycle.status(), {
        state: "failed", code: "model_invalid", reason: "the model runner crashed while loading the model (SIGABRT)", loadProgress: null
    });
    assert.equal(lifecycle.retryInSeconds, 2);
    await assert.rejects(lifecycle.enter(), ModelNotReadyError);
    assert.equal((await lifecycle.load()).state, "ready", "an explicit load does not wait for the plan");
    assert.equal(lifecycle.retryInSeconds, null, "and cancels it");
    assert.equal(engine.loads, 2);
});

test("an unload while a restart is planned: unloaded, nothing planned, the next request loads the model", async () => {
    const {engine, lifecycle} = await loaded();
    engine.exit("runner_crashed", "the model runner exited unexpectedly (SIGKILL)");
    await lifecycle.unload({force: false, timeoutSeconds: 1, cause: "request"});
    assert.equal(lifecycle.status().state, "unloaded");
    assert.equal(lifecycle.retryInSeconds, null);
    const hold = await lifecycle.enter();
    hold.release();
    assert.equal(engine.loads, 2);
});
