import { GgufWriter } from "./ggufWriter.js";

/**
 * A model as `count` shards in llama.cpp's split format, as `llama-gguf-split --split` writes it
 * (tools/gguf-split, read back by llama-model-loader.cpp): the tensors in file order, dealt out as
 * evenly as possible; the first shard carries all the metadata; every shard carries `split.no`
 * (u16, from 0), `split.count` (u16) and `split.tensors.count` (i32, the tensors of all shards).
 * Each shard is a complete GGUF file whose tensor offsets start at its own data section, so the
 * shards' data sections put end to end are the unsplit file's data section.
 */
export function splitWriter(whole: GgufWriter, count: number): GgufWriter[] {
    const tensors = whole.tensorDefinitions();
    if (!Number.isInteger(count) || count < 2 || count > Math.min(tensors.length, 65535))
        throw new RangeError(`a split needs 2 to ${Math.min(tensors.length, 65535)} shards (one tensor each at least), got ${count}`);
    return Array.from({ length: count }, (_, index) => {
        const shard = new GgufWriter({ alignment: whole.alignment });
        if (index === 0)
            for (const [key, value] of whole.metadataEntries()) shard.set(key, value);
        shard.set("split.no", { type: "uint16", value: index });
        shard.set("split.count", { type: "uint16", value: count });
        shard.set("split.tensors.count", { type: "int32", value: tensors.length });
        const first = Math.floor(index * tensors.length / count);
        const end = Math.floor((index + 1) * tensors.length / count);
        for (const tensor of tensors.slice(first, end)) shard.addTensor(tensor);
        return shard;
    });
}

/** llama.cpp's shard name (`llama_split_path`): `<out without .gguf>-00002-of-00003.gguf`. */
export function shardPath(out: string, index: number, count: number): string {
    const prefix = out.replace(/\.gguf$/i, "");
    return `${prefix}-${String(index + 1).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.gguf`;
}
