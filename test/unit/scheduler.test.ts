import {test} from "node:test";
import assert from "node:assert/strict";
import {Scheduler} from "../../src/scheduler/scheduler.js";
import {QueueFullError, SchedulerClosedError} from "../../src/errors.js";

const hint = {conversationId: null, prompt: null};

test("leases are granted in FIFO order and every sequence is used", async () => {
    const scheduler = new Scheduler(2, 10);
    const a = await scheduler.acquire(hint);
    const b = await scheduler.acquire(hint);
    assert.notEqual(a.sequence, b.sequence);
    const order: string[] = [];
    const c = scheduler.acquire(hint).then((lease) => (order.push("c"), lease));
    const d = scheduler.acquire(hint).then((lease) => (order.push("d"), lease));
    assert.equal(scheduler.queued, 2);
    a.release();
    a.release(); // releasing twice is harmless
    const leaseC = await c;
    assert.equal(leaseC.sequence, a.sequence);
    b.release();
    await d;
    assert.deepEqual(order, ["c", "d"]);
    assert.equal(scheduler.running, 2);
});

test("a full queue fails fast with a retry hint; an aborted waiter leaves the queue", async () => {
    const scheduler = new Scheduler(1, 1);
    const lease = await scheduler.acquire(hint);
    const controller = new AbortController();
    const waiting = scheduler.acquire(hint, controller.signal);
    await assert.rejects(scheduler.acquire(hint), (err: unknown) =>
        err instanceof QueueFullError && (err.details.retryAfterSeconds ?? 0) >= 1);
    controller.abort();
    await assert.rejects(waiting, {name: "AbortError"});
    assert.equal(scheduler.queued, 0);
    lease.release();
    assert.equal(scheduler.running, 0);
    await scheduler.whenIdle();
});

test("closing rejects waiters and new requests but lets running leases finish", async () => {
    const scheduler = new Scheduler(1, 4);
    const lease = await scheduler.acquire(hint);
    const waiting = scheduler.acquire(hint);
    scheduler.close();
    await assert.rejects(waiting, SchedulerClosedError);
    await assert.rejects(scheduler.acquire(hint), SchedulerClosedError);
    const idle = scheduler.whenIdle();
    lease.release();
    await idle;
});

test("a custom picker chooses among free sequences", async () => {
    const scheduler = new Scheduler(3, 0, (free) => Math.max(...free));
    assert.equal((await scheduler.acquire(hint)).sequence, 2);
    assert.equal((await scheduler.acquire(hint)).sequence, 1);
});

test("a request's choices are admitted together: leased where free, queued otherwise, or all refused", async () => {
    const scheduler = new Scheduler(2, 1);
    const busy = await scheduler.acquire(hint);
    // One sequence free and room for one waiter: two choices fit, three do not (and none is taken).
    const refused = scheduler.acquireAll(3, hint);
    for (const lease of refused)
        await assert.rejects(lease, (err: unknown) => err instanceof QueueFullError);
    assert.equal(scheduler.running, 1);
    assert.equal(scheduler.queued, 0);
    const [first, second] = scheduler.acquireAll(2, hint);
    const firstLease = await first;
    assert.equal(scheduler.queued, 1, "the second choice waits like a request of its own");
    busy.release();
    const secondLease = await second;
    assert.notEqual(firstLease.sequence, secondLease.sequence);
    firstLease.release();
    secondLease.release();
    await scheduler.whenIdle();
});
