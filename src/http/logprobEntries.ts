import {Type, type Static} from "@sinclair/typebox";
import type {TokenLogprob} from "../service/chatService.js";

/**
 * Token logprobs in OpenAI's wire shape, which the native API's opt-in (`logprobs.content` on
 * /chat) and OpenAI's chat completions both answer with.
 */

/** OpenAI's limit for `top_logprobs`. */
export const MAX_TOP_LOGPROBS = 20;

const topLogprobSchema = Type.Object({token: Type.String(), logprob: Type.Number(), bytes: Type.Array(Type.Integer())});
export const logprobEntrySchema = Type.Object({
    token: Type.String(), logprob: Type.Number(), bytes: Type.Array(Type.Integer()), top_logprobs: Type.Array(topLogprobSchema)
});
export type LogprobEntry = Static<typeof logprobEntrySchema>;

/** Engine logprobs in the wire shape. */
export function logprobEntries(entries: TokenLogprob[]): LogprobEntry[] {
    return entries.map((entry) => ({
        token: entry.token, logprob: entry.logprob, bytes: entry.bytes,
        top_logprobs: entry.topLogprobs.map(({token, logprob, bytes}) => ({token, logprob, bytes}))
    }));
}
