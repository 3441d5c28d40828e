import {getLlama, LlamaLogLevel, TokenBias, type Token} from "node-llama-cpp";

export interface RawDecodeResult {
    /** Tokens per second over the generated tokens after the first (prompt evaluation excluded). */
    tokensPerSecond: number;
    generatedTokens: number;
    /** Bytes of tensor data in the model file: what one decode step reads at least once. */
    weightBytes: number;
}

/**
 * The engine limit for the benchmark: one sequence, straight through node-llama-cpp's
 * `sequence.evaluate`, with end-of-generation tokens banned so exactly `tokens` come out.
 * No HTTP, no scheduler, no detokenizing: what any server on this library can at best reach.
 */
export async function measureRawDecode(options: {
    modelPath: string; threads: number; tokens: number; prompt: string; sampling: {
        temperature: number; topK: number; topP: number; minP: number; repeatPenalty: number; seed: number;
    };
}): Promise<RawDecodeResult> {
    const llama = await getLlama({gpu: false, maxThreads: options.threads, build: "never", logLevel: LlamaLogLevel.error});
    try {
        const model = await llama.loadModel({modelPath: options.modelPath});
        const context = await model.createContext({sequences: 1, contextSize: 4096, threads: options.threads});
        const sequence = context.getSequence();
        const bias = new TokenBias(model.tokenizer);
        for (const token of [model.tokens.eos, model.tokens.eot].filter((token): token is Token => token != null))
            bias.set(token, "never");
        const promptTokens = model.tokenize(options.prompt, false);
        const history: Token[] = [...promptTokens];
        let generated = 0;
        let firstAt = 0;
        let lastAt = 0;
        for await (const token of sequence.evaluate(promptTokens, {
            temperature: options.sampling.temperature, topK: options.sampling.topK, topP: options.sampling.topP,
            minP: options.sampling.minP, seed: options.sampling.seed, tokenBias: bias,
            repeatPenalty: {punishTokens: () => history.slice(-64), penalty: options.sampling.repeatPenalty}
        })) {
            history.push(token);
            generated++;
            lastAt = performance.now();
            if (generated === 1) firstAt = lastAt;
            if (generated >= options.tokens) break;
        }
        const weightBytes = model.fileInfo.tensorInfo?.reduce((sum, tensor) => sum + tensorBytes(tensor), 0) ?? model.size;
        return {tokensPerSecond: (generated - 1) / ((lastAt - firstAt) / 1000), generatedTokens: generated, weightBytes};
    } finally {
        await llama.dispose();
    }
}

function tensorBytes(tensor: {dimensions: readonly (number | bigint)[]; ggmlType: number}): number {
    const elements = tensor.dimensions.reduce((product: number, dim) => product * Number(dim), 1);
    // F32 = 0, F16 = 1, Q8_0 = 8 (34 bytes per 32 values); other types are not in our models.
    switch (tensor.ggmlType) {
        case 0: return elements * 4;
        case 1: return elements * 2;
        case 8: return elements / 32 * 34;
        default: return elements;
    }
}
