import type {FieldRow} from "../../http/fieldTable.js";
import {OPENAI_METADATA_ROWS, OPENAI_SAMPLING_ROWS} from "../../http/openAiFieldRows.js";
import {RESPONSE_STORE_LIMITS} from "./responseStore.js";

/**
 * What the worker does with every request field of OpenAI's Responses API: the single source of
 * docs/responses-api.md's table (`npm run docs`) and of the refusals. A test checks that this table
 * and the request schema name the same fields; a field in neither is refused by the schema.
 */
export const RESPONSES_FIELDS = {
    input: {
        support: "honoured",
        note: "a string (one user message) or items: messages (`system`, `developer` = system, `user`, `assistant`; `input_text` and " +
            "`output_text` parts, other parts are refused), `function_call` and the `function_call_output` that answers it, and " +
            "`item_reference` to a stored answer's item. An earlier answer's items replay as they came (their `id`, `status`, " +
            "`annotations` are accepted and not rendered); other item types (reasoning, built-in tools) are refused"
    },
    instructions: {support: "honoured", note: "the system message, first; not carried over from `previous_response_id` (as OpenAI)"},
    model: OPENAI_SAMPLING_ROWS.model,
    tools: {support: "honoured", note: "function tools, described to the model by its chat template; other tool types are refused"},
    tool_choice: {
        support: "honoured",
        note: "`none`, `auto` (default with tools), `required` or `{type: \"function\", name}`: a forced call is written under a grammar of " +
            "the function's schema (exactly one call); other choices are refused"
    },
    parallel_tool_calls: {support: "honoured", note: "with `false`, the first call ends the turn"},
    text: {
        support: "honoured",
        note: "`format`: `text`, `json_object`, `json_schema` (compiled into a grammar; a keyword it cannot enforce is a 400); " +
            "`verbosity` is refused"
    },
    max_output_tokens: {support: "honoured", note: "up to `MAX_TOKENS_LIMIT`; default `DEFAULT_MAX_TOKENS`; reaching it makes the response `incomplete`"},
    temperature: OPENAI_SAMPLING_ROWS.temperature,
    top_p: OPENAI_SAMPLING_ROWS.top_p,
    seed: {support: "extension", note: "reproducible sampling, as on /v1/chat/completions; without it every request draws a random seed"},
    stream: {
        support: "honoured",
        note: "SSE events `response.created`, `response.in_progress`, `response.output_item.added`, `response.content_part.added`, " +
            "`response.output_text.delta`/`.done`, `response.content_part.done`, `response.function_call_arguments.delta`/`.done`, " +
            "`response.output_item.done`, then `response.completed` (or `response.incomplete`); a failure after the stream opened is an " +
            "`error` event"
    },
    previous_response_id: {
        support: "honoured",
        note: "continues a stored response's conversation (its input and output, then this input); the follow-up resumes the earlier " +
            "sequence through the conversation cache, so only the new tokens are evaluated. An unknown or expired id is a 404"
    },
    store: {
        support: "honoured",
        note: `default true: the response is kept in memory (the last ${RESPONSE_STORE_LIMITS.maxResponses}, for ` +
            `${RESPONSE_STORE_LIMITS.ttlSeconds / 60} minutes, lost on restart) for \`previous_response_id\` and \`GET /v1/responses/{id}\``
    },
    metadata: {support: "metadata", note: "returned on the response, not otherwise used"},
    user: {support: "metadata", note: "logged as an id"},
    ...OPENAI_METADATA_ROWS,
    truncation: {
        support: "refused", note: "the worker always leaves out the oldest history to fit the context (`auto`); `disabled` is not supported",
        accepts: (value) => value === "auto"
    },
    stream_options: {
        support: "refused", note: "`include_obfuscation` is not supported: streams are not padded",
        accepts: (value) => typeof value === "object" && value != null &&
            Object.entries(value).every(([key, option]) => key === "include_obfuscation" && option !== true)
    },
    include: {
        support: "refused", note: "the worker has no extra output to include", accepts: (value) => Array.isArray(value) && value.length === 0
    },
    background: {support: "refused", note: "responses are not run in the background", accepts: (value) => value === false},
    conversation: {support: "refused", note: "conversation objects are not supported: use previous_response_id"},
    context_management: {support: "refused", note: "context management (compaction) is not supported"},
    max_tool_calls: {support: "refused", note: "only function tools run, by the client: the worker makes no built-in tool calls to count"},
    moderation: {support: "refused", note: "the worker runs no moderation"},
    prompt: {support: "refused", note: "stored prompt templates are not supported"},
    reasoning: {
        support: "refused", note: "the worker's models have no reasoning-effort control",
        // LlamaIndex's OpenAIResponses sends `reasoning: {}` on every request: an object that sets nothing asks for nothing.
        accepts: (value) => typeof value === "object" && value != null && !Array.isArray(value) && Object.values(value).every((option) => option == null)
    },
    top_logprobs: {support: "refused", note: "logprobs are not returned on /v1/responses (use /v1/chat/completions)"}
} as const satisfies Record<string, FieldRow>;
