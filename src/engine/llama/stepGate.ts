/**
 * Keeps a context's evaluation batches full. After a batch is decoded, node-llama-cpp resolves
 * each sequence's step and, in the same breath, forms the next batch from whatever is queued by
 * then. The generating sequences re-queue one after another through chains of promise callbacks,
 * and the last one's is usually not done in time: measured on the bench model at 8 streams, every
 * batch held 7 tokens, one sequence always a step behind. That costs a whole decode per round.
 *
 * The batch prioritization strategy asks `hold` before forming a batch: while a sequence that is in
 * its token loop has nothing queued, it returns an empty batch, which makes node-llama-cpp look
 * again after the pending callbacks ran (measured: one or two looks fill the batch). The looks are
 * bounded, so a sequence that is busy elsewhere (its consumer waiting for I/O) never holds the
 * others for more than a few microtask turns.
 */
export class StepGate {
    /** Sequences inside their token loop. */
    private active = 0;
    private looks = 0;

    constructor(private readonly maxLooks = MAX_LOOKS) {}

    enter(): void {
        this.active++;
    }

    leave(): void {
        this.active--;
    }

    /** True when the batch about to be formed from `queued` sequences' items should wait for the others. */
    hold(queued: number): boolean {
        if (queued < this.active && this.looks < this.maxLooks) {
            this.looks++;
            return true;
        }
        this.looks = 0;
        return false;
    }
}

/** How many times in a row a batch may be put off for a sequence that has not queued yet. */
const MAX_LOOKS = 32;
