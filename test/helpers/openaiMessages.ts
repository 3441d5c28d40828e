/** Small builders the OpenAI-protocol suites share. */

export const user = (content: string) => ({role: "user" as const, content});

/** OpenAI usage without `prompt_tokens_details`: cached counts differ between a warm and a cold run. */
export function withoutCached(usage: any): unknown {
    if (usage == null) return usage;
    const {prompt_tokens_details: _details, ...rest} = usage;
    return rest;
}
