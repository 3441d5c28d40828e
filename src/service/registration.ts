import {setTimeout as delay} from "node:timers/promises";
import type {RegistrationConfig} from "../config/config.js";
import {backoffSeconds} from "./backoff.js";

/** The body the register-chat-worker edge function receives. */
export interface RegistrationBody {
    worker_url: string;
    auto_registered: true;
    /** Kept as the original worker sent it, so the edge function sees the same value. */
    registration_method: "pure_inference_chat_worker";
    detection_method: RegistrationConfig["detectionMethod"];
    timestamp: string;
}

export type RegistrationOutcome =
    | {registered: true; attempts: number; status: number}
    | {registered: false; attempts: number; reason: string};

export interface RegistrationLogger {
    info(details: Record<string, unknown>, message: string): void;
    warn(details: Record<string, unknown>, message: string): void;
    error(details: Record<string, unknown>, message: string): void;
}

/** One attempt may take this long before it counts as failed. */
const ATTEMPT_TIMEOUT_MS = 15_000;
const MAX_BACKOFF_SECONDS = 60;

type Attempt = {ok: true; status: number} | {ok: false; retry: boolean; reason: string; status: number | null};

/**
 * Announces this worker to the Supabase edge function: a POST with the service key as bearer
 * token, retried with exponential backoff on network errors, 5xx and 429 (other 4xx mean the
 * request itself is wrong, so they are not retried). Runs in the background and never throws;
 * the key appears in no log line.
 */
export async function registerWorker(
    config: RegistrationConfig, logger: RegistrationLogger, signal: AbortSignal
): Promise<RegistrationOutcome> {
    const where = {endpoint: config.endpoint, workerUrl: config.workerUrl, detectionMethod: config.detectionMethod};
    for (let attempt = 1; ; attempt++) {
        const result = await attemptOnce(config, signal);
        if (result.ok) {
            logger.info({...where, attempt, status: result.status}, "worker registered");
            return {registered: true, attempts: attempt, status: result.status};
        }
        if (signal.aborted)
            return {registered: false, attempts: attempt, reason: "stopped"};
        const last = !result.retry || attempt >= config.maxAttempts;
        if (last) {
            logger.error({...where, attempt, status: result.status, reason: result.reason}, "worker registration failed; giving up");
            return {registered: false, attempts: attempt, reason: result.reason};
        }
        const waitSeconds = backoffSeconds(attempt, {firstSeconds: config.backoffSeconds, maxSeconds: MAX_BACKOFF_SECONDS});
        logger.warn({...where, attempt, status: result.status, reason: result.reason, retryInSeconds: waitSeconds},
            "worker registration failed; retrying");
        try {
            await delay(waitSeconds * 1000, undefined, {signal});
        } catch {
            return {registered: false, attempts: attempt, reason: "stopped"};
        }
    }
}

async function attemptOnce(config: RegistrationConfig, signal: AbortSignal): Promise<Attempt> {
    const body: RegistrationBody = {
        worker_url: config.workerUrl,
        auto_registered: true,
        registration_method: "pure_inference_chat_worker",
        detection_method: config.detectionMethod,
        timestamp: new Date().toISOString()
    };
    let response: Response;
    try {
        response = await fetch(config.endpoint, {
            method: "POST",
            headers: {"authorization": `Bearer ${config.serviceKey}`, "content-type": "application/json"},
            body: JSON.stringify(body),
            signal: AbortSignal.any([signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)])
        });
    } catch (err) {
        const error = err as Error & {cause?: {code?: string}};
        const reason = error.name === "TimeoutError"
            ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`
            : `${error.cause?.code ?? error.name}: request failed`;
        return {ok: false, retry: true, reason, status: null};
    }
    // The body is read only to release the connection and to see an explicit {"success": false}.
    const text = await response.text().catch(() => "");
    if (response.ok) {
        const refused = parseSuccessFalse(text);
        return refused == null
            ? {ok: true, status: response.status}
            : {ok: false, retry: false, reason: `the edge function answered success: false (${refused})`, status: response.status};
    }
    const retry = response.status >= 500 || response.status === 429;
    return {ok: false, retry, reason: `HTTP ${response.status}`, status: response.status};
}

/** The `error` of a `{"success": false, "error": ...}` body (cut short), or null for any other body. */
function parseSuccessFalse(text: string): string | null {
    try {
        const json = JSON.parse(text) as {success?: unknown; error?: unknown};
        if (json != null && json.success === false)
            return typeof json.error === "string" ? json.error.slice(0, 200) : "no error given";
    } catch {
        // Not JSON: a plain 2xx counts as registered.
    }
    return null;
}
