import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
    ChatMLChatWrapper, LlamaLogLevel, QwenChatWrapper, getLlama, readGgufFileInfo, resolveChatWrapper,
    type Llama, type LlamaModel, type Token
} from "node-llama-cpp";
import {GgufWriter} from "../../src/testmodel/ggufWriter.js";
import {GgmlType, dequantizeQ8_0, float16BitsToFloat32, float32ToFloat16Bits, quantizeQ8_0} from "../../src/testmodel/ggmlEncoding.js";
import {MODEL_PRESETS, PRESET_SHAPES, describeSyntheticModel, writeSyntheticModel} from "../../src/testmodel/syntheticModel.js";
import {QWEN25_CHAT_TEMPLATE, SPECIAL_TOKENS, buildSyntheticVocab, gpt2ByteToUnicode} from "../../src/testmodel/syntheticVocab.js";

let dir: string;
let tinyPath: string;

before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "synthetic-model-test-"));
    tinyPath = path.join(dir, "nested", "tiny.gguf");
});

after(async () => {
    await rm(dir, { recursive: true, force: true });
});

const sha256 = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");

function isPrintableAscii(text: string): boolean {
    return /^[\x20-\x7e]*$/.test(text);
}

test("fp16 conversion and Q8_0 quantization round-trip", () => {
    for (const v of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 0.1, 1 / 127])
        assert.ok(Math.abs(float16BitsToFloat32(float32ToFloat16Bits(v)) - v) <= Math.abs(v) / 1024, `fp16 ${v}`);
    assert.equal(float32ToFloat16Bits(1), 0x3c00);
    assert.equal(float32ToFloat16Bits(-2), 0xc000);
    assert.equal(float32ToFloat16Bits(1e6), 0x7c00); // overflow -> inf

    const n = 32 * 8;
    const src = new Float32Array(n);
    for (let i = 0; i < n; i++) src[i] = Math.sin(i * 1.7) * (1 + (i >> 5));
    src.fill(0, 64, 96); // an all-zero block
    const q = new Uint8Array((n / 32) * 34);
    assert.equal(quantizeQ8_0(src, n, q), q.length);
    const back = new Float32Array(n);
    dequantizeQ8_0(q, n / 32, back);
    for (let b = 0; b < n / 32; b++) {
        let amax = 0;
        for (let k = 0; k < 32; k++) amax = Math.max(amax, Math.abs(src[b * 32 + k]));
        for (let k = 0; k < 32; k++)
            assert.ok(Math.abs(back[b * 32 + k] - src[b * 32 + k]) <= (amax / 127) * 0.51 + amax * 1e-3, `block ${b}`);
    }
    assert.deepEqual([...back.subarray(64, 96)], new Array(32).fill(0));
});

test("GgufWriter rejects invalid tensors and computes an aligned layout", () => {
    const w = new GgufWriter();
    assert.throws(() => w.addTensor({ name: "x", shape: [33, 2], type: GgmlType.Q8_0, produce: () => {} }), /multiple of 32/);
    assert.throws(() => w.addTensor({ name: "y".repeat(64), shape: [4], type: GgmlType.F32, produce: () => {} }), /longer/);
    w.addTensor({ name: "a", shape: [3], type: GgmlType.F32, produce: () => {} });
    assert.throws(() => w.addTensor({ name: "a", shape: [3], type: GgmlType.F32, produce: () => {} }), /duplicate/);
    w.addTensor({ name: "b", shape: [32, 3], type: GgmlType.Q8_0, produce: () => {} });
    const layout = w.layout();
    assert.equal(layout.dataOffset % 32, 0);
    assert.deepEqual(layout.tensors.map((t) => [t.offset, t.bytes]), [[0, 12], [32, 102]]);
    assert.equal(layout.totalBytes, layout.dataOffset + 32 + 128);
});

test("byte-level vocabulary", () => {
    const table = gpt2ByteToUnicode();
    assert.equal(new Set(table).size, 256);
    assert.equal(table[0x20], "\u0120"); // "Ġ"
    assert.equal(table[0x41], "A");
    const vocab = buildSyntheticVocab();
    assert.deepEqual(vocab.tokens.slice(0, 256), table);
    assert.deepEqual(vocab.tokens.slice(-3), [...SPECIAL_TOKENS]);
    assert.equal(new Set(vocab.tokens).size, vocab.tokens.length);
    assert.equal(vocab.tokens[vocab.imEndId], "<|im_end|>");
    for (const merge of vocab.merges) {
        const [a, b] = merge.split(" ");
        assert.ok(vocab.tokens.includes(a + b), merge);
    }
    assert.equal(vocab.printable.filter(Boolean).length, 95 + vocab.merges.length);
    const padded = buildSyntheticVocab(1000);
    assert.equal(padded.tokens.length, 1000);
    assert.equal(padded.imEndId, vocab.imEndId);
});

