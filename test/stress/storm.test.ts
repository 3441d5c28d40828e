import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import {startTestWorker, until, untilAsync, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {metricValue, ONE_THREAD} from "../helpers/opsHelpers.js";
import {getJson} from "../helpers/http.js";

/**
 * Disconnect storms: 50 requests dropped at random moments (before the answer, while queued,
 * mid-stream). Afterwards nothing is left in the scheduler, the gauges read 0 within a second,
 * and a new request starts at once.
 */

let server: TestWorker;
const STORM = 50;

before(async () => {
    server = await startTestWorker({...ONE_THREAD, PARALLEL: "4", MAX_QUEUE: "64", CONTEXT_SIZE: "4096", MAX_TOKENS_LIMIT: "4000"});
});
after(() => server?.close());

/** Sends one long generation and destroys the socket after `dropAfterMs`; resolves with what the client saw. */
function droppedRequest(stream: boolean, dropAfterMs: number): Promise<"before-response" | "mid-response" | "completed"> {
    return new Promise((resolve) => {
        let phase: "before-response" | "mid-response" | "completed" = "before-response";
        const request = http.request(`${server.url}/chat`, {method: "POST", headers: {"content-type": "application/json"}}, (response) => {
            phase = "mid-response";
            response.on("data", () => undefined);
            response.on("end", () => phase = "completed");
            response.on("error", () => undefined);
        });
        request.on("error", () => undefined);
        request.on("close", () => resolve(phase));
        request.end(JSON.stringify({message: "storm", max_tokens: 4000, ignore_eos: true, stream}));
        setTimeout(() => request.destroy(), dropAfterMs);
    });
}

async function assertDrained(label: string): Promise<void> {
    const dropped = performance.now();
    const {scheduler, lifecycle} = server.worker;
    await until(() => scheduler.running === 0 && scheduler.queued === 0 && lifecycle.waiting === 0, 1000,
        `${label}: running and queued back to 0 within a second`);
    const drainMs = performance.now() - dropped;
    // A request dropped right after its body was sent can still lease a sequence after the check
    // above (and give it back at once): wait for the gauges themselves, as a scraper would see them.
    let metrics = "";
    await untilAsync(async () => {
        metrics = await fetch(`${server.url}/metrics`).then((response) => response.text());
        return metricValue(metrics, "chat_worker_running_sequences") === 0 && metricValue(metrics, "chat_worker_queue_depth") === 0;
    }, 1000, `${label}: the gauges back to 0 within a second`).catch(() => undefined);
    assert.equal(metricValue(metrics, "chat_worker_running_sequences"), 0, `${label}: running gauge`);
    assert.equal(metricValue(metrics, "chat_worker_queue_depth"), 0, `${label}: queue gauge`);
    const status = await getJson(`${server.url}/memory/status`);
    assert.equal(status.status, 200);

    const started = performance.now();
    const next = await postJson(`${server.url}/chat`, {message: "after the storm", max_tokens: 3});
    const nextMs = performance.now() - started;
    assert.equal(next.status, 200, JSON.stringify(next.json));
    assert.equal(next.json.usage.completion_tokens, 3);
    assert.ok(nextMs < 1000, `${label}: a new request is served at once (${nextMs.toFixed(0)} ms)`);
    console.log(`${label}: drained ${drainMs.toFixed(0)} ms after the last drop; next request ${nextMs.toFixed(0)} ms`);
}

for (const stream of [true, false]) {
    const label = stream ? "streaming" : "non-streaming";
    test(`${STORM} ${label} requests dropped at random moments leave nothing behind`, async () => {
        let admitted = 0;
        const phases = await Promise.all(Array.from({length: STORM}, () => {
            admitted++;
            return droppedRequest(stream, Math.floor(Math.random() * 400));
        }));
        assert.equal(admitted, STORM);
        const counts = phases.reduce<Record<string, number>>((all, phase) => ({...all, [phase]: (all[phase] ?? 0) + 1}), {});
        console.log(`${label}: ${JSON.stringify(counts)}`);
        assert.equal(counts.completed ?? 0, 0, "no 4000-token generation could complete before its drop");
        await assertDrained(label);
    });
}
