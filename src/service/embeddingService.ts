import {EmbeddingDimensionsError, EmbeddingInputError, WorkerError} from "../errors.js";
import type {EmbeddingInput} from "../engine/types.js";
import type {ModelPool, ServedModel} from "./modelPool.js";
import {EmbeddingBatcher} from "./embeddingBatcher.js";
import {unitVector} from "./embeddingVectors.js";

export interface EmbeddingServiceOptions {
    /** Requests that may wait for a batch, per model (MAX_QUEUE). */
    maxQueue: number;
    /** Inputs one request may carry (EMBEDDING_MAX_INPUTS); a batch gathers up to this many too. */
    maxInputs: number;
}

export interface EmbeddingJob {
    /** The embedding model named (as `model` on chat); none: the first embedding model. */
    model?: string | null;
    inputs: EmbeddingInput[];
    /** Cut each vector to this many dimensions (Matryoshka models); null: the model's own size. */
    dimensions: number | null;
    signal?: AbortSignal;
}

export interface EmbeddingResult {
    /** The model that answered, as requests name it. */
    model: string;
    /** Unit-length vectors, one per input, in order. */
    vectors: number[][];
    promptTokens: number;
}

/**
 * Embeddings, for every API that serves them: the model's lifecycle is held (an unloaded model
 * loads again) while the inputs wait in the model's batcher, which hands the inputs of concurrent
 * requests to its runner together.
 */
export class EmbeddingService {
    private readonly batchers = new Map<ServedModel, EmbeddingBatcher>();

    constructor(readonly models: ModelPool, private readonly options: EmbeddingServiceOptions) {}

    /** The embedding model a request names (400 `model_not_supported` for a chat model). */
    model(name?: string | null): ServedModel {
        return this.models.resolve(name, "model", "embedding");
    }

    async embed(job: EmbeddingJob): Promise<EmbeddingResult> {
        if (job.inputs.length > this.options.maxInputs)
            throw new WorkerError("invalid_request", "too_many_inputs",
                `input: ${job.inputs.length} inputs, more than the ${this.options.maxInputs} a request may carry (EMBEDDING_MAX_INPUTS)`, {param: "input"});
        const served = this.model(job.model);
        const hold = await served.lifecycle.enter(job.signal);
        try {
            const native = served.engine.info().embeddingSize ?? null;
            if (job.dimensions != null && native != null && job.dimensions !== native && (!served.matryoshka || job.dimensions > native))
                throw new EmbeddingDimensionsError(job.dimensions, native, served.matryoshka);
            const outcome = await this.batcher(served).submit(job.inputs, job.signal);
            if (!outcome.ok)
                throw new EmbeddingInputError(outcome.input, outcome.reason);
            return {model: served.name, vectors: outcome.vectors.map((vector) => unitVector(vector, job.dimensions)), promptTokens: outcome.promptTokens};
        } finally {
            hold.release();
        }
    }

    private batcher(served: ServedModel): EmbeddingBatcher {
        let batcher = this.batchers.get(served);
        if (batcher == null) {
            const engine = served.engine;
            if (engine.embed == null)
                throw new WorkerError("internal", "no_embeddings", `the engine of ${JSON.stringify(served.name)} cannot compute embeddings`);
            batcher = new EmbeddingBatcher((groups) => engine.embed!(groups), {maxQueued: this.options.maxQueue, maxBatchInputs: this.options.maxInputs});
            this.batchers.set(served, batcher);
        }
        return batcher;
    }
}
