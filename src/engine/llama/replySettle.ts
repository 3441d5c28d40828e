import type {LlamaContextSequence, Token} from "node-llama-cpp";
import {MIN_EVALUATED_TOKENS} from "./determinism.js";
import type {Exclusive} from "./promptSharing.js";
import type {SequenceRecord} from "./prefixReuse.js";
import type {StepGate} from "./stepGate.js";
import {commonPrefixLength} from "./sequenceAffinity.js";

/** node-llama-cpp's lowest evaluation priority: a request's prompt is batched first. */
const IDLE_PRIORITY = 1;

/**
 * Tokens per idle-time piece. A request that arrives while a piece is evaluated waits for it, so
 * the piece bounds that wait (16 tokens: about 0.15 s on the 0.5B shape, 2 cores); each piece
 * reads the weights once more, which only costs idle time.
 */
export const SETTLE_PIECE_TOKENS = 16;

/** A reply being evaluated again as history; the next lease of its sequence ends it (`finish` or `cancel`). */
export interface Settling {
    /** The next turn of this conversation needs the rest now: evaluate it at once, in one piece. */
    finish(): void;
    /** Another conversation takes the sequence: stop after the piece in flight. */
    cancel(): void;
    /** The history being evaluated, to tell the two apart. */
    readonly history: readonly Token[];
    readonly done: Promise<void>;
}

/**
 * Deterministic mode keeps only tokens evaluated as a prompt (determinism.ts, rule 2), so a reply,
 * generated a token at a time, must be evaluated again as history before the next turn can reuse it.
 * Done when the next turn arrives, that work sat on its time to first token (measured on the bench
 * model: about 24 reply tokens of a turn-10 prompt). So it is done in the idle time after the
 * generation ends, while the user reads: the sequence is made to hold `history` (the last exchange
 * rendered as the next turn will render it), evaluated in prompt mode in pieces of
 * SETTLE_PIECE_TOKENS, each only while no sequence is generating. Evaluated beside generation it
 * took every other batch (the batching rules alternate prompt pieces and steps) and slowed every
 * stream still running.
 */
export function settleReply(
    sequence: LlamaContextSequence, record: SequenceRecord, history: Token[], exclusive: Exclusive, gate: StepGate
): Settling {
    const state: {mode: "idle" | "finish" | "cancel"} = {mode: "idle"};
    let wake = (): void => undefined;
    const woken = new Promise<void>((resolve) => wake = resolve);
    const done = (async () => {
        const end = history.length;
        let start = Math.min(commonPrefixLength(sequence.contextTokens, history), record.reusableEnd, sequence.nextTokenIndex);
        if (start >= end) return;
        // A shorter piece would be evaluated the way a generation step is.
        if (end - start < MIN_EVALUATED_TOKENS) start = Math.max(0, end - MIN_EVALUATED_TOKENS);
        record.reusableEnd = start;
        await exclusive(() => sequence.eraseContextTokenRanges([{start, end: sequence.nextTokenIndex}]));
        while (start < end) {
            if (state.mode === "idle") await Promise.race([gate.idle(), woken]);
            if (state.mode === "cancel") return;
            const finishing = state.mode === "finish";
            const amount = finishing ? end - start : pieceLength(end - start);
            await sequence.evaluateWithoutGeneratingNewTokens(history.slice(start, start + amount),
                finishing ? {} : {evaluationPriority: IDLE_PRIORITY});
            start += amount;
            record.reusableEnd = sequence.nextTokenIndex;
        }
    })();
    return {
        finish: () => { if (state.mode === "idle") state.mode = "finish"; wake(); },
        cancel: () => { state.mode = "cancel"; wake(); },
        history, done
    };
}

/** The next piece of `left` tokens: at most SETTLE_PIECE_TOKENS, never leaving a single token for the last one. */
export function pieceLength(left: number): number {
    if (left <= SETTLE_PIECE_TOKENS) return left;
    return left - SETTLE_PIECE_TOKENS < MIN_EVALUATED_TOKENS ? left - MIN_EVALUATED_TOKENS : SETTLE_PIECE_TOKENS;
}

/**
 * Ends a settling reply before the sequence's next lease: the same conversation's next turn (its
 * prompt starts with the settled history) gets the rest evaluated at once, since it would evaluate
 * those tokens anyway; another conversation stops it after the piece in flight.
 */
export async function endSettling(record: SequenceRecord, prompt: readonly Token[]): Promise<void> {
    const settling = record.settling;
    if (settling == null) return;
    if (commonPrefixLength(settling.history, prompt) === settling.history.length) settling.finish();
    else settling.cancel();
    await settling.done.catch(() => undefined);
}
