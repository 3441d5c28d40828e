import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {loadedCpuKernels, systemFingerprint} from "../../src/engine/llama/fingerprint.js";

test("the CPU kernels are read from the process's mapped libraries; none where there is no maps file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fp-"));
    const maps = path.join(dir, "maps");
    fs.writeFileSync(maps, [
        "7f00-7f01 r-xp 00000000 08:01 1 /x/bins/linux-x64/libggml-cpu-zen4.so",
        "7f01-7f02 r--p 00001000 08:01 1 /x/bins/linux-x64/libggml-cpu-zen4.so",
        "7f02-7f03 r-xp 00000000 08:01 2 /x/bins/linux-x64/libggml-base.so"
    ].join("\n"));
    assert.deepEqual(loadedCpuKernels(maps), ["zen4"]);
    assert.deepEqual(loadedCpuKernels(path.join(dir, "missing")), []);
});

test("system_fingerprint: fp_ and 12 hex digits, the same for the same files and scope, another when either differs", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fp-"));
    const [a, b] = [path.join(dir, "a.gguf"), path.join(dir, "b.gguf")];
    fs.writeFileSync(a, "weights a");
    fs.writeFileSync(b, "weights b");
    const scope = {nodeLlamaCpp: "3.21.1", llamaCpp: "b1", deterministic: true, gpu: false, contextSize: 1024};
    const first = await systemFingerprint([a], scope, dir);
    assert.match(first, /^fp_[0-9a-f]{12}$/);
    assert.equal(await systemFingerprint([a], {...scope}, dir), first);
    assert.notEqual(await systemFingerprint([b], scope, dir), first, "other weights");
    assert.notEqual(await systemFingerprint([a], {...scope, deterministic: false}, dir), first, "another determinism scope");
    assert.notEqual(await systemFingerprint([a], {...scope, llamaCpp: "b2"}, dir), first, "another engine build");
});
