/**
 * Smoke test of a running worker: walks every endpoint and prints a pass/fail table.
 *
 *   npm run smoke -- --url http://localhost:7861 [--key KEY] [--lifecycle] [--timeout 120]
 *
 * Endpoints come from the worker's own /docs/json, so routes added later are visited too: GET routes
 * must answer 200; POST routes without a known request here are listed as SKIP. `--lifecycle`
 * also unloads the model, checks the lazy reload on the next /chat, and loads it again (it
 * disturbs traffic, so it is off by default). The key defaults to $WORKER_API_KEY.
 * Exit status: 0 when nothing failed, 1 otherwise, 2 on bad arguments.
 */
import {parseArgs} from "node:util";

interface Reply {
    status: number;
    headers: Headers;
    text: string;
    json: any;
}

interface Check {
    method: "GET" | "POST";
    path: string;
    body?: unknown;
    headers?: Record<string, string>;
    /** Sends no Authorization header even when a key is given. */
    anonymous?: boolean;
    /** Returns a short note on success; throws with the reason on failure. */
    expect(reply: Reply): string;
}

interface Row {
    result: "PASS" | "FAIL" | "SKIP";
    method: string;
    path: string;
    ms: number | null;
    note: string;
}

function usage(message: string): never {
    process.stderr.write(`smoke: ${message}\nusage: npm run smoke -- --url <base> [--key <WORKER_API_KEY>] [--lifecycle] [--timeout <seconds>]\n`);
    process.exit(2);
}

function must(condition: unknown, message: string): asserts condition {
    if (!condition) throw new Error(message);
}

function status(reply: Reply, expected: number): void {
    must(reply.status === expected, `HTTP ${reply.status}, expected ${expected}: ${reply.text.slice(0, 160)}`);
}

/** A JSON type; with "?" the field may also be null (a value the worker may not know). */
type FieldType = "number" | "integer" | "string" | "boolean" | "object" | "number?" | "string?" | "boolean?";

/** Each field is present and of its type. */
function fields(object: any, types: Record<string, FieldType>, where: string): void {
    must(object != null && typeof object === "object", `${where} missing`);
    for (const [name, type] of Object.entries(types)) {
        const value = object[name];
        const base = type.replace("?", "");
        const ok = (type.endsWith("?") && value === null) ||
            (base === "integer" ? Number.isInteger(value) : typeof value === base && value !== null);
        must(ok, `${where}.${name} is ${JSON.stringify(value)}, expected ${type}`);
    }
}

const chatBody = {message: "smoke test", system_prompt: "You are a test.", max_tokens: 8, seed: 1};

const messages = [{role: "system", content: "You are a test."}, {role: "user", content: "smoke test"}];

/** The messages shape, once per model the worker serves (by name when it routes by name). */
function messagesChecks(models: string[], routesByName: boolean): Check[] {
    const perModel = (routesByName ? models : models.slice(0, 1)).map((model): Check => ({
        method: "POST", path: "/chat", body: {messages, model, max_tokens: 8, seed: 1}, expect: (r) => {
            status(r, 200);
            must(r.json?.success === true && typeof r.json.response === "string" && Number.isInteger(r.json.tokens_generated), "no response");
            fields(r.json.model_info, {model_name: "string", inference_engine: "string", active_model_type: "string?"}, "model_info");
            must(!routesByName || r.json.model_info.model_name === model, `answered by ${r.json.model_info.model_name}, not ${model}`);
            return `messages shape, ${r.json.model_info.model_name} (${r.json.model_info.active_model_type}): ${r.json.tokens_generated} tokens`;
        }
    }));
    return [
        ...perModel,
        {method: "POST", path: "/generate", body: {messages, max_tokens: 8}, expect: (r) => {
            status(r, 200);
            must(r.json?.success === true && typeof r.json.response === "string", "no response");
            return `${r.json.tokens_generated} tokens`;
        }},
        {method: "POST", path: "/enhance", body: {messages, max_tokens: 16}, expect: (r) => {
            status(r, 200);
            must(r.json?.success === true && typeof r.json.enhanced_prompt === "string", "no enhanced_prompt");
            return `messages shape: ${r.json.tokens_generated} tokens`;
        }},
        {method: "POST", path: "/chat", body: {messages, message: "both shapes"}, expect: (r) => {
            status(r, 400);
            must(r.json?.code === "mixed_request_shapes", "a mixed body was not refused as such");
            return "mixed shapes rejected";
        }},
        {method: "POST", path: "/chat", body: {messages, model: "no-such-model-xyz"}, expect: (r) => {
            status(r, routesByName ? 400 : 200);
            return routesByName ? `unknown model rejected: ${r.json?.error}` : "one model: any name reaches it";
        }},
        {method: "GET", path: "/debug/model", expect: (r) => {
            status(r, 200);
            must(typeof r.json?.active_model === "string" && typeof r.json.loaded === "object", "no active_model and loaded flags");
            return `active ${r.json.active_model}, loaded ${Object.entries(r.json.loaded).filter(([, loaded]) => loaded).map(([name]) => name).join(", ")}`;
        }}
    ];
}

