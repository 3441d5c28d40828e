import type {Worker} from "../../src/worker.js";
import type {RunnerEngine} from "../../src/engine/runner/runnerEngine.js";
import {startTestWorker, startUpstreamWorker} from "./testWorker.js";

/**
 * What the /chat contract tests run against. With CHAT_TEST_ENGINE=openai it is a worker with
 * ENGINE=openai in front of an embedded worker's /v1, so the same tests prove both engines.
 */
export interface ChatTarget {
    /** Where the tests send requests. */
    url: string;
    /** The worker that answers `url`. */
    worker: Worker;
    /** The worker that runs the model (the same one unless the target is the upstream chain). */
    model: Worker<RunnerEngine>;
    engine: "embedded" | "openai";
    close(): Promise<void>;
}

export function chatTargetEngine(): "embedded" | "openai" {
    return process.env.CHAT_TEST_ENGINE === "openai" ? "openai" : "embedded";
}

export async function startChatTarget(env: Record<string, string> = {}): Promise<ChatTarget> {
    const model = await startTestWorker(env);
    if (chatTargetEngine() === "embedded")
        return {url: model.url, worker: model.worker, model: model.worker, engine: "embedded", close: model.close};
    const front = await startUpstreamWorker(`${model.url}/v1`, env);
    return {
        url: front.url, worker: front.worker, model: model.worker, engine: "openai",
        close: async () => {
            await front.close();
            await model.close();
        }
    };
}
