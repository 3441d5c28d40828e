/**
 * Turning sampled tokens into client text safely, one token at a time:
 * - `IncrementalDetokenizer` holds back tokens that end inside a multi-byte UTF-8 character, so a
 *   character split across tokens is sent whole; after a few tokens it gives up and emits U+FFFD,
 *   so a model that produces invalid bytes yields replacement characters, never a crash or a stall.
 * - `StopMatcher` finds stop strings that may straddle chunks, holding back only the text that could
 *   still be the start of a stop string.
 */

const REPLACEMENT = "\uFFFD";
/** A UTF-8 character is at most 4 bytes; byte-level tokens can split it at most 3 times. */
const MAX_PENDING_TOKENS = 4;

export type Detokenize = (tokens: readonly number[], lastTokens: readonly number[]) => string;

export class IncrementalDetokenizer {
    private pending: number[] = [];
    private readonly history: number[] = [];

    constructor(private readonly detokenize: Detokenize) {}

    /** Adds one token and returns the text that is now complete ("" while a character is unfinished). */
    push(token: number): string {
        this.pending.push(token);
        const text = this.detokenize(this.pending, this.history.slice(-MAX_PENDING_TOKENS));
        if (text.endsWith(REPLACEMENT) && this.pending.length < MAX_PENDING_TOKENS)
            return "";
        return this.commit(text);
    }

    /** Emits whatever is still held back (with replacement characters if it is incomplete). */
    flush(): string {
        if (this.pending.length === 0)
            return "";
        return this.commit(this.detokenize(this.pending, this.history.slice(-MAX_PENDING_TOKENS)));
    }

    private commit(text: string): string {
        this.history.push(...this.pending);
        if (this.history.length > 64)
            this.history.splice(0, this.history.length - MAX_PENDING_TOKENS);
        this.pending = [];
        return text;
    }
}

export class StopMatcher {
    private held = "";
    private readonly longest: number;

    constructor(private readonly stops: readonly string[]) {
        this.longest = stops.reduce((max, stop) => Math.max(max, stop.length), 0);
    }

    /** Feeds generated text; returns the text safe to emit and whether (and which) stop string was reached. */
    push(text: string): {text: string; stopped: boolean; matched?: string} {
        if (this.stops.length === 0)
            return {text, stopped: false};
        const buffer = this.held + text;
        let first = -1;
        let matched = "";
        for (const stop of this.stops) {
            if (stop === "") continue;
            const index = buffer.indexOf(stop);
            if (index !== -1 && (first === -1 || index < first)) {
                first = index;
                matched = stop;
            }
        }
        if (first !== -1) {
            this.held = "";
            return {text: buffer.slice(0, first), stopped: true, matched};
        }
        const keep = this.partialSuffixLength(buffer);
        this.held = buffer.slice(buffer.length - keep);
        return {text: buffer.slice(0, buffer.length - keep), stopped: false};
    }

    /** The held-back text once generation ends without a stop string. */
    flush(): string {
        const rest = this.held;
        this.held = "";
        return rest;
    }

    /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
    private partialSuffixLength(buffer: string): number {
        for (let length = Math.min(this.longest - 1, buffer.length); length > 0; length--) {
            const suffix = buffer.slice(buffer.length - length);
            if (this.stops.some((stop) => stop.startsWith(suffix)))
                return length;
        }
        return 0;
    }
}