/** Checks for the endpoints this worker is known to have; keyed "METHOD path". */
function knownChecks(withKey: boolean): Check[] {
    const checks: Check[] = [
        {method: "GET", path: "/worker/info", expect: (r) => {
            status(r, 200);
            must(r.json?.message_format === "messages" && Array.isArray(r.json.models), "no message_format and models");
            return `${r.json.models.length} model(s): ${r.json.models.map((model: {name: string}) => model.name).join(", ")}`;
        }},
        {method: "GET", path: "/health", expect: (r) => {
            status(r, 200);
            must(["healthy", "loading", "degraded", "unhealthy"].includes(r.json?.status), "status field missing");
            must(typeof r.json.capabilities === "object" && typeof r.json.endpoints === "object", "no capabilities and endpoints");
            must(r.json.architecture === "pure_inference_engine" && r.json.worker_type === "chat", "architecture/worker_type");
            must(Number.isInteger(r.json.active_jobs), "active_jobs");
            fields(r.json.stats, {
                requests_served: "integer", errors: "integer", client_errors: "integer", tokens_generated: "integer",
                prompt_tokens: "integer", average_generation_time: "number?", model_loads: "integer", model_load_failures: "integer",
                model_unloads: "integer", startup_time: "number"
            }, "stats");
            return `${r.json.status}${r.json.reason ? ` (${r.json.reason})` : ""}, ${r.json.stats.requests_served} served`;
        }},
        {method: "GET", path: "/ready", expect: (r) => {
            status(r, 200);
            must(r.json?.ready === true, "ready is not true");
            return r.json.model_state;
        }},
        {method: "GET", path: "/chat/health", expect: (r) => {
            status(r, 200);
            must(r.json?.endpoint === "/chat", "endpoint field");
            fields(r.json, {chat_ready: "boolean", endpoints: "object", system_prompt_features: "object", model_info: "object"}, "body");
            must(typeof r.json.endpoints["/chat"] === "string", "endpoints does not list /chat");
            fields(r.json.system_prompt_features, {custom_system_prompts: "boolean", pure_inference_engine: "boolean", debug_endpoint: "boolean"},
                "system_prompt_features");
            fields(r.json.model_info, {loaded: "boolean", model_name: "string?", memory_usage: "object"}, "model_info");
            return `${r.json.status}, chat_ready ${r.json.chat_ready}, ${Object.keys(r.json.endpoints).length} endpoints`;
        }},
        {method: "GET", path: "/model/info", expect: (r) => {
            status(r, 200);
            must(typeof r.json?.model_name === "string", "model_name");
            fields(r.json, {
                model_device: "string?", model_parameters: "number?", model_size_gb: "number?", cuda_available: "boolean?", gpu_name: "string?"
            }, "body");
            must(("error" in r.json) === (r.json.model_loaded !== true), "error must be present exactly while no model is loaded");
            return `${r.json.model_name} ${r.json.quantization ?? ""} ${r.json.model_device ?? ""} ${r.json.gpu_name ?? ""}`.replace(/\s+/g, " ").trim();
        }},
        {method: "GET", path: "/memory/status", expect: (r) => {
            status(r, 200);
            must(r.json?.unit === "GiB", "unit");
            const kind = r.json.memory_kind;
            return kind == null ? "memory unknown" : `${kind}: ${r.json[`available_${kind}`]} of ${r.json[`total_${kind}`]} GiB free`;
        }},
        {method: "GET", path: "/metrics", expect: (r) => {
            status(r, 200);
            must(r.text.includes("chat_worker_http_requests_total"), "no chat_worker_http_requests_total");
            return `${r.text.split("\n").filter((line) => line !== "" && !line.startsWith("#")).length} samples`;
        }},
        {method: "GET", path: "/docs/json", expect: (r) => {
            status(r, 200);
            must(typeof r.json?.openapi === "string" && r.json.paths != null, "not an OpenAPI document");
            return `OpenAPI ${r.json.openapi}, ${Object.keys(r.json.paths).length} paths`;
        }},
        ...["/", "/docs"].map((path): Check => ({method: "GET", path, anonymous: true, expect: (r) => {
            // The pages hold no data, so they load without the key; their API calls carry it.
            status(r, 200);
            must((r.headers.get("content-type") ?? "").startsWith("text/html"), "not an HTML page");
            return path === "/" ? "playground page" : "API docs page";
        }})),
        {method: "POST", path: "/chat", body: chatBody, expect: (r) => {
            status(r, 200);
            must(r.json?.success === true && typeof r.json.response === "string", "no response");
            return `${r.json.usage?.completion_tokens} tokens, ${r.json.finish_reason}`;
        }},
        {method: "POST", path: "/chat", body: {...chatBody, stream: true}, expect: (r) => {
            status(r, 200);
            must((r.headers.get("content-type") ?? "").startsWith("text/event-stream"), "not an event stream");
            const tokens = (r.text.match(/^event: token$/gm) ?? []).length;
            must(tokens > 0 && /^event: done$/m.test(r.text), "no token or done event");
            return `stream: ${tokens} token events + done`;
        }},
        {method: "POST", path: "/chat", body: {system_prompt: "no message"}, expect: (r) => {
            status(r, 400);
            must(r.json?.success === false && /message/.test(r.json.error), "error does not name the field");
            return `bad input rejected: ${r.json.error}`;
        }},
        {method: "POST", path: "/chat/debug/system-prompt", body: chatBody, expect: (r) => {
            status(r, 200);
            must(r.json?.no_override_detected === true, "no_override_detected is not true");
            return `${r.json.prompt_tokens} prompt tokens, system prompt in place`;
        }},
        ...["/enhance", "/enhance/legacy"].map((path): Check => ({
            method: "POST", path, body: {prompt: "beautiful woman", job_type: "sdxl_image_fast", quality: "fast"}, expect: (r) => {
                status(r, 200);
                const enhanced = r.json?.enhanced_prompt;
                must(r.json?.success === true && typeof enhanced === "string" && enhanced !== "" && !enhanced.includes("\n"),
                    "no one-line enhanced prompt");
                return `${enhanced.length} chars, ${r.json.finish_reason}`;
            }
        })),
        {method: "GET", path: "/enhancement/info", expect: (r) => {
            status(r, 200);
            must(Array.isArray(r.json?.supported_job_types), "no supported_job_types");
            return `${r.json.supported_job_types.length} job types`;
        }},
        {method: "POST", path: "/v1/chat/completions", body: {messages: [{role: "user", content: "Hello"}], max_tokens: 8}, expect: (r) => {
            status(r, 200);
            must(r.json?.object === "chat.completion" && typeof r.json.choices?.[0]?.message?.content === "string", "not a chat.completion");
            return `${r.json.usage?.completion_tokens} tokens, ${r.json.choices[0].finish_reason}`;
        }},
        {method: "POST", path: "/v1/completions", body: {prompt: "Once upon a time", max_tokens: 8}, expect: (r) => {
            status(r, 200);
            must(r.json?.object === "text_completion" && typeof r.json.choices?.[0]?.text === "string", "not a text_completion");
            return `${r.json.usage?.completion_tokens} tokens, ${r.json.choices[0].finish_reason}`;
        }},
        {method: "POST", path: "/apply-template", body: {messages: [{role: "user", content: "Hello"}]}, expect: (r) => {
            status(r, 200);
            must(typeof r.json?.prompt === "string", "no prompt");
            return `${r.json.prompt.length} chars`;
        }}
    ];
    if (withKey)
        checks.push({method: "GET", path: "/model/info", anonymous: true, expect: (r) => {
            status(r, 401);
            return "refused without the key";
        }});
    return checks;
}