test("tiny preset is byte-identical for the same seed, written atomically", async () => {
    const first = await writeSyntheticModel({ preset: "tiny", out: tinyPath });
    assert.equal(first.path, tinyPath);
    assert.equal(first.bytes, (await stat(tinyPath)).size);
    assert.ok(first.bytes < 1024 * 1024, `tiny is ${first.bytes} bytes`);
    assert.equal(first.bytes, describeSyntheticModel("tiny").bytes);
    assert.equal(first.parameters, describeSyntheticModel("tiny").parameters);
    const hash = await sha256(tinyPath);

    const secondPath = path.join(dir, "tiny-again.gguf");
    await writeSyntheticModel({ preset: "tiny", out: secondPath, seed: 1 });
    assert.equal(await sha256(secondPath), hash);

    const otherSeed = path.join(dir, "tiny-seed2.gguf");
    await writeSyntheticModel({ preset: "tiny", out: otherSeed, seed: 2 });
    assert.notEqual(await sha256(otherSeed), hash);

    await assert.rejects(writeSyntheticModel({ preset: "tiny", out: otherSeed, seed: -1 }), /seed/);
    await assert.rejects(writeSyntheticModel({ preset: "huge" as never, out: otherSeed }), /unknown preset/);
});

test("tiny GGUF metadata reads back with node-llama-cpp", async () => {
    const info = await readGgufFileInfo(tinyPath, { logWarnings: false });
    const meta = info.metadata;
    const vocab = buildSyntheticVocab();
    assert.equal(info.version, 3);
    assert.equal(meta.general.architecture, "qwen2");
    assert.equal(meta.general.name, "chat-worker-synthetic-tiny");
    assert.equal(meta.general.file_type, 0);
    assert.equal(info.architectureMetadata.context_length, 32768);
    assert.equal(info.architectureMetadata.embedding_length, PRESET_SHAPES.tiny.embeddingLength);
    assert.equal(info.architectureMetadata.block_count, PRESET_SHAPES.tiny.blockCount);
    assert.equal(info.architectureMetadata.attention?.head_count_kv, PRESET_SHAPES.tiny.headCountKv);
    assert.equal(info.architectureMetadata.rope?.freq_base, 1000000);
    assert.equal(meta.tokenizer.ggml.model, "gpt2");
    assert.equal(meta.tokenizer.ggml.pre, "qwen2");
    assert.equal(meta.tokenizer.ggml.tokens.length, vocab.tokens.length);
    assert.equal(meta.tokenizer.ggml.eos_token_id, vocab.imEndId);
    assert.equal(meta.tokenizer.ggml.bos_token_id, vocab.endOfTextId);
    assert.equal(meta.tokenizer.ggml.add_bos_token, false);
    assert.equal(meta.tokenizer.chat_template, QWEN25_CHAT_TEMPLATE);
    assert.match(meta.tokenizer.chat_template ?? "", /You are Qwen, created by Alibaba Cloud\. You are a helpful assistant\./);

    // output head: exactly the printable-ASCII tokens have non-zero rows
    const tensors = info.tensorInfo ?? [];
    assert.equal(tensors.length, 3 + 12 * PRESET_SHAPES.tiny.blockCount);
    const output = tensors.find((t) => t.name === "output.weight");
    assert.ok(output != null);
    assert.equal(output.ggmlType, GgmlType.F32);
    const [nEmbd, nVocab] = output.dimensions.map(Number);
    assert.equal(nVocab, vocab.tokens.length);
    const fh = await open(tinyPath, "r");
    try {
        const buf = Buffer.alloc(nEmbd * nVocab * 4);
        await fh.read(buf, 0, buf.length, Number(output.fileOffset));
        const rows = new Float32Array(buf.buffer, buf.byteOffset, nEmbd * nVocab);
        for (let t = 0; t < nVocab; t++) {
            const row = rows.subarray(t * nEmbd, (t + 1) * nEmbd);
            const nonZero = row.some((v) => v !== 0);
            assert.equal(nonZero, vocab.printable[t], `row ${t} (${JSON.stringify(vocab.tokens[t])})`);
            if (nonZero) assert.ok(row[0] > 0);
        }
    } finally {
        await fh.close();
    }
});

