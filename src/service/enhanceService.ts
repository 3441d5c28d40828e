import {ContextOverflowError, WorkerError} from "../errors.js";
import type {FinishReason, SamplingParams, Usage} from "../engine/types.js";
import type {ChatInput, ChatService} from "./chatService.js";
import {cutAtPhraseBoundary, dropLastPhrase, MIN_TOKEN_BUDGET, outputGrammar} from "./enhanceOutputFormat.js";
import {
    isJobType, JOB_TYPES, renderUserPrompt, type EnhanceTemplate, type EnhanceTemplates, type JobType, type Quality
} from "./enhanceTemplates.js";

/** The sampling knobs a client may set; the token budget, grammar and stops belong to the job type. */
export type EnhanceSampling = Pick<SamplingParams,
    "temperature" | "topP" | "topK" | "minP" | "repetitionPenalty" | "frequencyPenalty" | "presencePenalty" | "seed">;

export interface EnhanceRequest {
    prompt: string;
    /** Null: `sdxl_image_<quality>`, or sdxl_image_fast when quality is null too. */
    jobType: string | null;
    /** Null: the job type's quality. */
    quality: Quality | null;
    /** Null: the job type's token budget; else at most that. */
    maxTokens: number | null;
    sampling: EnhanceSampling;
    /** Fires on client disconnect or shutdown. */
    signal: AbortSignal;
    /** The model the request names (null: the default one). */
    model?: string | null;
    /** Mask the sfw_mode terms in the enhanced prompt. */
    sfwMode?: boolean;
}

export interface EnhanceResult {
    jobType: JobType;
    quality: Quality;
    enhancedPrompt: string;
    finishReason: FinishReason;
    usage: Usage;
    /** The budget this request ran with (max_tokens or the job type's). */
    tokenBudget: number;
    /** Tokens of `enhancedPrompt` by the model's tokenizer; null when the engine cannot count. */
    enhancedTokens: number | null;
    queueSeconds: number;
    generationSeconds: number;
}

/** The job type's identity as the request resolved it: known before generation, kept for failure bodies. */
export interface ResolvedJob {
    jobType: JobType;
    quality: Quality;
    template: EnhanceTemplate;
}

/**
 * Prompt enhancement on the chat pipeline: the job type's instructions around the client's prompt,
 * decoding constrained by the output grammar, and the result cut back to a phrase boundary that
 * fits the token budget.
 */
export class EnhanceService {
    private readonly grammars = new Map<string, string>();

    constructor(private readonly chat: ChatService, private readonly templates: EnhanceTemplates) {}

    /** Every job type with its template (always all of JOB_TYPES: the built-ins fill any gap). */
    jobTypes(): EnhanceTemplate[] {
        return JOB_TYPES.map((jobType) => this.template(jobType));
    }

    /** Picks the job type and quality; a contradiction between the two is the client's to fix. */
    resolve(jobType: string | null, quality: Quality | null): ResolvedJob {
        const name = jobType ?? `sdxl_image_${quality ?? "fast"}`;
        if (!isJobType(name))
            throw new WorkerError("invalid_request", "unsupported_job_type",
                `job_type: must be one of ${JOB_TYPES.join(", ")}`, {param: "job_type"});
        const template = this.template(name);
        if (quality != null && quality !== template.quality)
            throw new WorkerError("invalid_request", "quality_mismatch",
                `quality: "${quality}" contradicts job_type "${name}", whose quality is "${template.quality}"`, {param: "quality"});
        return {jobType: name, quality: template.quality, template};
    }

    async enhance(request: EnhanceRequest, job: ResolvedJob = this.resolve(request.jobType, request.quality)): Promise<EnhanceResult> {
        const {template} = job;
        if (request.prompt.trim() === "")
            throw new WorkerError("invalid_request", "invalid_request", "prompt: must not be empty or only whitespace", {param: "prompt"});
        const budget = request.maxTokens ?? template.tokenBudget;
        if (budget < MIN_TOKEN_BUDGET || budget > template.tokenBudget)
            throw new WorkerError("invalid_request", "invalid_request",
                `max_tokens: must be from ${MIN_TOKEN_BUDGET} to ${template.tokenBudget} (the token budget of ${job.jobType}), got ${budget}`,
                {param: "max_tokens"});

        const input: ChatInput = {
            prefix: [{role: "system", content: template.systemPrompt}],
            history: [],
            tail: [{role: "user", content: renderUserPrompt(template, request.prompt)}]
        };
        const params: SamplingParams = {
            ...request.sampling,
            maxTokens: budget,
            stop: [],
            ignoreEos: false,
            logitBias: [],
            grammar: {type: "gbnf", grammar: this.grammar(template, budget)}
        };
        const result = await this.chat.chat({
            model: request.model ?? null, input, params, conversationId: null, signal: request.signal, sfwMode: request.sfwMode === true
        }).catch((err: unknown) => {
            if (err instanceof ContextOverflowError) {
                const {promptTokens, maxTokens, contextSize} = err.facts;
                throw new WorkerError("invalid_request", "prompt_too_long",
                    `prompt: with the ${job.jobType} instructions it needs ${promptTokens ?? "?"} tokens and the output budget ` +
                    `${maxTokens ?? budget} more, but the context holds ${contextSize ?? "fewer"}`,
                    {param: "prompt"});
            }
            throw err;
        });

        // "stop" means the grammar let the model end: the output is whole. Any other end cut it.
        let text = result.finishReason === "stop" ? result.text : cutAtPhraseBoundary(result.text, template.style);
        // Re-tokenizing a prefix of the generated text may differ from the generated tokens; the
        // count that clients can check is the tokenizer's, so drop phrases until that fits too.
        let tokens = text === "" ? 0 : await this.chat.countTokens(text, request.model);
        while (tokens != null && tokens > budget && text !== "") {
            text = dropLastPhrase(text, template.style);
            tokens = await this.chat.countTokens(text, request.model);
        }
        if (text === "")
            throw new WorkerError("unavailable", "enhancement_failed",
                `the model produced no complete phrase (generation ended by ${result.finishReason})`);
        return {
            jobType: job.jobType, quality: job.quality, enhancedPrompt: text, finishReason: result.finishReason,
            usage: result.usage, tokenBudget: budget, enhancedTokens: tokens,
            queueSeconds: result.queueSeconds, generationSeconds: result.generationSeconds
        };
    }

    private template(jobType: JobType): EnhanceTemplate {
        const template = this.templates.get(jobType);
        if (template == null)
            throw new WorkerError("internal", "template_missing", `no template for ${jobType}`);
        return template;
    }

    private grammar(template: EnhanceTemplate, budget: number): string {
        const key = `${template.style}:${budget}`;
        let grammar = this.grammars.get(key);
        if (grammar == null) {
            // Clients pick budgets through max_tokens: keep the memo small rather than one per value ever seen.
            if (this.grammars.size >= 64) this.grammars.clear();
            grammar = outputGrammar(template.style, budget);
            this.grammars.set(key, grammar);
        }
        return grammar;
    }
}
