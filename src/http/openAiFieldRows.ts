import type {FieldRow} from "./fieldTable.js";

/**
 * The compatibility-table rows that OpenAI's chat completions, completions and Responses APIs
 * share word for word: each API's table spreads these, so the docs say one thing about one field.
 */
export const OPENAI_SAMPLING_ROWS = {
    model: {
        support: "honoured",
        note: "with `MODELS`, selects the served model by name (an unknown name is a 400 listing the served ones); a worker of one model " +
            "accepts any name and answers with its model; responses name the model that answered"
    },
    temperature: {support: "honoured", note: "0..2 (0 is greedy); default 1, as OpenAI"},
    top_p: {support: "honoured", note: "default 1, as OpenAI"}
} as const satisfies Record<string, FieldRow>;

/** Request metadata OpenAI reads and the worker has no use for (it answers the same with or without them). */
export const OPENAI_METADATA_ROWS = {
    service_tier: {support: "metadata", note: "the worker has one tier"},
    safety_identifier: {support: "metadata", note: "accepted, not logged"},
    prompt_cache_key: {support: "metadata", note: "prompts are cached by prefix anyway (see Conversation cache)"},
    prompt_cache_retention: {support: "metadata", note: "the cache keeps what `CONVERSATION_CACHE_MAX_BYTES` allows"},
    prompt_cache_options: {support: "metadata", note: "the cache keeps what `CONVERSATION_CACHE_MAX_BYTES` allows"}
} as const satisfies Record<string, FieldRow>;
