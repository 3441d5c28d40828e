/** How long to wait before trying again: the first delay, doubling with each failure in a row, up to a cap. */
export interface BackoffSchedule {
    firstSeconds: number;
    maxSeconds: number;
}

/**
 * Seconds to wait after `failures` failures in a row (1 or more): firstSeconds, then twice that
 * each time, never more than maxSeconds. The one backoff of the worker: runner restarts, model
 * load retries (ModelLifecycle) and registration (registration.ts).
 */
export function backoffSeconds(failures: number, schedule: BackoffSchedule): number {
    const doublings = Math.max(0, failures - 1);
    // 2 ** 1100 is Infinity; Math.min still gives the cap.
    return Math.min(schedule.maxSeconds, schedule.firstSeconds * 2 ** doublings);
}
