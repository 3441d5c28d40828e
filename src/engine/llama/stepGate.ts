/**
 * Coordinates a context's generating sequences with node-llama-cpp's batch loop, two ways.
 *
 * Full batches. After a batch is decoded, node-llama-cpp resolves each sequence's step and, in the
 * same breath, forms the next batch from whatever is queued by then. The generating sequences
 * re-queue one after another through chains of promise callbacks, and the last one's is usually not
 * done in time: measured on the bench model at 8 streams, every batch held 7 tokens, one sequence
 * always a step behind. That costs a whole decode per round. So the batch prioritization strategy
 * asks `hold` before forming a batch: while a sequence that is in its token loop has nothing
 * queued, it returns an empty batch, which makes node-llama-cpp look again after the pending
 * callbacks ran (one or two looks fill the batch). The looks are bounded, so a sequence that is
 * busy elsewhere never holds the others for more than a few microtask turns.
 *
 * Room for setup work. The batch loop holds the context's lock for as long as anything is queued,
 * and generating sequences always have a next token queued, so whatever else needs that lock
 * (erasing a sequence's old tokens for a new request, saving or restoring a cached state) waited
 * until every other generation had ended: measured on the bench model, 8 new requests after a
 * 4-stream run were served 4 at a time. `exclusive` runs such work while the token loops pause
 * before their next step: the queue drains, the loop lets the lock go, the work runs, and the
 * loops go on. The pause costs the generating sequences about one step.
 */
export class StepGate {
    /** Sequences inside their token loop. */
    private active = 0;
    private looks = 0;
    /** Setup sections waiting for or holding the context (see `exclusive`). */
    private pausers = 0;
    private resumed: Promise<void> | null = null;
    private wake: (() => void) | null = null;
    /** Idle-time work waiting for no sequence to generate (see `idle`). */
    private idleWaiters: (() => void)[] = [];

    /** `fill`: hold batches for late sequences (BATCH_FILL); the pause for setup work is always on. */
    constructor(private readonly fill: boolean, private readonly maxLooks = MAX_LOOKS) {}

    enter(): void {
        this.active++;
    }

    leave(): void {
        this.active--;
        this.wakeIdle();
    }

    /** Resolves when no sequence is in its token loop and no setup work holds the context: idle time. */
    idle(): Promise<void> {
        if (this.active === 0 && this.pausers === 0)
            return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }

    private wakeIdle(): void {
        if (this.active !== 0 || this.pausers !== 0 || this.idleWaiters.length === 0)
            return;
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
    }

    /** True when the batch about to be formed from `queued` sequences' items should wait for the others. */
    hold(queued: number): boolean {
        // Sequences paused for setup work will not queue until it is done.
        if (this.fill && this.pausers === 0 && queued < this.active && this.looks < this.maxLooks) {
            this.looks++;
            return true;
        }
        this.looks = 0;
        return false;
    }

    /** Null, or a promise to await before the next step: setup work is waiting for the context. */
    paused(): Promise<void> | null {
        return this.resumed;
    }

    /** Runs `work`, which needs the context's lock, while the token loops pause (see the class comment). */
    async exclusive<T>(work: () => Promise<T>): Promise<T> {
        if (this.pausers++ === 0)
            this.resumed = new Promise((resolve) => this.wake = resolve);
        try {
            return await work();
        } finally {
            if (--this.pausers === 0) {
                this.resumed = null;
                this.wake?.();
                this.wakeIdle();
            }
        }
    }
}

/** How many times in a row a batch may be put off for a sequence that has not queued yet. */
const MAX_LOOKS = 32;
