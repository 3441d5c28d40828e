/**
 * Deterministic synthetic Qwen2-architecture GGUF models, for tests and benchmarks.
 *
 * The weights are pseudo-random (seeded per tensor from (seed, tensor name)), so the model "speaks"
 * gibberish, but it has the real architecture, tokenizer type, chat template and (for the "0.5b"
 * and "7b" presets) the real Qwen2.5-0.5B / 7B tensor shapes, so llama.cpp does exactly the work it
 * would do for the real model.
 *
 * Output-head construction (what makes the generated text well-behaved):
 * - Residual-stream dimension 0 is a constant "bias channel": every token embedding has a large
 *   constant value there, and no layer writes to it (row 0 of attn_output / ffn_down is zero), so
 *   after the final RMSNorm that component is always large and positive.
 * - In output.weight, only tokens whose bytes are all printable ASCII (0x20..0x7E) get non-zero rows.
 *   Their column 0 holds a large positive weight (a per-token static logit offset of 50..54), the
 *   other columns random weights with a per-token scale spanning 0.5..3 logits (std of the contextual
 *   part of the logit), so the distribution is far from uniform (perplexity ~20 at temperature 1 on
 *   the bench preset) and varies with the context. Every other row
 *   (control bytes, bytes >= 0x80, special tokens, padding) is all zeros, so their logit is exactly 0,
 *   >= ~40 below the best printable one (measured): they are never sampled, even at temperature 1.5
 *   with the 152064-token padded vocabulary of the 7b preset.
 *   => generated text is printable ASCII, and generation runs until max tokens or a stop string.
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { GgufWriter, type GgufLayout, type TensorRowProducer } from "./ggufWriter.js";
import { shardPath, splitWriter } from "./ggufSplit.js";
import { GgmlType, ggmlTypeName, type GgmlTypeId } from "./ggmlEncoding.js";
import { QWEN25_CHAT_TEMPLATE, buildSyntheticVocab } from "./syntheticVocab.js";

export type ModelPreset = "tiny" | "bench" | "0.5b" | "7b";
export const MODEL_PRESETS: readonly ModelPreset[] = Object.freeze(["tiny", "bench", "0.5b", "7b"] as const);

export const DEFAULT_SYNTHETIC_SEED = 1;

export interface SyntheticModelShape {
    /** general.name */
    name: string;
    embeddingLength: number;
    blockCount: number;
    feedForwardLength: number;
    headCount: number;
    headCountKv: number;
    contextLength: number;
    /** Type of the 2-D weight matrices (1-D tensors are always F32). */
    weightType: "F32" | "Q8_0";
    /**
     * When set, the vocabulary is padded with unused "[PADn]" tokens (after the special tokens) up to this
     * size, like the GGUF conversions of real Qwen2.5 models (151665 tokens padded to 152064 rows), so the
     * embedding / output head and sampling cost the same as in the real model.
     */
    padVocabTo?: number;
}

export const PRESET_SHAPES: Readonly<Record<ModelPreset, Readonly<SyntheticModelShape>>> = Object.freeze({
    tiny: Object.freeze({
        name: "chat-worker-synthetic-tiny",
        embeddingLength: 64,
        blockCount: 2,
        feedForwardLength: 128,
        headCount: 4,
        headCountKv: 2,
        contextLength: 32768,
        weightType: "F32"
    }),
    bench: Object.freeze({
        name: "chat-worker-synthetic-bench",
        embeddingLength: 512,
        blockCount: 8,
        feedForwardLength: 1536,
        headCount: 8,
        headCountKv: 4,
        contextLength: 32768,
        weightType: "Q8_0"
    }),
    "0.5b": Object.freeze({
        // Qwen2.5-0.5B(-Instruct) shapes; the vocabulary is padded to the config's vocab_size (151936, a
        // multiple of 128), as in its GGUF conversions. The real model ties the output head to the
        // embedding; ours has its own head (the construction above needs it), so the file is ~670 MB, not ~530.
        name: "chat-worker-synthetic-0.5b",
        embeddingLength: 896,
        blockCount: 24,
        feedForwardLength: 4864,
        headCount: 14,
        headCountKv: 2,
        contextLength: 32768,
        weightType: "Q8_0",
        padVocabTo: 151936
    }),
    "7b": Object.freeze({
        // Qwen2.5-7B(-Instruct) shapes
        name: "chat-worker-synthetic-7b",
        embeddingLength: 3584,
        blockCount: 28,
        feedForwardLength: 18944,
        headCount: 28,
        headCountKv: 4,
        contextLength: 32768,
        weightType: "Q8_0",
        padVocabTo: 152064
    })
});