test("tiny model loads, tokenizes and generates printable ASCII with node-llama-cpp", async (t) => {
    let llama: Llama | undefined;
    let model: LlamaModel | undefined;
    try {
        llama = await getLlama({ gpu: false, maxThreads: 2, logLevel: LlamaLogLevel.error });
        model = await llama.loadModel({ modelPath: tinyPath });
        const vocab = buildSyntheticVocab();

        const wrapper = resolveChatWrapper(model);
        t.diagnostic(`resolved chat wrapper: ${wrapper?.constructor.name} (${wrapper?.wrapperName})`);
        assert.ok(wrapper instanceof QwenChatWrapper || wrapper instanceof ChatMLChatWrapper,
            `unexpected chat wrapper ${wrapper?.constructor.name}`);

        assert.equal(model.tokens.eos, vocab.imEndId);
        assert.deepEqual(model.tokenize("<|im_start|>", true), [vocab.imStartId]);
        const plain = model.tokenize("<|im_start|>", false);
        assert.ok(plain.length > 1);
        for (const special of [vocab.endOfTextId, vocab.imStartId, vocab.imEndId])
            assert.ok(!(plain as readonly number[]).includes(special), "special token produced from plain text");
        assert.equal(model.detokenize(plain), "<|im_start|>");
        // byte-level BPE round-trips arbitrary text, including non-ASCII
        const text = "Hello, the world! é中文 \u0001\n";
        assert.equal(model.detokenize(model.tokenize(text, false)), text);

        const context = await model.createContext({ contextSize: 512 });
        try {
            const sequence = context.getSequence();
            const prompt = model.tokenize("<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n", true);
            const generated: Token[] = [];
            for await (const token of sequence.evaluate(prompt, { temperature: 0.8, seed: 42 })) {
                generated.push(token);
                if (generated.length >= 64) break;
            }
            assert.equal(generated.length, 64);
            for (const token of generated)
                assert.ok(vocab.printable[token], `generated non-printable token ${token}`);
            const out = model.detokenize(generated);
            t.diagnostic(`generated: ${JSON.stringify(out)}`);
            assert.ok(isPrintableAscii(out), JSON.stringify(out));
            assert.ok(out.length >= 64);
        } finally {
            await context.dispose();
        }
    } finally {
        await model?.dispose();
        await llama?.dispose();
    }
});

test("preset sizes", async () => {
    assert.deepEqual([...MODEL_PRESETS], ["tiny", "bench", "0.5b", "7b"]);
    const bench = describeSyntheticModel("bench");
    assert.ok(bench.parameters >= 20e6 && bench.parameters <= 30e6, `bench has ${bench.parameters} parameters`);
    for (const tensor of bench.tensors)
        assert.equal(tensor.type, tensor.shape.length === 2 ? "Q8_0" : "F32", tensor.name);

    // Qwen2.5-0.5B's shapes (described only: writing 670 MB is the bench's job, not a test's)
    const small = describeSyntheticModel("0.5b");
    assert.equal(small.vocabSize, 151936);
    assert.ok(small.bytes > 660e6 && small.bytes < 680e6, `0.5b is ${small.bytes} bytes`);
    assert.deepEqual(small.tensors.find((t) => t.name === "blk.23.ffn_down.weight")?.shape, [4864, 896]);
    assert.deepEqual(small.tensors.find((t) => t.name === "blk.0.attn_k.weight")?.shape, [896, 128]);
    assert.equal(small.tensors.find((t) => t.name === "blk.24.attn_q.weight"), undefined);

    const big = describeSyntheticModel("7b");
    assert.equal(big.vocabSize, 152064);
    assert.ok(big.parameters > 7.5e9 && big.parameters < 7.7e9, `7b has ${big.parameters} parameters`);
    const ffnDown = big.tensors.find((t) => t.name === "blk.27.ffn_down.weight");
    assert.deepEqual(ffnDown?.shape, [18944, 3584]);
    assert.deepEqual(big.tensors.find((t) => t.name === "blk.0.attn_k.weight")?.shape, [3584, 512]);

    // the bench file is small enough to write here; its size must match the description
    const benchPath = path.join(dir, "bench.gguf");
    const written = await writeSyntheticModel({ preset: "bench", out: benchPath });
    assert.equal(written.bytes, bench.bytes);
    assert.equal(written.parameters, bench.parameters);
    const info = await readGgufFileInfo(benchPath, { logWarnings: false });
    assert.equal(info.metadata.general.file_type, 7);
});
