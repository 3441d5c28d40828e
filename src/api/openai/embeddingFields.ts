import type {FieldRow} from "../../http/fieldTable.js";

/**
 * What the worker does with each request field of OpenAI's embeddings reference: the single source
 * of the docs' table (`npm run docs`); a test checks that it and the request schema name the same fields.
 */
export const EMBEDDING_FIELDS = {
    input: {
        support: "honoured",
        note: "a string, an array of strings, an array of token ids, or an array of token-id arrays; up to `EMBEDDING_MAX_INPUTS` inputs, " +
            "each at most the embedding model's context in tokens (a longer one is a 400 naming it, never truncated); an empty input is a 400"
    },
    model: {
        support: "honoured",
        note: "selects the embedding model by name (a `MODELS` entry marked `?kind=embedding`); a chat model is a 400 `model_not_supported`; " +
            "left out, the first embedding model answers"
    },
    encoding_format: {support: "honoured", note: "`float` (default) or `base64` (little-endian float32, as OpenAI)"},
    dimensions: {
        support: "honoured",
        note: "the native size is always accepted; a smaller one only for a model marked `matryoshka=true` in `MODELS` (the vector is cut, " +
            "then scaled to unit length again); otherwise a 400 naming `dimensions`"
    },
    user: {support: "metadata", note: "logged as an id"}
} as const satisfies Record<string, FieldRow>;