/** 32-bit hash of (seed, name): FNV-1a over the name, seeded, finished with murmur3's fmix32. Never 0. */
function tensorSeed(seed: number, name: string): number {
    let h = (0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
    const bytes = Buffer.from(name, "utf8");
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0) === 0 ? 0x9e3779b9 : h >>> 0;
}

const INV_2_31 = 1 / 2147483648;

/**
 * xorshift32 stream filling `out[start..end)` with uniform values in [-scale, scale).
 * Returns the new state.
 */
function fillUniform(out: Float32Array, start: number, end: number, state: number, scale: number): number {
    let s = state | 0;
    const k = scale * INV_2_31;
    for (let i = start; i < end; i++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        out[i] = s * k;
    }
    return s;
}

/** Next uniform value in [0, 1) from the xorshift32 state held in `st[0]`. */
function nextUnit(st: Int32Array): number {
    let s = st[0];
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    st[0] = s;
    return (s >>> 0) / 4294967296;
}

function constantProducer(value: number): TensorRowProducer {
    return (out) => { out.fill(value); };
}

/**
 * Uniform weights in [-scale, scale), one xorshift32 stream per tensor (seeded from (seed, name)), consumed
 * row by row in order, so the values do not depend on how the writer chunks the rows.
 */
function uniformProducer(
    seed: number,
    name: string,
    rowLength: number,
    scale: number,
    options: { zeroFirstRow?: boolean; firstColumnValue?: number } = {}
): TensorRowProducer {
    let state = tensorSeed(seed, name);
    return (out, firstRow, rowCount) => {
        state = fillUniform(out, 0, rowCount * rowLength, state, scale);
        if (options.zeroFirstRow && firstRow === 0)
            out.fill(0, 0, rowLength);
        if (options.firstColumnValue != null)
            for (let r = 0; r < rowCount; r++)
                out[r * rowLength] = options.firstColumnValue;
    };
}

// Output head constants, in logit units (see the file comment)
/** Static logit offset of printable tokens: BIAS_LOGIT + U(0, BIAS_SPREAD). */
const BIAS_LOGIT = 50;
const BIAS_SPREAD = 4;
/** Per-token contextual logit scale: log-uniform in [CONTEXT_SCALE_MIN, CONTEXT_SCALE_MAX]. */
const CONTEXT_SCALE_MIN = 0.5;
const CONTEXT_SCALE_MAX = 3;

/**
 * Rows of output.weight. `h` = output_norm(x) has RMS 1, i.e. |h|^2 = n_embd; by construction about half of
 * that energy sits in h[0] (the bias channel), so h[0] ~ sqrt(n/2) and the rest has |h'| ~ sqrt(n/2).
 */
