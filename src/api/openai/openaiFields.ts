/**
 * What the worker does with every request field of OpenAI's chat completions and completions
 * references, and with our documented extensions: the single source of the README's "OpenAI
 * compatibility" tables (`npm run docs`) and of the refusals of fields we cannot honour. A test
 * checks that these tables and the request schemas name the same fields, and drives every row with
 * the `openai` client. A field in neither is refused by the schema ("Unrecognized request argument").
 */

import type {FieldRow} from "../../http/fieldTable.js";
import {OPENAI_METADATA_ROWS, OPENAI_SAMPLING_ROWS} from "../../http/openAiFieldRows.js";

const shared = {
    model: OPENAI_SAMPLING_ROWS.model,
    max_tokens: {support: "honoured", note: "up to `MAX_TOKENS_LIMIT`"},
    temperature: OPENAI_SAMPLING_ROWS.temperature,
    top_p: OPENAI_SAMPLING_ROWS.top_p,
    frequency_penalty: {
        support: "honoured",
        note: "-2..2: a token's logit is lowered by this times its count in the last 64 tokens (prompt included), as llama-server does"
    },
    presence_penalty: {support: "honoured", note: "-2..2: the logit of every token in the last 64 tokens is lowered by this, as llama-server does"},
    logit_bias: {support: "honoured", note: "token id → -100..100 added to its logit (-100 bans the token); an id outside the vocabulary is a 400"},
    seed: {support: "honoured", note: "reproducible sampling; with `n`, choice i uses seed + i; without it every request and choice draws a random seed"},
    stop: {support: "honoured", note: "a string or up to `MAX_STOP_SEQUENCES` strings; the stop text is not returned"},
    n: {
        support: "honoured",
        note: "choices decoded in parallel, each on a sequence of its own, up to `MAX_N` and `PARALLEL`; the prompt is evaluated once (with the conversation cache folder on)"
    },
    stream: {support: "honoured", note: "data-only SSE ending with `[DONE]`; chunks carry their choice's `index`"},
    stream_options: {
        support: "honoured", note: "`include_usage`; `include_obfuscation: true` is refused (there is nothing to pad); without `stream: true`, a 400 as OpenAI"
    },
    user: {support: "metadata", note: "logged as an id"},
    top_k: {support: "extension", note: "0 disables (the default)"},
    min_p: {support: "extension", note: "0 disables (the default)"},
    repetition_penalty: {support: "extension", note: "1 disables (the default); over the last 64 tokens"},
    ignore_eos: {support: "extension", note: "generate exactly `max_tokens` (benchmarks)"},
    grammar: {support: "extension", note: "a GBNF grammar, as llama-server takes it"},
    sfw_mode: {
        support: "extension",
        note: "`true` masks the listed terms in the output, streamed chunks included, as on `/chat` (see sfw_mode in native-api.md); " +
            "refused together with `logprobs`"
    }
} as const satisfies Record<string, FieldRow>;

export const CHAT_COMPLETION_FIELDS = {
    messages: {
        support: "honoured",
        note: "`system`, `developer` (= system), `user`, `assistant` (with `tool_calls`), `tool` (with `tool_call_id`); text content " +
            "or text parts (other parts are refused); `name` is accepted and not rendered (the chat templates have no place for it); " +
            "an assistant message's output-only fields (`annotations`, `refusal`, `audio`, `reasoning_content`, `function_call: null`), " +
            "as a conversation replayed from OpenAI carries them, are accepted and not rendered (they describe an earlier answer)"
    },
    ...shared,
    max_completion_tokens: {support: "honoured", note: "the same limit as `max_tokens` (give one, or both equal)"},
    logprobs: {support: "honoured", note: "the sampled distribution's log-probabilities; refused together with tools unless `tool_choice` is `none`"},
    top_logprobs: {support: "honoured", note: "0..20 alternatives; needs `logprobs: true`"},
    response_format: {support: "honoured", note: "`text`, `json_object`, `json_schema` (compiled into a grammar; a keyword it cannot enforce is a 400)"},
    tools: {
        support: "honoured",
        note: "function tools, described to the model by its chat template; `strict` is what a forced call always is (in `auto` the arguments are " +
            "what the model wrote); `custom` tools are refused"
    },
    tool_choice: {
        support: "honoured",
        note: "`none`, `auto` (default with tools), `required` or a named function: a forced call is written under a grammar of the function's " +
            "schema (exactly one call); `allowed_tools` and custom choices are refused"
    },
    parallel_tool_calls: {support: "honoured", note: "with `false`, the first call ends the turn"},
    modalities: {
        support: "refused", note: "only text is generated", accepts: (value) => Array.isArray(value) && value.every((item) => item === "text")
    },
    metadata: {support: "metadata", note: "accepted, not stored"},
    store: {support: "metadata", note: "nothing is stored"},
    ...OPENAI_METADATA_ROWS,
    audio: {support: "refused", note: "audio output is not supported: the worker generates text"},
    function_call: {support: "refused", note: "deprecated by OpenAI: use tools and tool_choice"},
    functions: {support: "refused", note: "deprecated by OpenAI: use tools"},
    moderation: {support: "refused", note: "the worker runs no moderation"},
    prediction: {support: "refused", note: "predicted outputs are not supported"},
    reasoning_effort: {support: "refused", note: "the worker's models have no reasoning-effort control"},
    verbosity: {support: "refused", note: "the worker's models have no verbosity control"},
    web_search_options: {support: "refused", note: "the worker searches nothing"}
} as const satisfies Record<string, FieldRow>;

export const COMPLETION_FIELDS = {
    prompt: {
        support: "honoured",
        note: "one text (or a list of one), tokenized as text, no chat template; token ids and several prompts are refused"
    },
    ...shared,
    max_tokens: {support: "honoured", note: "default 16, as OpenAI; up to `MAX_TOKENS_LIMIT`"},
    echo: {
        support: "honoured",
        note: "the prompt comes back before the completion; refused together with `logprobs`: the prompt's logprobs need the logits of " +
            "every prompt token. node-llama-cpp can give them (`controlledEvaluate`), but the engine evaluates a prompt for its last " +
            "token only and restores most prompts from the conversation cache without evaluating them, so it would need a second, " +
            "uncached evaluation path"
    },
    logprobs: {support: "honoured", note: "0..5 alternatives, in the legacy shape (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`)"},
    best_of: {
        support: "refused", note: "choices are not ranked: `best_of` may only equal `n`",
        accepts: (value, body) => value === ((body.n as number | null | undefined) ?? 1)
    },
    suffix: {support: "refused", note: "insertion (fill-in-the-middle) is not supported"}
} as const satisfies Record<string, FieldRow>;
