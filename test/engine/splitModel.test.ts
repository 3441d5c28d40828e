import {test, after, before} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {getLlama, LlamaLogLevel, readGgufFileInfo, type Llama} from "node-llama-cpp";
import {writeSyntheticModel} from "../../src/testmodel/syntheticModel.js";
import {parseMakeModelArgs, type MakeModelArgs} from "../../src/cli/makeModel.js";
import {readModelFacts} from "../../src/engine/llama/modelFile.js";
import {LoadFailure} from "../../src/errors.js";
import {resolveModelFiles} from "../../src/engine/llama/modelFiles.js";
import {checkMemory} from "../../src/engine/llama/memoryCheck.js";
import {modelFilesOf} from "../../src/config/modelSource.js";
import {testModelPath} from "../helpers/testWorker.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-split-"));
let llama: Llama;
let shards: string[];
let whole: string;

before(async () => {
    whole = await testModelPath("tiny");
    shards = (await writeSyntheticModel({preset: "tiny", out: path.join(dir, "tiny.gguf"), split: 3})).paths;
    llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
});
after(async () => {
    await llama?.dispose();
    fs.rmSync(dir, {recursive: true, force: true});
});

/** The tensor data section of one GGUF file: everything after its header's padding. */
async function dataSection(file: string): Promise<Buffer> {
    const info = await readGgufFileInfo(file, {spliceSplitFiles: false, logWarnings: false});
    return fs.readFileSync(file).subarray(info.infoEndOffset);
}

test("make-model --split 3 writes llama.cpp's split format: shard names, split.* keys, the unsplit model's tensor data", async () => {
    assert.deepEqual(shards.map((file) => path.basename(file)),
        ["tiny-00001-of-00003.gguf", "tiny-00002-of-00003.gguf", "tiny-00003-of-00003.gguf"]);
    assert.deepEqual(modelFilesOf(shards[0]), shards);
    const unsplit = await readGgufFileInfo(whole, {logWarnings: false});
    let tensors = 0;
    for (const [index, shard] of shards.entries()) {
        const info = await readGgufFileInfo(shard, {spliceSplitFiles: false, logWarnings: false});
        // The keys and values llama-model-loader.cpp checks (LLM_KV_SPLIT_*), as llama-gguf-split writes them.
        const split = (info.metadata as unknown as {split: {no: number; count: number; tensors: {count: number}}}).split;
        assert.equal(split.no, index);
        assert.equal(split.count, 3);
        assert.equal(split.tensors.count, Number(unsplit.totalTensorCount));
        // Only the first shard carries the model's metadata.
        assert.equal(info.metadata.general?.architecture, index === 0 ? "qwen2" : undefined);
        assert.ok(Number(info.tensorCount) >= 9);
        tensors += Number(info.tensorCount);
    }
    assert.equal(tensors, Number(unsplit.totalTensorCount));
    const joined = Buffer.concat(await Promise.all(shards.map(dataSection)));
    assert.ok(joined.equals(await dataSection(whole)), "the shards' data sections end to end are the unsplit file's");
    // Same seed, same split: the same bytes.
    const again = await writeSyntheticModel({preset: "tiny", out: path.join(dir, "again", "tiny.gguf"), split: 3});
    for (const [index, shard] of again.paths.entries())
        assert.ok(fs.readFileSync(shard).equals(fs.readFileSync(shards[index])));

    assert.equal((parseMakeModelArgs(["--preset", "tiny", "--out", "x.gguf", "--split", "3"]) as MakeModelArgs).split, 3);
    assert.equal((parseMakeModelArgs(["--preset", "tiny", "--out", "x.gguf"]) as MakeModelArgs).split, null);
    for (const bad of ["1", "0", "two", "70000"])
        assert.throws(() => parseMakeModelArgs(["--preset", "tiny", "--out", "x.gguf", "--split", bad]), /--split must be an integer in \[2, 65535\]/);
});

test("the model's facts and the memory check count every shard; a missing or truncated shard is named", async () => {
    const split = await readModelFacts(llama, shards);
    const single = await readModelFacts(llama, [whole]);
    assert.equal(split.parameterCount, single.parameterCount);
    assert.equal(split.fileSizeBytes, shards.reduce((sum, file) => sum + fs.statSync(file).size, 0));
    assert.ok(split.fileSizeBytes > single.fileSizeBytes, "three headers instead of one");
    assert.equal(split.insights.modelSize, single.insights.modelSize);
    const plan = {gpuLayers: null, contextSize: 1024, parallel: 4, batchSize: 512};
    const [splitNeed, singleNeed] = [await checkMemory(llama, split.insights, plan), await checkMemory(llama, single.insights, plan)];
    assert.equal(splitNeed.need.ramBytes, singleNeed.need.ramBytes);
    assert.ok(splitNeed.need.ramBytes > split.insights.modelSize);

    // A shard that is not there: found before llama.cpp would be asked.
    const partial = path.join(dir, "partial");
    fs.mkdirSync(partial);
    for (const shard of shards.slice(0, 2)) fs.copyFileSync(shard, path.join(partial, path.basename(shard)));
    await assert.rejects(resolveModelFiles({kind: "file", path: path.join(partial, "tiny-00001-of-00003.gguf"), builtin: false},
        {directory: partial, token: null, endpoint: "https://huggingface.co"}), (err: unknown) =>
        err instanceof LoadFailure && err.code === "model_file_not_found" && /shard 3 of 3 .*tiny-00003-of-00003\.gguf/.test(err.message));
    // A shard cut short (an interrupted copy): the truncation check looks at each shard.
    const second = fs.readFileSync(shards[1]);
    fs.copyFileSync(shards[2], path.join(partial, path.basename(shards[2])));
    fs.writeFileSync(path.join(partial, path.basename(shards[1])), second.subarray(0, second.length - 4096));
    await assert.rejects(readModelFacts(llama, modelFilesOf(path.join(partial, "tiny-00001-of-00003.gguf"))), (err: unknown) =>
        err instanceof LoadFailure && err.code === "model_invalid" && /truncated or corrupt/.test(err.message));
});
