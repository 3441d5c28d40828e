/**
 * The model runner: a child process that owns llama.cpp (the LlamaEngine), so that whatever
 * llama.cpp does (abort on a corrupt file, spin, grow without bound, block on tokenizing a huge
 * text) never stops the HTTP process. It serves the parent's calls over Node's IPC channel and
 * streams generation events, batched per turn of the event loop so a decode step of N sequences
 * costs one message. See protocol.ts for the messages and RunnerEngine for the other side.
 */
import {LlamaEngine} from "../llama/llamaEngine.js";
import {LlamaEmbeddingEngine} from "../llama/embeddingEngine.js";
import {WorkerError} from "../../errors.js";
import type {FinishReason, GenerationEvent} from "../types.js";
import type {ParentMessage, RunnerCall, RunnerMessage, RunnerSettings} from "./protocol.js";
import {toWire} from "./wireErrors.js";
import {dieWithParent} from "./parentWatch.js";

const send = (message: RunnerMessage) => {
    process.send?.(message);
};

/** A chat model's engine, or an embedding model's (settings.kind). */
let engine: LlamaEngine | LlamaEmbeddingEngine | null = null;
const aborts = new Map<number, {controller: AbortController; reason: FinishReason}>();
let pending: Array<{id: number; event: GenerationEvent}> = [];
let flushScheduled = false;
let lastState = "";
let stateTimer: NodeJS.Timeout | null = null;
/** Generations running, and when the last of them (or an evaluation batch) progressed: the step watchdog's facts (runnerLiveness.ts). */
let running = 0;
let lastProgress = performance.now();
let memoryRefresh: Promise<void> | null = null;

const progressed = () => {
    lastProgress = performance.now();
};

/** Measures the device's memory and sends it (one measurement at a time); the parent answers /health from the last one. */
function refreshMemory(): Promise<void> {
    if (engine == null) return Promise.resolve();
    memoryRefresh ??= engine.memory().then((report) => send({type: "memory", report}), () => undefined).finally(() => {
        memoryRefresh = null;
    });
    return memoryRefresh;
}

function queueEvent(id: number, event: GenerationEvent): void {
    progressed();
    pending.push({id, event});
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(flushEvents);
}

function flushEvents(): void {
    flushScheduled = false;
    if (pending.length === 0) return;
    const events = pending;
    pending = [];
    send({type: "events", events});
}

/** Batches by "tokens:sequences", counted between two reports: one message per tick, not one per decode step. */
const batchCounts = new Map<string, number>();

/** Reports the engine's status and model facts when they changed (the parent keeps the last report), and the batches formed since the last tick. */
function reportState(): void {
    if (engine == null) return;
    if (batchCounts.size > 0) {
        send({type: "batches", batches: [...batchCounts].map(([key, count]) => {
            const [tokens, sequences] = key.split(":").map(Number);
            return [tokens, sequences, count] as [number, number, number];
        })});
        batchCounts.clear();
    }
    const state = {status: engine.status(), info: engine.info(), ...engine.limits()};
    const text = JSON.stringify(state);
    if (text === lastState) return;
    lastState = text;
    send({type: "state", state});
}

function reportSequence(sequence: number): void {
    const view = engine?.sequenceViews()[sequence];
    if (view != null) send({type: "sequence", view});
}

/** The engine of a chat model; the service never sends a chat call to an embedding model's runner, this says so if it did. */
function chat(): LlamaEngine {
    if (engine == null) throw new Error("the runner was not initialised");
    if (!(engine instanceof LlamaEngine)) throw new WorkerError("invalid_request", "model_not_supported", "this model runner serves an embedding model");
    return engine;
}

