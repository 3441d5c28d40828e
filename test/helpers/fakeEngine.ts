import {unloadedStatus} from "../../src/engine/types.js";
import type {
    ChatMessage, Engine, EngineStatus, GenerateRequest, GenerationEvent, MemoryReport, ModelInfo, RenderedPrompt
} from "../../src/engine/types.js";

/**
 * An Engine whose generations follow a script, for the service and lifecycle paths the real
 * engine reaches only rarely (an engine that ends without an end event, a failure mid-stream, a
 * load that fails). Rendering joins the messages; a token is a character.
 */
export type Script = (request: GenerateRequest) => AsyncIterable<GenerationEvent>;

export class FakeEngine implements Engine {
    readonly sequences: number;
    readonly contextSize: number;
    state: EngineStatus = unloadedStatus();
    /** What the next load ends in. */
    loadOutcome: EngineStatus = {state: "ready", reason: null, loadProgress: null, code: null};
    loads = 0;
    unloads = 0;
    generations = 0;

    constructor(public script: Script, options: {sequences?: number; contextSize?: number} = {}) {
        this.sequences = options.sequences ?? 2;
        this.contextSize = options.contextSize ?? 1024;
    }

    status(): EngineStatus {
        return {...this.state};
    }

    info(): ModelInfo {
        return {
            engine: "embedded", modelName: "fake", modelPath: null, architecture: null, parameterCount: null, fileSizeBytes: null,
            weightsBytes: null, quantization: null, trainedContextSize: null, contextSize: this.contextSize, parallel: this.sequences,
            threads: null, gpu: null, gpuLayers: null, chatTemplate: null, modelType: null, nodeLlamaCppVersion: null, llamaCppRelease: null,
            loadTimeSeconds: null, deterministic: null, fingerprint: null
        };
    }

    async render(messages: ChatMessage[]): Promise<RenderedPrompt> {
        const text = messages.map((message) => `${message.role}: ${message.content}\n`).join("") + "assistant:";
        return {messages, text, tokenCount: text.length};
    }

    async renderRaw(text: string): Promise<RenderedPrompt> {
        return {messages: [], raw: true, text, tokenCount: text.length};
    }

    generate(request: GenerateRequest): AsyncIterable<GenerationEvent> {
        this.generations++;
        return this.script(request);
    }

    async whenSettled(): Promise<void> {}

    async load(): Promise<void> {
        this.loads++;
        this.state = {...this.loadOutcome};
    }

    async unload(): Promise<void> {
        this.unloads++;
        this.state = unloadedStatus();
    }

    async memory(): Promise<MemoryReport> {
        return {deviceType: "cpu", device: "cpu", deviceName: null, memoryKind: null, totalBytes: null, usedBytes: null, freeBytes: null, modelBytes: null};
    }

    async close(): Promise<void> {
        await this.unload();
    }
}

/** A script that streams `pieces` and ends with `stop`, using a character per token. */
export function streams(pieces: string[]): Script {
    return async function* (request) {
        for (const text of pieces) yield {type: "text", text};
        const completion = pieces.join("").length;
        yield {type: "end", finishReason: "stop", usage: {promptTokens: request.prompt.tokenCount ?? 0, completionTokens: completion, cachedTokens: 0}};
    };
}