function lifecycleChecks(): Check[] {
    return [
        {method: "POST", path: "/memory/unload", body: {timeout_seconds: 30}, expect: (r) => {
            status(r, 200);
            must(r.json?.model_loaded === false, "model still loaded");
            must(r.json.success === true && typeof r.json.message === "string", "no {success, message}");
            return r.json.message;
        }},
        {method: "GET", path: "/model/info", expect: (r) => {
            status(r, 200);
            must(r.json?.model_loaded === false && r.json.error === "Model not loaded", "no error field while unloaded");
            return "unloaded: error \"Model not loaded\"";
        }},
        {method: "GET", path: "/chat/health", expect: (r) => {
            status(r, 200);
            must(r.json?.chat_ready === false && r.json.model_info?.loaded === false, "chat_ready while unloaded");
            return "unloaded: chat_ready false";
        }},
        {method: "POST", path: "/chat", body: chatBody, expect: (r) => {
            status(r, 200);
            must(r.json?.model_info?.model_loaded === true, "not reloaded");
            return "lazy reload on /chat";
        }},
        {method: "POST", path: "/memory/load", body: {}, expect: (r) => {
            status(r, 200);
            must(r.json?.model_loaded === true, "not loaded");
            must(r.json.success === true && typeof r.json.message === "string", "no {success, message}");
            return r.json.message;
        }}
    ];
}

