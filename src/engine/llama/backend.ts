import {getLlama, LlamaLogLevel, type Llama} from "node-llama-cpp";
import type {Config} from "../../config/config.js";
import type {EngineLogger} from "../types.js";
import {LoadFailure} from "../../errors.js";

/**
 * Starts the llama.cpp backend for GPU (never building it: a missing prebuilt binary is a
 * backend_unavailable failure), with llama.cpp's log routed to ours. It outlives unloads (see
 * LlamaEngine.llama).
 */
export async function startBackend(settings: Pick<Config, "gpu" | "threads">, logger: EngineLogger): Promise<Llama> {
    try {
        return await getLlama({
            gpu: settings.gpu === "false" ? false : settings.gpu,
            maxThreads: settings.threads,
            build: "never",
            logLevel: LlamaLogLevel.warn,
            logger: (level, message) => logLlama(logger, level, message)
        });
    } catch (err) {
        throw new LoadFailure("backend_unavailable", `cannot start the llama.cpp backend for GPU=${settings.gpu}: ${(err as Error).message}`);
    }
}

function logLlama(logger: EngineLogger, level: LlamaLogLevel, message: string): void {
    const text = message.trim();
    if (text === "") return;
    // llama.cpp quotes a grammar it cannot parse, and grammars come from clients: such a
    // message is client text, logged as its length only (like prompts without LOG_PROMPTS).
    const [details, line] = /grammar/i.test(text)
        ? [{source: "llama.cpp", withheldChars: text.length}, "llama.cpp reported a grammar error (text withheld: it quotes the client's grammar)"]
        : [{source: "llama.cpp"}, text];
    if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)
        logger.error(details, line);
    else if (level === LlamaLogLevel.warn)
        logger.warn(details, line);
}
