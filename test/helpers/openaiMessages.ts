import assert from "node:assert/strict";
import {APIError} from "openai";

/** Small builders the OpenAI-protocol suites share. */

export const user = (content: string) => ({role: "user" as const, content});

/** OpenAI usage without `prompt_tokens_details`: cached counts differ between a warm and a cold run. */
export function withoutCached(usage: any): unknown {
    if (usage == null) return usage;
    const {prompt_tokens_details: _details, ...rest} = usage;
    return rest;
}

/** The error the client threw, asserted to be an APIError in OpenAI's envelope. */
export async function apiError(call: Promise<unknown>): Promise<APIError> {
    try {
        await call;
    } catch (err) {
        assert.ok(err instanceof APIError, String(err));
        return err;
    }
    assert.fail("expected the call to fail");
}