async function send(base: string, check: Check, key: string | null, timeoutMs: number): Promise<Reply> {
    const headers: Record<string, string> = {...check.headers};
    if (key != null && !check.anonymous) headers.authorization = `Bearer ${key}`;
    if (check.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${base}${check.path}`, {
        method: check.method, headers, body: check.body !== undefined ? JSON.stringify(check.body) : undefined,
        signal: AbortSignal.timeout(timeoutMs)
    });
    const text = await response.text();
    let json: unknown = null;
    try {
        json = JSON.parse(text);
    } catch {
        // not JSON (metrics, event streams)
    }
    return {status: response.status, headers: response.headers, text, json};
}

async function run(check: Check, base: string, key: string | null, timeoutMs: number): Promise<Row> {
    const started = performance.now();
    try {
        const reply = await send(base, check, key, timeoutMs);
        const note = check.expect(reply);
        return {result: "PASS", method: check.method, path: check.path, ms: performance.now() - started, note};
    } catch (err) {
        return {result: "FAIL", method: check.method, path: check.path, ms: performance.now() - started, note: (err as Error).message};
    }
}

function printTable(rows: Row[]): void {
    const width = Math.max(...rows.map((row) => row.path.length), 4);
    process.stdout.write(`${"RESULT".padEnd(6)}  ${"METHOD".padEnd(6)}  ${"PATH".padEnd(width)}  ${"MS".padStart(7)}  NOTE\n`);
    for (const row of rows)
        process.stdout.write(`${row.result.padEnd(6)}  ${row.method.padEnd(6)}  ${row.path.padEnd(width)}  ` +
            `${(row.ms != null ? row.ms.toFixed(0) : "-").padStart(7)}  ${row.note.replace(/\s+/g, " ")}\n`);
}

async function main(): Promise<void> {
    let values;
    try {
        ({values} = parseArgs({
            options: {url: {type: "string"}, key: {type: "string"}, lifecycle: {type: "boolean"}, timeout: {type: "string"}},
            strict: true
        }));
    } catch (err) {
        usage((err as Error).message);
    }
    if (values.url == null) usage("--url is required");
    let base: string;
    try {
        base = new URL(values.url).toString().replace(/\/+$/, "");
    } catch {
        usage(`--url is not a URL: ${values.url}`);
    }
    const timeoutSeconds = Number(values.timeout ?? "120");
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) usage("--timeout must be a positive number of seconds");
    const key = values.key ?? process.env.WORKER_API_KEY ?? null;
    const timeoutMs = timeoutSeconds * 1000;

    // The models to select come from the worker itself.
    const info = await send(base, {method: "GET", path: "/worker/info", expect: () => ""}, key, timeoutMs).catch(() => null);
    const models = ((info?.json?.models ?? []) as Array<{name: string}>).map((model) => model.name);
    const checks = [...knownChecks(key != null), ...messagesChecks(models, info?.json?.capabilities?.model_selection === true)];
    const rows: Row[] = [];
    for (const check of checks)
        rows.push(await run(check, base, key, timeoutMs));

    // Routes the worker describes that the checks above did not visit.
    const docs = await send(base, {method: "GET", path: "/docs/json", expect: () => ""}, key, timeoutMs).catch(() => null);
    const visited = new Set(checks.map((check) => `${check.method} ${check.path}`));
    const lifecycleRoutes = new Set(["POST /memory/unload", "POST /memory/load"]);
    for (const [path, operations] of Object.entries((docs?.json?.paths ?? {}) as Record<string, Record<string, unknown>>))
        for (const method of Object.keys(operations).map((name) => name.toUpperCase())) {
            const id = `${method} ${path}`;
            if (visited.has(id) || (values.lifecycle && lifecycleRoutes.has(id)))
                continue;
            if (method === "GET" && !path.includes(":") && !path.includes("*") && !path.includes("{"))
                rows.push(await run({method: "GET", path, expect: (r) => {
                    status(r, 200);
                    return "200";
                }}, base, key, timeoutMs));
            else
                rows.push({result: "SKIP", method, path, ms: null,
                    note: lifecycleRoutes.has(id) ? "changes the model state; run with --lifecycle" : "no smoke request for this route"});
        }
    if (values.lifecycle)
        for (const check of lifecycleChecks())
            rows.push(await run(check, base, key, timeoutMs));

    printTable(rows);
    const failed = rows.filter((row) => row.result === "FAIL").length;
    process.stdout.write(`\n${rows.filter((row) => row.result === "PASS").length} passed, ${failed} failed, ` +
        `${rows.filter((row) => row.result === "SKIP").length} skipped\n`);
    process.exit(failed === 0 ? 0 : 1);
}

void main();
