/** HTTP calls of the tests: fetch, then the body parsed as JSON (or `{unparsed}` when it is not). */

export interface JsonReply {
    status: number;
    headers: Headers;
    json: any;
}

export async function fetchJson(url: string, init: RequestInit = {}): Promise<JsonReply> {
    const response = await fetch(url, init);
    const text = await response.text();
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        json = {unparsed: text};
    }
    return {status: response.status, headers: response.headers, json};
}

/** POSTs `body` as JSON (a string is sent as it is); `undefined` sends no body at all. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
    if (body === undefined)
        return fetchJson(url, {method: "POST", headers});
    return fetchJson(url, {
        method: "POST",
        headers: {"content-type": "application/json", ...headers},
        body: typeof body === "string" ? body : JSON.stringify(body)
    });
}

export function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonReply> {
    return fetchJson(url, {headers});
}

/** The routes whose errors come in OpenAI's envelope: everything under /v1, and llama-server's /apply-template. */
export function speaksOpenAi(route: string): boolean {
    return route === "/v1" || route.startsWith("/v1/") || route === "/apply-template" || route.startsWith("/apply-template/");
}
