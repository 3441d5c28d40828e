import {backoffSeconds, type BackoffSchedule} from "./backoff.js";

/** A model that stayed ready this long was healthy: its next failure waits the first delay again. */
const HEALTHY_MS = 60_000;

/**
 * The next load of a model, planned after a failure (ModelLifecycle decides when to plan one):
 * the wait doubles with each failure in a row (backoff.ts), and starts from the first delay again
 * once the model stayed ready a minute. One plan at a time; a timer alone keeps no process alive.
 */
export class LoadRetry {
    private planned: {timer: NodeJS.Timeout; at: number; done: Promise<void>; settle(): void} | null = null;
    private failuresInRow = 0;
    private readySince: number | null = null;

    /** `load` runs when a planned wait is over. */
    constructor(private readonly load: () => Promise<unknown>) {}

    get isPlanned(): boolean {
        return this.planned != null;
    }

    /** Seconds until the planned load; null when none is planned. */
    get inSeconds(): number | null {
        return this.planned == null ? null : Math.max(0, Math.ceil((this.planned.at - performance.now()) / 1000));
    }

    /** Settles once the planned load has settled, or the plan is cancelled; undefined when none is planned. */
    get done(): Promise<void> | undefined {
        return this.planned?.done;
    }

    /** The model became ready: the failures in a row end once it stays so a minute. */
    ready(): void {
        this.readySince = performance.now();
    }

    /** Plans the load after one more failure in a row, replacing any plan; returns the wait in seconds. */
    plan(schedule: BackoffSchedule): number {
        this.cancel();
        if (this.readySince != null && performance.now() - this.readySince > HEALTHY_MS) this.failuresInRow = 0;
        this.readySince = null;
        const seconds = backoffSeconds(++this.failuresInRow, schedule);
        let settle!: () => void;
        const done = new Promise<void>((resolve) => settle = resolve);
        const timer = setTimeout(() => {
            this.planned = null;
            this.load().catch(() => undefined).finally(settle);
        }, seconds * 1000);
        timer.unref();
        this.planned = {timer, at: performance.now() + seconds * 1000, done, settle};
        return seconds;
    }

    cancel(): void {
        if (this.planned == null) return;
        clearTimeout(this.planned.timer);
        this.planned.settle();
        this.planned = null;
    }
}