function init(settings: RunnerSettings): void {
    const logger = {
        info: (details: Record<string, unknown>, message: string) => send({type: "log", level: "info", details, message}),
        warn: (details: Record<string, unknown>, message: string) => send({type: "log", level: "warn", details, message}),
        error: (details: Record<string, unknown>, message: string) => send({type: "log", level: "error", details, message})
    };
    if (settings.kind === "embedding") {
        engine = new LlamaEmbeddingEngine(settings, logger);
        stateTimer = setInterval(reportState, 200);
        reportState();
        return;
    }
    engine = new LlamaEngine(settings, logger, {
        onCache: (event) => send({type: "cache", event}),
        onStateDiscarded: (reason) => send({type: "discard", reason}),
        onBatch: (tokens, sequences) => {
            progressed();
            const key = `${tokens}:${sequences}`;
            batchCounts.set(key, (batchCounts.get(key) ?? 0) + 1);
        }
    });
    // Load progress and state changes reach the parent without it asking.
    stateTimer = setInterval(reportState, 200);
    reportState();
}

async function call(id: number, method: RunnerCall, args: unknown[]): Promise<void> {
    try {
        if (engine == null) throw new Error("the runner was not initialised");
        let value: unknown;
        switch (method) {
            case "fetchModel": value = await engine.fetch(); break;
            case "load":
                value = await engine.load();
                // The loaded model's figures reach the parent before the load's answer (a measurement under way predates it).
                await memoryRefresh;
                await refreshMemory();
                break;
            case "render": value = await chat().render(...(args as Parameters<LlamaEngine["render"]>)); break;
            case "renderRaw": value = await chat().renderRaw(args[0] as string); break;
            case "prepare": value = await chat().prepare(...(args as Parameters<LlamaEngine["prepare"]>)); break;
            case "promptTokens": value = await chat().promptTokens(args[0] as number); break;
            case "countTokens": value = await chat().countTokens(args[0] as string); break;
            case "specialTokenId": value = await chat().specialTokenId(args[0] as string); break;
            case "embed": {
                if (!(engine instanceof LlamaEmbeddingEngine)) throw new WorkerError("invalid_request", "model_not_supported", "this model runner serves a chat model");
                // Each input embedded is progress for the step watchdog, as a generation's tokens are.
                if (running++ === 0) progressed();
                try {
                    value = await engine.embed(args[0] as Parameters<LlamaEmbeddingEngine["embed"]>[0], progressed);
                } finally {
                    running--;
                    progressed();
                }
                break;
            }
        }
        reportState();
        send({type: "result", id, value});
    } catch (err) {
        reportState();
        send({type: "error", id, error: toWire(err)});
    }
}

async function generate(message: Extract<ParentMessage, {type: "generate"}>): Promise<void> {
    const controller = new AbortController();
    const entry = {controller, reason: "abort" as FinishReason};
    aborts.set(message.id, entry);
    if (running++ === 0) progressed();
    try {
        if (engine == null) throw new Error("the runner was not initialised");
        for await (const event of chat().generate({...message.request, signal: controller.signal, abortReason: () => entry.reason}))
            queueEvent(message.id, event);
        flushEvents();
    } catch (err) {
        flushEvents();
        send({type: "generateError", id: message.id, error: toWire(err)});
    } finally {
        running--;
        aborts.delete(message.id);
        reportSequence(message.request.sequence);
    }
}

async function close(): Promise<void> {
    if (stateTimer != null) clearInterval(stateTimer);
    await engine?.close().catch(() => undefined);
    process.exit(0);
}

process.on("message", (message: ParentMessage) => {
    switch (message.type) {
        case "init": init(message.settings); break;
        case "call": void call(message.id, message.method, message.args); break;
        case "generate": void generate(message); break;
        case "abort": {
            const entry = aborts.get(message.id);
            if (entry != null) {
                entry.reason = message.reason;
                entry.controller.abort();
            }
            break;
        }
        case "ping":
            send({type: "pong", seq: message.seq, stalledMs: running > 0 ? performance.now() - lastProgress : null});
            void refreshMemory();
            break;
        case "close": void close(); break;
    }
});
// Without its parent the runner has no purpose (and must not hold a GPU). Not process.exit():
// it waits for the libuv pool, where a wedged native step never returns.
process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
// The same when this thread is blocked and never hears the disconnect.
dieWithParent();
// Signals are the parent's business: it asks with "close" and kills when it must.
process.on("SIGINT", () => undefined);
process.on("SIGTERM", () => void close());
send({type: "ready"});
