import type {EnhanceRequestBody, EnhanceResponseBody, EnhancementInfoBody, EnhanceFailureBody} from "./enhanceSchemas.js";
import type {EnhanceResult, EnhanceSampling, EnhanceService} from "../../service/enhanceService.js";
import {MAX_WORD_CHARS, MIN_TOKEN_BUDGET, phraseLimits} from "../../service/enhanceOutputFormat.js";
import type {ModelInfo, EngineStatus} from "../../service/chatService.js";
import {SAMPLING_DEFAULTS} from "../../service/requestShaping.js";
import {round} from "../../service/rounding.js";
import type {Problem} from "../../http/errorMapping.js";
import {nativeFinishReason, nativeUsage} from "./nativeChat.js";

export const DEFAULT_ENHANCEMENT_TYPE = "manual";

export const ENHANCE_ENDPOINTS: Readonly<Record<string, string>> = Object.freeze({
    "/enhance": "POST - Simple prompt enhancement",
    "/enhance/legacy": "POST - Legacy enhancement (same as /enhance)",
    "/enhancement/info": "GET - This information"
});

/** An /enhance body in the v2.0 shape (enhanceShape() checked it has `prompt`). */
export type V2EnhanceBody = EnhanceRequestBody & {prompt: string};

export function enhanceSampling(
    body: Pick<EnhanceRequestBody, "temperature" | "seed" | "top_p" | "frequency_penalty" | "presence_penalty">
): EnhanceSampling {
    return {
        temperature: body.temperature ?? SAMPLING_DEFAULTS.temperature,
        topP: body.top_p ?? SAMPLING_DEFAULTS.top_p,
        topK: SAMPLING_DEFAULTS.top_k,
        minP: SAMPLING_DEFAULTS.min_p,
        repetitionPenalty: SAMPLING_DEFAULTS.repetition_penalty,
        frequencyPenalty: body.frequency_penalty ?? 0,
        presencePenalty: body.presence_penalty ?? 0,
        seed: body.seed ?? null
    };
}

export function enhanceResponse(body: V2EnhanceBody, result: EnhanceResult): EnhanceResponseBody {
    return {
        success: true,
        original_prompt: body.prompt,
        enhanced_prompt: result.enhancedPrompt,
        generation_time: round(result.generationSeconds),
        enhancement_type: body.enhancement_type ?? DEFAULT_ENHANCEMENT_TYPE,
        job_type: result.jobType,
        quality: result.quality,
        finish_reason: nativeFinishReason(result.finishReason),
        usage: nativeUsage(result.usage)
    };
}

/** The original's failure body: success false and the prompt handed back unchanged, plus a code. */
export function enhanceFailure(
    body: V2EnhanceBody, job: {jobType: string; quality: string}, problem: Problem, seconds: number
): EnhanceFailureBody {
    return {
        success: false,
        original_prompt: body.prompt,
        enhanced_prompt: body.prompt,
        error: problem.message,
        code: problem.code,
        generation_time: round(seconds),
        enhancement_type: body.enhancement_type ?? DEFAULT_ENHANCEMENT_TYPE,
        job_type: job.jobType,
        quality: job.quality
    };
}

export function enhancementInfo(enhance: EnhanceService, model: ModelInfo, status: EngineStatus): EnhancementInfoBody {
    const templates = enhance.jobTypes();
    const runtime = model.engine === "embedded" ? "llama.cpp (in a model runner process)" : "an OpenAI-compatible upstream";
    return {
        enhancement_system: `Grammar-constrained prompt enhancement with ${model.modelName}`,
        supported_job_types: templates.map((template) => template.jobType),
        model_info: {
            model_name: model.modelName,
            model_loaded: status.state === "ready",
            enhancement_method: `chat model on ${runtime} with a per-job-type instruction template; ` +
                "output constrained by a GBNF grammar and cut at a phrase boundary within the token budget"
        },
        endpoints: {...ENHANCE_ENDPOINTS},
        job_types: Object.fromEntries(templates.map((template) => {
            const limits = phraseLimits(template.style, template.tokenBudget);
            return [template.jobType, {
                style: template.style,
                quality: template.quality,
                token_budget: template.tokenBudget,
                first_phrase_max_words: limits.firstPhraseMaxWords,
                phrase_max_words: limits.phraseMaxWords,
                template_source: template.source,
                template_file: template.file,
                description: template.description
            }];
        })),
        output_format: {
            grammar_constrained: true,
            max_word_chars: MAX_WORD_CHARS,
            min_token_budget: MIN_TOKEN_BUDGET,
            token_unit: "model tokens"
        }
    };
}
