import {
    LlamaGrammarEvaluationState, TokenBias,
    type LlamaContextSequence, type LlamaGrammar, type LlamaModel, type SequenceEvaluateOptions, type Token
} from "node-llama-cpp";
import {randomInt} from "node:crypto";
import {WorkerError} from "../../errors.js";
import type {FinishReason, GenerationEvent, SamplingParams, TokenLogprob, Usage} from "../types.js";
import {IncrementalDetokenizer, StopMatcher} from "./textStream.js";
import {grammarStopTexts} from "./grammarCache.js";
import {LogprobTracker} from "./logprobs.js";
import {ToolCallParser, type ParsedPiece, type ToolCallSyntax} from "./toolCallParser.js";
import type {StepGate} from "./stepGate.js";

/** llama-server's repeat_last_n: the repetition, frequency and presence penalties look back this many tokens. */
const REPEAT_PENALTY_WINDOW = 64;

/** How tool calls are read out of the answer and, when one is forced, written by grammars. */
export interface ToolPlan {
    syntax: ToolCallSyntax;
    newId(): string;
    /** Whether the model may make more than one call; without, the first call ends the turn. */
    parallel: boolean;
    /** A forced call (`required` or a named function); null: calls are parsed out of free text (`auto`). */
    forced: null | {
        /** The function when it is known (the prompt already names it); null: `names` lets the model pick. */
        name: string | null;
        names: LlamaGrammar | null;
        /** The wrapper's text between a call's name and its arguments, evaluated once the name is chosen. */
        paramsPrefix: Token[];
        argumentsGrammar(name: string): Promise<LlamaGrammar>;
    };
}

export interface GenerationSetup {
    model: LlamaModel;
    sequence: LlamaContextSequence;
    /** Bans end-of-generation tokens, for `ignoreEos` (used as is when there is no logit bias). */
    eogBias: TokenBias;
    grammar: LlamaGrammar | null;
    /** The whole prompt; the sequence already holds its first `reused` tokens. */
    tokens: Token[];
    reused: number;
    /** Prompt tokens reported as cached: those not evaluated for this request (default `reused`). */
    cached?: number;
    params: SamplingParams;
    signal: AbortSignal;
    abortReason?: () => FinishReason;
    tools?: ToolPlan | null;
    /** The context's batch gate: counts this sequence as generating, so a batch waits for its next token. */
    gate?: StepGate;
}

/** What the loop leaves behind for the conversation cache. */
export interface GenerationOutcome {
    reply: string;
}

/** How one evaluation (a phase) ended: the model ended it, a stop string (the grammar's or the client's), a limit, or an abort. */
type PhaseEnd = "done" | "grammar" | "stop" | "length" | "abort" | "calls";

/**
 * The hot loop: evaluates the prompt's new tokens, then samples token by token, turning tokens
 * into text (whole UTF-8 characters, stop strings cut off) and stopping at max_tokens, a stop
 * string, end of generation or the abort signal. Returns the reply text through `outcome`.
 * With tools, the text goes through a ToolCallParser; a forced call is written in two phases
 * (the function's name under a grammar of the names, then its arguments under its schema's
 * grammar), each a continuation of the same sequence.
 */
export async function* generateTokens(setup: GenerationSetup, outcome: GenerationOutcome): AsyncGenerator<GenerationEvent> {
    const run = new Run(setup);
    if (setup.signal.aborted) {
        yield run.end("abort");
        return;
    }
    const tools = setup.tools ?? null;
    const input = setup.tokens.slice(setup.reused);
    let end: PhaseEnd;
    if (tools?.forced != null)
        end = yield* forcedCall(run, tools, tools.forced, input);
    else {
        if (tools != null) run.parser = new ToolCallParser(tools.syntax, tools.newId);
        end = yield* run.phase(input, setup.grammar);
        if (run.parser != null) yield* run.emit(run.parser.finish());
    }
    outcome.reply = run.reply;
    yield run.end(end);
}

async function* forcedCall(run: Run, tools: ToolPlan, forced: NonNullable<ToolPlan["forced"]>, input: Token[]): AsyncGenerator<GenerationEvent, PhaseEnd> {
    let name = forced.name;
    const parser = new ToolCallParser(tools.syntax, tools.newId, name != null ? {state: "arguments", name} : {state: "name"});
    run.parser = parser;
    if (name == null) {
        const end = yield* run.phase(input, forced.names);
        if (end !== "done" && end !== "grammar")
            return end;
        // The params prefix ends the name; the model goes on after it.
        const piece = parser.push(tools.syntax.paramsPrefix);
        name = piece.calls.find((call) => call.name != null)?.name ?? null;
        yield* run.emit(piece);
        if (name == null)
            return "stop";
        input = forced.paramsPrefix;
    }
    const end = yield* run.phase(input, await forced.argumentsGrammar(name));
    if (end !== "done" && end !== "grammar")
        return end;
    yield* run.emit(parser.push(tools.syntax.suffix));
    return "calls";
}

/** The state one generation carries across its phases. */
class Run {
    parser: ToolCallParser | null = null;
    reply = "";
    private completionTokens = 0;
    private callsCompleted = 0;
    private readonly history: Token[];
    private readonly logprobs: LogprobTracker | null;
    private readonly options: SequenceEvaluateOptions;

