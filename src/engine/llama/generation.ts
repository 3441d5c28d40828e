import {
    LlamaGrammarEvaluationState,
    type LlamaContextSequence, type LlamaGrammar, type LlamaModel, type SequenceEvaluateOptions, type Token, type TokenBias
} from "node-llama-cpp";
import type {FinishReason, GenerationEvent, SamplingParams, TokenLogprob, Usage} from "../types.js";
import {IncrementalDetokenizer, StopMatcher} from "./textStream.js";
import {grammarStopTexts} from "./grammarCache.js";
import {LogprobTracker} from "./logprobs.js";
import type {StepGate} from "./stepGate.js";

/** llama-server's repeat_last_n: the repetition penalty looks back this many tokens. */
const REPEAT_PENALTY_WINDOW = 64;

export interface GenerationSetup {
    model: LlamaModel;
    sequence: LlamaContextSequence;
    /** Bans end-of-generation tokens, for `ignoreEos`. */
    eogBias: TokenBias;
    grammar: LlamaGrammar | null;
    /** The whole prompt; the sequence already holds its first `reused` tokens. */
    tokens: Token[];
    reused: number;
    params: SamplingParams;
    signal: AbortSignal;
    abortReason?: () => FinishReason;
    /** The context's batch gate: counts this sequence as generating, so a batch waits for its next token. */
    gate?: StepGate;
}

/** What the loop leaves behind for the conversation cache. */
export interface GenerationOutcome {
    reply: string;
}

/**
 * The hot loop: evaluates the prompt's new tokens, then samples token by token, turning tokens
 * into text (whole UTF-8 characters, stop strings cut off) and stopping at max_tokens, a stop
 * string, end of generation or the abort signal. Returns the reply text through `outcome`.
 */
export async function* generateTokens(setup: GenerationSetup, outcome: GenerationOutcome): AsyncGenerator<GenerationEvent> {
    const {model, sequence, tokens, reused, params, signal} = setup;
    const history: Token[] = tokens.slice(-REPEAT_PENALTY_WINDOW);
    const options: SequenceEvaluateOptions = {
        temperature: params.temperature,
        topK: params.topK,
        topP: params.topP,
        minP: params.minP,
        seed: params.seed ?? undefined,
        repeatPenalty: params.repetitionPenalty === 1 ? undefined : {
            punishTokens: () => history,
            maxPunishTokens: REPEAT_PENALTY_WINDOW,
            penalty: params.repetitionPenalty
        },
        tokenBias: params.ignoreEos ? setup.eogBias : undefined,
        grammarEvaluationState: setup.grammar != null
            ? new LlamaGrammarEvaluationState({model, grammar: setup.grammar})
            : undefined
    };

    const detokenizer = new IncrementalDetokenizer(
        (pending, last) => model.detokenize(pending as Token[], false, last as Token[]));
    const stops = new StopMatcher([...params.stop, ...grammarStopTexts(setup.grammar)]);
    const logprobs = params.logprobs != null ? new LogprobTracker(model, params.logprobs.top) : null;
    let completionTokens = 0;
    let finishReason: FinishReason = "stop";
    const usage = (): Usage => ({promptTokens: tokens.length, completionTokens, cachedTokens: reused});
    const textEvent = (text: string, entries: TokenLogprob[] | null): GenerationEvent =>
        entries != null ? {type: "text", text, logprobs: entries} : {type: "text", text};

    if (signal.aborted) {
        yield {type: "end", finishReason: setup.abortReason?.() ?? "abort", usage: usage()};
        return;
    }
    const iterator = sequence.evaluateWithMetadata(tokens.slice(reused), logprobs?.metadata ?? {}, options);
    const gate = setup.gate;
    let stoppedByString = false;
    let reply = "";
    gate?.enter();
    try {
        let stopped = false;
        while (!stopped) {
            const next = await iterator.next();
            if (next.done) {
                finishReason = "stop"; // end-of-generation token or grammar completed
                break;
            }
            const token = next.value.token;
            completionTokens++;
            history.push(token);
            if (history.length > REPEAT_PENALTY_WINDOW * 2)
                history.splice(0, history.length - REPEAT_PENALTY_WINDOW);
            const decoded = detokenizer.push(token);
            logprobs?.add(token, next.value as {confidence?: number; probabilities?: Map<Token, number>}, decoded);
            const piece = stops.push(decoded);
            if (piece.text !== "") {
                reply += piece.text;
                yield textEvent(piece.text, logprobs?.release(piece.text.length) ?? null);
            }
            if (piece.stopped) {
                finishReason = "stop";
                stoppedByString = true;
                stopped = true;
            } else if (completionTokens >= params.maxTokens) {
                finishReason = "length";
                stopped = true;
            } else if (signal.aborted) {
                finishReason = setup.abortReason?.() ?? "abort";
                stopped = true;
            }
        }
        if (!stoppedByString) {
            const decoded = detokenizer.flush();
            logprobs?.complete(decoded);
            const rest = stops.push(decoded);
            const tail = rest.stopped ? rest.text : rest.text + stops.flush();
            const entries = logprobs?.release(tail.length, !rest.stopped) ?? null;
            if (tail !== "" || (entries != null && entries.length > 0)) {
                reply += tail;
                yield textEvent(tail, entries);
            }
        }
        outcome.reply = reply;
    } finally {
        gate?.leave();
        // Waits for the in-flight evaluation step, so the sequence is idle when the lease is released.
        await iterator.return(undefined);
    }
    yield {type: "end", finishReason, usage: usage()};
}