function outputHeadProducer(seed: number, nEmbd: number, printable: readonly boolean[]): TensorRowProducer {
    const st = new Int32Array([tensorSeed(seed, "output.weight")]);
    const hNorm = Math.sqrt(nEmbd / 2);
    // uniform in [-a, a) has std a/sqrt(3): choose a so that sum_j w_j h_j has std `rowScale`
    const contextAmplitude = Math.sqrt(3) / hNorm;
    const logScaleMin = Math.log(CONTEXT_SCALE_MIN);
    const logScaleRange = Math.log(CONTEXT_SCALE_MAX) - logScaleMin;
    return (out, firstRow, rowCount) => {
        for (let r = 0; r < rowCount; r++) {
            const token = firstRow + r;
            const offset = r * nEmbd;
            if (!printable[token]) {
                out.fill(0, offset, offset + nEmbd); // logit exactly 0
                continue;
            }
            const bias = BIAS_LOGIT + BIAS_SPREAD * nextUnit(st);
            const rowScale = Math.exp(logScaleMin + logScaleRange * nextUnit(st));
            st[0] = fillUniform(out, offset, offset + nEmbd, st[0], rowScale * contextAmplitude);
            out[offset] = bias / hNorm;
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Model

export interface SyntheticModelDescription {
    preset: ModelPreset;
    shape: Readonly<SyntheticModelShape>;
    vocabSize: number;
    parameters: number;
    bytes: number;
    tensors: { name: string; shape: readonly number[]; type: string; bytes: number }[];
}

function checkSeed(seed: number): number {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
        throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${seed}`);
    return seed;
}

function presetShape(preset: ModelPreset): Readonly<SyntheticModelShape> {
    const shape = Object.hasOwn(PRESET_SHAPES, preset) ? PRESET_SHAPES[preset] : undefined;
    if (shape == null) throw new RangeError(`unknown preset "${String(preset)}" (expected one of ${MODEL_PRESETS.join(", ")})`);
    return shape;
}

function buildWriter(shape: Readonly<SyntheticModelShape>, seed: number): GgufWriter {
    const {
        embeddingLength: n, blockCount, feedForwardLength: nFf, headCount, headCountKv
    } = shape;
    for (const [key, value] of Object.entries({ embeddingLength: n, blockCount, feedForwardLength: nFf, headCount, headCountKv, contextLength: shape.contextLength }))
        if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${key} must be a positive integer, got ${value}`);
    if (n % headCount !== 0) throw new RangeError(`embedding length ${n} is not divisible by head count ${headCount}`);
    if (headCount % headCountKv !== 0) throw new RangeError(`head count ${headCount} is not divisible by KV head count ${headCountKv}`);
    if (shape.weightType === "Q8_0" && (n % 32 !== 0 || nFf % 32 !== 0))
        throw new RangeError(`Q8_0 needs embedding and feed-forward lengths that are multiples of 32`);
    const headDim = n / headCount;
    const nKv = headDim * headCountKv;
    const wType: GgmlTypeId = shape.weightType === "Q8_0" ? GgmlType.Q8_0 : GgmlType.F32;
    const vocab = buildSyntheticVocab(shape.padVocabTo);
    const nVocab = vocab.tokens.length;

    const w = new GgufWriter({ alignment: 32 });
    w.setString("general.architecture", "qwen2");
    w.setString("general.type", "model");
    w.setString("general.name", shape.name);
    w.setUint32("general.alignment", 32);
    w.setUint32("general.file_type", wType === GgmlType.Q8_0 ? 7 : 0); // LLAMA_FTYPE_MOSTLY_Q8_0 : ALL_F32
    if (wType === GgmlType.Q8_0) w.setUint32("general.quantization_version", 2);

    w.setUint32("qwen2.context_length", shape.contextLength);
    w.setUint32("qwen2.embedding_length", n);
    w.setUint32("qwen2.block_count", blockCount);
    w.setUint32("qwen2.feed_forward_length", nFf);
    w.setUint32("qwen2.attention.head_count", headCount);
    w.setUint32("qwen2.attention.head_count_kv", headCountKv);
    w.setFloat32("qwen2.attention.layer_norm_rms_epsilon", 1e-6);
    w.setFloat32("qwen2.rope.freq_base", 1000000);

    w.setString("tokenizer.ggml.model", "gpt2");
    w.setString("tokenizer.ggml.pre", "qwen2");
    w.setStringArray("tokenizer.ggml.tokens", vocab.tokens);
    w.setInt32Array("tokenizer.ggml.token_type", vocab.tokenTypes);
    w.setStringArray("tokenizer.ggml.merges", vocab.merges);
    w.setUint32("tokenizer.ggml.eos_token_id", vocab.imEndId);
    w.setUint32("tokenizer.ggml.padding_token_id", vocab.endOfTextId);
    w.setUint32("tokenizer.ggml.bos_token_id", vocab.endOfTextId);
    w.setBool("tokenizer.ggml.add_bos_token", false);
    w.setString("tokenizer.chat_template", QWEN25_CHAT_TEMPLATE);

    // Initialization: uniform in [-a, a) with a = sqrt(3 / fan_in) => unit gain per projection.
    // Residual-writing projections are scaled down with depth and never write residual dim 0 (the bias channel).
    const gain = (fanIn: number) => Math.sqrt(3 / fanIn);
    const residualScale = 1 / Math.sqrt(2 * blockCount);
    const embeddingAmplitude = 1;
    // dim 0 carries as much energy as all other dims together: C^2 = (n - 1) * a^2 / 3
    const biasChannel = Math.sqrt(((n - 1) * embeddingAmplitude * embeddingAmplitude) / 3);

    const matrix = (name: string, nIn: number, nOut: number, scale: number, options?: { zeroFirstRow?: boolean; firstColumnValue?: number }) =>
        w.addTensor({ name, shape: [nIn, nOut], type: wType, produce: uniformProducer(seed, name, nIn, scale, options) });
    const vector = (name: string, length: number, produce: TensorRowProducer) =>
        w.addTensor({ name, shape: [length], type: GgmlType.F32, produce });
    const smallVector = (name: string, length: number, scale: number) =>
        vector(name, length, uniformProducer(seed, name, length, scale));

    matrix("token_embd.weight", n, nVocab, embeddingAmplitude, { firstColumnValue: biasChannel });
    for (let i = 0; i < blockCount; i++) {
        const p = `blk.${i}.`;
        vector(p + "attn_norm.weight", n, constantProducer(1));
        matrix(p + "attn_q.weight", n, n, gain(n));
        smallVector(p + "attn_q.bias", n, 0.02);
        matrix(p + "attn_k.weight", n, nKv, gain(n));
        smallVector(p + "attn_k.bias", nKv, 0.02);
        matrix(p + "attn_v.weight", n, nKv, gain(n));
        smallVector(p + "attn_v.bias", nKv, 0.02);
        matrix(p + "attn_output.weight", n, n, gain(n) * residualScale, { zeroFirstRow: true });
        vector(p + "ffn_norm.weight", n, constantProducer(1));
        matrix(p + "ffn_gate.weight", n, nFf, gain(n));
        matrix(p + "ffn_up.weight", n, nFf, gain(n));
        matrix(p + "ffn_down.weight", nFf, n, gain(nFf) * residualScale, { zeroFirstRow: true });
    }
    vector("output_norm.weight", n, constantProducer(1));
    w.addTensor({ name: "output.weight", shape: [n, nVocab], type: wType, produce: outputHeadProducer(seed, n, vocab.printable) });
    return w;
}

function describeLayout(shape: Readonly<SyntheticModelShape>, layout: GgufLayout): Omit<SyntheticModelDescription, "preset"> {
    return {
        shape,
        vocabSize: buildSyntheticVocab(shape.padVocabTo).tokens.length,
        parameters: layout.parameters,
        bytes: layout.totalBytes,
        tensors: layout.tensors.map((t) => ({
            name: t.name, shape: t.shape, type: ggmlTypeName(t.type), bytes: t.bytes
        }))
    };
}

/** Shapes, parameter count and exact file size of a preset, without generating any weights. */
export function describeSyntheticModel(preset: ModelPreset): SyntheticModelDescription {
    const shape = presetShape(preset);
    return { preset, ...describeLayout(shape, buildWriter(shape, DEFAULT_SYNTHETIC_SEED).layout()) };
}

export interface WriteSyntheticModelResult {
    /** Absolute path of the written file (of a split model, its first shard). */
    path: string;
    /** Every file written: `path` alone, or each shard in order. */
    paths: string[];
    /** Bytes of all the files. */
    bytes: number;
    parameters: number;
}

/**
 * Writes a preset model to `out` (atomically: `out + ".tmp-<pid>"`, then rename; parent directories are
 * created). Same preset + seed => byte-identical file.
 */
export async function writeSyntheticModel(options: {
    preset: ModelPreset;
    out: string;
    seed?: number;
    /** Write the model as this many shards (llama.cpp's split format, see ggufSplit.ts) named `<out>-00001-of-0000N.gguf`... */
    split?: number;
    onProgress?: (bytesWritten: number, totalBytes: number) => void;
}): Promise<WriteSyntheticModelResult> {
    return writeSyntheticModelWithShape({ ...options, shape: presetShape(options.preset) });
}

/** Like {@link writeSyntheticModel}, with a custom shape (for experiments). */
export async function writeSyntheticModelWithShape(options: {
    shape: Readonly<SyntheticModelShape>;
    out: string;
    seed?: number;
    split?: number;
    onProgress?: (bytesWritten: number, totalBytes: number) => void;
}): Promise<WriteSyntheticModelResult> {
    const seed = checkSeed(options.seed ?? DEFAULT_SYNTHETIC_SEED);
    const whole = buildWriter(options.shape, seed);
    const outPath = path.resolve(options.out);
    const writers = options.split == null ? [whole] : splitWriter(whole, options.split);
    const paths = options.split == null ? [outPath] : writers.map((_, index) => shardPath(outPath, index, writers.length));
    const total = writers.reduce((sum, writer) => sum + writer.layout().totalBytes, 0);
    await mkdir(path.dirname(outPath), { recursive: true });
    let bytes = 0;
    for (const [index, writer] of writers.entries()) {
        const before = bytes;
        bytes += await writeAtomically(writer, paths[index], options.onProgress == null ? undefined
            : (written) => options.onProgress!(before + written, total));
    }
    return { path: paths[0], paths, bytes, parameters: whole.layout().parameters };
}

/** Writes to `out + ".tmp-<pid>"`, then renames, so a file at `out` is always whole; returns its size. */
async function writeAtomically(writer: GgufWriter, out: string, onProgress?: (bytesWritten: number) => void): Promise<number> {
    const tmpPath = `${out}.tmp-${process.pid}`;
    try {
        const layout = await writer.write(tmpPath, { onProgress });
        const { size } = await stat(tmpPath);
        if (size !== layout.totalBytes)
            throw new Error(`internal error: wrote ${size} bytes, expected ${layout.totalBytes}`);
        await rename(tmpPath, out);
        return size;
    } catch (err) {
        await rm(tmpPath, { force: true }).catch(() => undefined);
        throw err;
    }
}
