import {test} from "node:test";
import assert from "node:assert/strict";
import {backoffSeconds} from "../../src/service/backoff.js";

/** The one backoff (runner restarts, load retries, registration): a pure function, checked by a table. */
test("backoffSeconds: the first delay, doubling with each failure in a row, never past the cap", () => {
    const restart = {firstSeconds: 1, maxSeconds: 30};
    const retry = {firstSeconds: 2, maxSeconds: 300};
    const registration = {firstSeconds: 0.05, maxSeconds: 60};
    const table: Array<[typeof restart, number, number]> = [
        [restart, 1, 1], [restart, 2, 2], [restart, 3, 4], [restart, 5, 16], [restart, 6, 30], [restart, 1000, 30], [restart, 0, 1],
        [retry, 1, 2], [retry, 2, 4], [retry, 8, 256], [retry, 9, 300], [retry, 2000, 300],
        [registration, 1, 0.05], [registration, 2, 0.1], [registration, 3, 0.2], [registration, 20, 60]
    ];
    for (const [schedule, failures, expected] of table)
        assert.equal(backoffSeconds(failures, schedule), expected, `${JSON.stringify(schedule)} after ${failures} failures`);
});
