import {modelDisplayName} from "../../config/modelSource.js";
import type {ModelInfo} from "../types.js";
import type {RunnerSettings} from "./protocol.js";

/** What is known of a runner's model before its runner first reports: the settings' facts, nulls for the rest. */
export function infoBeforeReport(settings: RunnerSettings): ModelInfo {
    return {
        engine: "embedded", modelName: settings.modelName ?? modelDisplayName(settings.model),
        modelPath: settings.model.kind === "file" ? settings.model.path : null,
        architecture: null, parameterCount: null, fileSizeBytes: null, weightsBytes: null, quantization: null,
        trainedContextSize: null, contextSize: settings.contextSize, parallel: settings.kind === "embedding" ? 1 : settings.parallel, threads: null,
        gpu: null, gpuLayers: null, chatTemplate: null, modelType: null, nodeLlamaCppVersion: null, llamaCppRelease: null, loadTimeSeconds: null,
        deterministic: null, fingerprint: null
    };
}
