import type {LlamaModel, Token} from "node-llama-cpp";
import type {TokenLogprob, TopLogprob} from "../types.js";

/** OpenAI writes -9999.0 for a probability that rounds to 0 (JSON has no -Infinity). */
const LOG_ZERO = -9999;

/** What node-llama-cpp's evaluateWithMetadata yields per token when asked for it. */
interface SampledMetadata {
    confidence?: number;
    probabilities?: Map<Token, number>;
}

interface Pending {
    entry: TokenLogprob;
    /** Characters of generated text up to the end of this token's text; null while its text is held back. */
    end: number | null;
}

/**
 * Builds the logprob entry of each sampled token and hands the entries out with the text that
 * completes them: the detokenizer holds back unfinished UTF-8 characters and the stop matcher holds
 * back what may start a stop string, so a token's entry leaves with the text event that carries its
 * last character (and tokens cut off by a stop string never leave).
 */
export class LogprobTracker {
    /** Only the sampled token's probability is cheap; alternatives need the sorted full distribution. */
    readonly metadata: {confidence?: true; probabilities?: true};
    private readonly pending: Pending[] = [];
    private produced = 0;
    private released = 0;

    constructor(private readonly model: LlamaModel, private readonly top: number) {
        this.metadata = top > 0 ? {probabilities: true} : {confidence: true};
    }

    /** Records a sampled token; `decoded` is the text the detokenizer released with it ("" while holding back). */
    add(token: Token, sampled: SampledMetadata, decoded: string): void {
        const probability = sampled.probabilities?.get(token) ?? sampled.confidence ?? 0;
        const topLogprobs: TopLogprob[] = [];
        if (sampled.probabilities != null)
            for (const [candidate, candidateProbability] of sampled.probabilities) {
                if (topLogprobs.length >= this.top) break;
                topLogprobs.push(this.alternative(candidate, candidateProbability));
            }
        this.pending.push({entry: {...this.alternative(token, probability), topLogprobs}, end: null});
        if (decoded !== "")
            this.complete(decoded);
    }

    /** Text the detokenizer released: every token still waiting for its text ends with it. */
    complete(decoded: string): void {
        this.produced += decoded.length;
        for (const item of this.pending)
            item.end ??= this.produced;
    }

    /** `chars` more characters went to the client: the entries whose text is now all out (all of them with `all`). */
    release(chars: number, all = false): TokenLogprob[] {
        this.released += chars;
        let count = 0;
        while (count < this.pending.length && (all || (this.pending[count].end != null && this.pending[count].end! <= this.released)))
            count++;
        return this.pending.splice(0, count).map((item) => item.entry);
    }

    private alternative(token: Token, probability: number): TopLogprob {
        const text = this.model.detokenize([token], true);
        return {token: text, logprob: probability > 0 ? Math.log(probability) : LOG_ZERO, bytes: [...Buffer.from(text, "utf8")]};
    }
}