    constructor(private readonly setup: GenerationSetup) {
        const {params, model} = setup;
        this.history = setup.tokens.slice(-REPEAT_PENALTY_WINDOW);
        this.logprobs = params.logprobs != null ? new LogprobTracker(model, params.logprobs.top) : null;
        const penalized = params.repetitionPenalty !== 1 || params.frequencyPenalty !== 0 || params.presencePenalty !== 0;
        this.options = {
            temperature: params.temperature,
            topK: params.topK,
            topP: params.topP,
            minP: params.minP,
            // node-llama-cpp seeds with the current second when given none: requests (or choices of
            // one request) in the same second would then sample alike.
            seed: params.seed ?? randomInt(2 ** 32),
            repeatPenalty: penalized ? {
                punishTokens: () => this.history,
                maxPunishTokens: REPEAT_PENALTY_WINDOW,
                penalty: params.repetitionPenalty,
                frequencyPenalty: params.frequencyPenalty,
                presencePenalty: params.presencePenalty
            } : undefined,
            tokenBias: tokenBias(setup)
        };
    }

    end(phaseEnd: PhaseEnd): GenerationEvent {
        const usage: Usage = {promptTokens: this.setup.tokens.length, completionTokens: this.completionTokens, cachedTokens: this.setup.cached ?? this.setup.reused};
        let finishReason: FinishReason;
        if (phaseEnd === "abort") finishReason = this.setup.abortReason?.() ?? "abort";
        else if (phaseEnd === "length") finishReason = "length";
        else finishReason = this.callsCompleted > 0 || phaseEnd === "calls" ? "tool_calls" : "stop";
        return {type: "end", finishReason, usage};
    }

    /** Evaluates `input` and samples until the model, a stop string, max_tokens or the signal ends it. */
    async *phase(input: Token[], grammar: LlamaGrammar | null): AsyncGenerator<GenerationEvent, PhaseEnd> {
        const {model, sequence, params, signal} = this.setup;
        const grammarStops = grammarStopTexts(grammar);
        const detokenizer = new IncrementalDetokenizer(
            (pending, last) => model.detokenize(pending as Token[], false, last as Token[]));
        const stops = new StopMatcher([...params.stop, ...grammarStops]);
        const logprobs = this.logprobs;
        const iterator = sequence.evaluateWithMetadata(input, logprobs?.metadata ?? {}, {
            ...this.options,
            grammarEvaluationState: grammar != null ? new LlamaGrammarEvaluationState({model, grammar}) : undefined
        });
        let end: PhaseEnd | null = null;
        const gate = this.setup.gate;
        gate?.enter();
        try {
            while (end == null) {
                // Setup work of a new request needs the context for a moment (see StepGate).
                const paused = gate?.paused();
                if (paused != null) await paused;
                const next = await iterator.next();
                if (next.done) {
                    end = "done"; // end-of-generation token or grammar completed
                    break;
                }
                const token = next.value.token;
                this.completionTokens++;
                this.history.push(token);
                if (this.history.length > REPEAT_PENALTY_WINDOW * 2)
                    this.history.splice(0, this.history.length - REPEAT_PENALTY_WINDOW);
                const decoded = detokenizer.push(token);
                logprobs?.add(token, next.value as {confidence?: number; probabilities?: Map<Token, number>}, decoded);
                const piece = stops.push(decoded);
                if (piece.text !== "")
                    yield* this.text(piece.text, logprobs?.release(piece.text.length) ?? null);
                if (piece.stopped)
                    end = grammarStops.includes(piece.matched ?? "") ? "grammar" : "stop";
                else if (!this.setup.tools?.parallel && this.callsCompleted > 0)
                    end = "calls";
                else if (this.completionTokens >= params.maxTokens)
                    end = "length";
                else if (signal.aborted)
                    end = "abort";
            }
            if (end !== "grammar" && end !== "stop") {
                const decoded = detokenizer.flush();
                logprobs?.complete(decoded);
                const rest = stops.push(decoded);
                const tail = rest.stopped ? rest.text : rest.text + stops.flush();
                const entries = logprobs?.release(tail.length, !rest.stopped) ?? null;
                if (tail !== "" || (entries != null && entries.length > 0))
                    yield* this.text(tail, entries);
            }
        } finally {
            gate?.leave();
            // Waits for the in-flight evaluation step, so the sequence is idle when the lease is released.
            await iterator.return(undefined);
        }
        return end;
    }

    /** Text that became final: content, or (with tools) whatever the parser makes of it. */
    private *text(text: string, entries: TokenLogprob[] | null): Generator<GenerationEvent> {
        if (this.parser != null) {
            yield* this.emit(this.parser.push(text));
            return;
        }
        this.reply += text;
        yield entries != null ? {type: "text", text, logprobs: entries} : {type: "text", text};
    }

    *emit(piece: ParsedPiece): Generator<GenerationEvent> {
        if (piece.content !== "") {
            this.reply += piece.content;
            yield {type: "text", text: piece.content};
        }
        yield* piece.calls;
        this.callsCompleted += piece.completed;
    }
}

/** Refuses a logit bias for a token the model does not have (400 naming logit_bias). */
export function checkLogitBias(params: SamplingParams, vocabularySize: number | null): void {
    const bad = params.logitBias.find(([token]) => vocabularySize != null && token >= vocabularySize);
    if (bad != null)
        throw new WorkerError("invalid_request", "invalid_logit_bias",
            `logit_bias: token ${bad[0]} is not in the model's vocabulary of ${vocabularySize} tokens`, {param: "logit_bias"});
}

/** The EOG ban of `ignoreEos` and the client's logit bias, as one TokenBias (none when neither is asked for). */
function tokenBias({params, model, eogBias}: GenerationSetup): TokenBias | undefined {
    if (params.logitBias.length === 0)
        return params.ignoreEos ? eogBias : undefined;
    const bias = new TokenBias(model.tokenizer);
    if (params.ignoreEos)
        for (const token of [model.tokens.eos, model.tokens.eot].filter((token): token is Token => token != null))
            bias.set(token, "never");
    for (const [token, value] of params.logitBias)
        bias.set(token as Token, {logit: value});
    return bias;
}
