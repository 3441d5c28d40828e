/**
 * A small, generic GGUF v3 writer.
 *
 * - Metadata key/values of every GGUF scalar type, plus (non-nested) arrays.
 * - Tensor infos with correct alignment (`general.alignment`, default 32).
 * - Tensor data is written in a streaming fashion: every tensor has a `produce` callback that fills
 *   float32 rows chunk by chunk; the writer converts each chunk (F32 / F16 / Q8_0) and writes it
 *   sequentially through a file handle, double-buffered so conversion overlaps with disk I/O.
 *   Memory use is bounded by the chunk size regardless of the model size.
 *
 * GGUF dims are listed innermost first: `shape[0]` (ne[0]) is the row length.
 * A weight matrix mapping `n_in` -> `n_out` therefore has `shape = [n_in, n_out]` and `n_out` rows.
 */
import { open } from "node:fs/promises";
import { GgmlType, QK8_0, encodeChunk, ggmlRowBytes, tensorByteSize, tensorElementCount, type GgmlTypeId } from "./ggmlEncoding.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_NAME is 64 including the terminating NUL. */
export const GGUF_MAX_TENSOR_NAME_LENGTH = 63;
export const GGML_MAX_DIMS = 4;

/** GGUF metadata value type ids (`enum gguf_type`). */
export const GgufValueType = {
    uint8: 0,
    int8: 1,
    uint16: 2,
    int16: 3,
    uint32: 4,
    int32: 5,
    float32: 6,
    bool: 7,
    string: 8,
    array: 9,
    uint64: 10,
    int64: 11,
    float64: 12
} as const;

export type GgufNumberType = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
export type GgufBigIntType = "uint64" | "int64";
export type GgufScalarType = GgufNumberType | GgufBigIntType | "bool" | "string";

export type GgufScalarValue =
    | { type: GgufNumberType; value: number }
    | { type: GgufBigIntType; value: bigint | number }
    | { type: "bool"; value: boolean }
    | { type: "string"; value: string };

export type GgufArrayValue =
    | { type: "array"; itemType: GgufNumberType; value: ArrayLike<number> }
    | { type: "array"; itemType: GgufBigIntType; value: readonly (bigint | number)[] }
    | { type: "array"; itemType: "bool"; value: readonly boolean[] }
    | { type: "array"; itemType: "string"; value: readonly string[] };

export type GgufValue = GgufScalarValue | GgufArrayValue;


/**
 * Fills `out` (length `rowCount * shape[0]`, row-major) with the float values of rows
 * `[firstRow, firstRow + rowCount)`; `out` is zero-filled before the call. Calls for one tensor are made in increasing row order, each
 * row exactly once, so a producer may keep sequential state (e.g. a PRNG).
 */
export type TensorRowProducer = (out: Float32Array, firstRow: number, rowCount: number) => void;

export interface GgufTensorDefinition {
    name: string;
    /** ne[0] (row length, innermost) first. 1 to 4 dims. */
    shape: readonly number[];
    type: GgmlTypeId;
    produce: TensorRowProducer;
}

export interface GgufTensorLayout {
    name: string;
    shape: readonly number[];
    type: GgmlTypeId;
    elements: number;
    /** Offset relative to the start of the data section. */
    offset: number;
    bytes: number;
}

export interface GgufLayout {
    alignment: number;
    /** Header size including the padding up to the data section. */
    dataOffset: number;
    totalBytes: number;
    /** Total number of tensor elements. */
    parameters: number;
    tensors: GgufTensorLayout[];
}

export interface GgufWriteOptions {
    /** Called after every chunk written, with the bytes written so far and the total. */
    onProgress?: (bytesWritten: number, totalBytes: number) => void;
}

const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

function alignUp(value: number, alignment: number): number {
    const rem = value % alignment;
    return rem === 0 ? value : value + (alignment - rem);
}

// ---------------------------------------------------------------------------------------------
// Header serialization

class ByteSink {
    private buf = Buffer.alloc(1 << 16);
    length = 0;

    private ensure(extra: number): void {
        if (this.length + extra <= this.buf.length) return;
        let size = this.buf.length * 2;
        while (size < this.length + extra) size *= 2;
        const next = Buffer.alloc(size);
        this.buf.copy(next, 0, 0, this.length);
        this.buf = next;
    }

    u8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
    i8(v: number): void { this.ensure(1); this.buf.writeInt8(v, this.length); this.length += 1; }
    u16(v: number): void { this.ensure(2); this.buf.writeUInt16LE(v, this.length); this.length += 2; }
    i16(v: number): void { this.ensure(2); this.buf.writeInt16LE(v, this.length); this.length += 2; }
    u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
    i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
    f32(v: number): void { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
    f64(v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.length); this.length += 8; }
    u64(v: bigint | number): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
    i64(v: bigint | number): void { this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.length); this.length += 8; }

    str(s: string): void {
        const bytes = Buffer.from(s, "utf8");
        this.u64(bytes.length);
        this.ensure(bytes.length);
        bytes.copy(this.buf, this.length);
        this.length += bytes.length;
    }

    padTo(alignment: number): void {
        const target = alignUp(this.length, alignment);
        this.ensure(target - this.length);
        this.buf.fill(0, this.length, target);
        this.length = target;
    }

    toBuffer(): Buffer { return this.buf.subarray(0, this.length); }
}

function assertIntRange(key: string, v: number, min: number, max: number): void {
    if (!Number.isInteger(v) || v < min || v > max)
        throw new RangeError(`GGUF metadata "${key}": ${v} is not an integer in [${min}, ${max}]`);
}

function writeScalar(sink: ByteSink, key: string, type: GgufScalarType, value: unknown): void {
    switch (type) {
        case "uint8": assertIntRange(key, value as number, 0, 0xff); sink.u8(value as number); break;
        case "int8": assertIntRange(key, value as number, -0x80, 0x7f); sink.i8(value as number); break;
        case "uint16": assertIntRange(key, value as number, 0, 0xffff); sink.u16(value as number); break;
        case "int16": assertIntRange(key, value as number, -0x8000, 0x7fff); sink.i16(value as number); break;
        case "uint32": assertIntRange(key, value as number, 0, 0xffffffff); sink.u32(value as number); break;
        case "int32": assertIntRange(key, value as number, -0x80000000, 0x7fffffff); sink.i32(value as number); break;
        case "float32": sink.f32(value as number); break;
        case "float64": sink.f64(value as number); break;
        case "uint64": sink.u64(value as bigint | number); break;
        case "int64": sink.i64(value as bigint | number); break;
        case "bool":
            if (typeof value !== "boolean") throw new TypeError(`GGUF metadata "${key}": expected a boolean`);
            sink.u8(value ? 1 : 0);
            break;
        case "string":
            if (typeof value !== "string") throw new TypeError(`GGUF metadata "${key}": expected a string`);
            sink.str(value);
            break;
        default:
            throw new TypeError(`GGUF metadata "${key}": unsupported type ${String(type)}`);
    }
}

function writeKeyValue(sink: ByteSink, key: string, v: GgufValue): void {
    sink.str(key);
    if (v.type === "array") {
        sink.u32(GgufValueType.array);
        sink.u32(GgufValueType[v.itemType]);
        const items = v.value as ArrayLike<unknown>;
        sink.u64(items.length);
        for (let i = 0; i < items.length; i++)
            writeScalar(sink, key, v.itemType, items[i]);
    } else {
        sink.u32(GgufValueType[v.type]);
        writeScalar(sink, key, v.type, v.value);
    }
}

// ---------------------------------------------------------------------------------------------

export class GgufWriter {
    readonly alignment: number;
    private readonly chunkElements: number;
    private readonly metadata = new Map<string, GgufValue>();
    private readonly tensors: GgufTensorDefinition[] = [];

    constructor(options: { alignment?: number; chunkElements?: number } = {}) {
        const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
        if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0)
            throw new RangeError(`alignment must be a power of 2, got ${alignment}`);
        this.alignment = alignment;
        this.chunkElements = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
        if (!Number.isInteger(this.chunkElements) || this.chunkElements < 1)
            throw new RangeError(`chunkElements must be a positive integer`);
    }

    /** Sets (or replaces) a metadata key. Keys keep their first insertion order. */
    set(key: string, value: GgufValue): this {
        if (key.length === 0) throw new RangeError("GGUF metadata key must not be empty");
        if (key === "general.alignment" && (value.type !== "uint32" || value.value !== this.alignment))
            throw new RangeError(`general.alignment must be a uint32 equal to the writer alignment (${this.alignment})`);
        this.metadata.set(key, value);
        return this;
    }

    setUint32(key: string, value: number): this { return this.set(key, { type: "uint32", value }); }
    setInt32(key: string, value: number): this { return this.set(key, { type: "int32", value }); }
    setUint64(key: string, value: bigint | number): this { return this.set(key, { type: "uint64", value }); }
    setFloat32(key: string, value: number): this { return this.set(key, { type: "float32", value }); }
    setBool(key: string, value: boolean): this { return this.set(key, { type: "bool", value }); }
    setString(key: string, value: string): this { return this.set(key, { type: "string", value }); }
    setStringArray(key: string, value: readonly string[]): this { return this.set(key, { type: "array", itemType: "string", value }); }
    setInt32Array(key: string, value: ArrayLike<number>): this { return this.set(key, { type: "array", itemType: "int32", value }); }
    setUint32Array(key: string, value: ArrayLike<number>): this { return this.set(key, { type: "array", itemType: "uint32", value }); }
    setFloat32Array(key: string, value: ArrayLike<number>): this { return this.set(key, { type: "array", itemType: "float32", value }); }

    addTensor(tensor: GgufTensorDefinition): this {
        const { name, shape, type } = tensor;
        if (Buffer.byteLength(name, "utf8") > GGUF_MAX_TENSOR_NAME_LENGTH)
            throw new RangeError(`tensor name "${name}" is longer than ${GGUF_MAX_TENSOR_NAME_LENGTH} bytes`);
        if (this.tensors.some((t) => t.name === name))
            throw new RangeError(`duplicate tensor name "${name}"`);
        if (shape.length < 1 || shape.length > GGML_MAX_DIMS)
            throw new RangeError(`tensor "${name}": 1 to ${GGML_MAX_DIMS} dims expected, got ${shape.length}`);
        for (const d of shape)
            if (!Number.isSafeInteger(d) || d < 1)
                throw new RangeError(`tensor "${name}": invalid dim ${d}`);
        if (!Number.isSafeInteger(tensorElementCount(shape)))
            throw new RangeError(`tensor "${name}": too many elements`);
        if (type === GgmlType.Q8_0 && shape[0] % QK8_0 !== 0)
            throw new RangeError(`tensor "${name}": Q8_0 row length ${shape[0]} is not a multiple of ${QK8_0}`);
        ggmlRowBytes(type, shape[0]); // validates the type
        this.tensors.push({ name, shape: [...shape], type, produce: tensor.produce });
        return this;
    }

    /** The tensors added so far, in file order (a split writer deals them out to shards). */
    tensorDefinitions(): readonly GgufTensorDefinition[] { return this.tensors; }

    /** The metadata as it will be written, in order. */
    metadataEntries(): [string, GgufValue][] {
        const entries = [...this.metadata.entries()];
        if (!this.metadata.has("general.alignment") && this.alignment !== GGUF_DEFAULT_ALIGNMENT)
            entries.push(["general.alignment", { type: "uint32", value: this.alignment }]);
        return entries;
    }

    private tensorLayouts(): GgufTensorLayout[] {
        let offset = 0;
        return this.tensors.map((t) => {
            const bytes = tensorByteSize(t.type, t.shape);
            const layout: GgufTensorLayout = {
                name: t.name, shape: t.shape, type: t.type, elements: tensorElementCount(t.shape), offset, bytes
            };
            offset = alignUp(offset + bytes, this.alignment);
            return layout;
        });
    }

    private buildHeader(layouts: GgufTensorLayout[]): Buffer {
        const sink = new ByteSink();
        const entries = this.metadataEntries();
        sink.u32(GGUF_MAGIC);
        sink.u32(GGUF_VERSION);
        sink.u64(layouts.length);
        sink.u64(entries.length);
        for (const [key, value] of entries)
            writeKeyValue(sink, key, value);
        for (const t of layouts) {
            sink.str(t.name);
            sink.u32(t.shape.length);
            for (const d of t.shape) sink.u64(d);
            sink.u32(t.type);
            sink.u64(t.offset);
        }
        sink.padTo(this.alignment);
        return sink.toBuffer();
    }

    /** Computes the file layout (sizes and offsets) without producing any tensor data. */
    layout(): GgufLayout {
        const tensors = this.tensorLayouts();
        const dataOffset = this.buildHeader(tensors).length;
        const last = tensors[tensors.length - 1];
        const dataBytes = last == null ? 0 : alignUp(last.offset + last.bytes, this.alignment);
        return {
            alignment: this.alignment,
            dataOffset,
            totalBytes: dataOffset + dataBytes,
            parameters: tensors.reduce((n, t) => n + t.elements, 0),
            tensors
        };
    }

    /** Writes the whole file to `path` (created / truncated). Tensor data is streamed chunk by chunk. */
    async write(path: string, options: GgufWriteOptions = {}): Promise<GgufLayout> {
        const tensors = this.tensorLayouts();
        const header = this.buildHeader(tensors);
        const last = tensors[tensors.length - 1];
        const totalBytes = header.length + (last == null ? 0 : alignUp(last.offset + last.bytes, this.alignment));

        // buffers: one float chunk, two encoded chunks (double buffering: encode one while the other is written)
        let maxChunkElements = 0;
        for (const t of this.tensors) {
            const rowsPerChunk = Math.max(1, Math.floor(this.chunkElements / t.shape[0]));
            maxChunkElements = Math.max(maxChunkElements, Math.min(rowsPerChunk, tensorElementCount(t.shape) / t.shape[0]) * t.shape[0]);
        }
        const floatChunk = new Float32Array(maxChunkElements);
        const outBuffers = [Buffer.alloc(maxChunkElements * 4 + this.alignment), Buffer.alloc(maxChunkElements * 4 + this.alignment)];
        const zeros = Buffer.alloc(this.alignment);

        const fh = await open(path, "w");
        let position = 0;
        let pending: Promise<unknown> | null = null;
        const writeAll = async (buf: Uint8Array, length: number, at: number): Promise<void> => {
            let done = 0;
            while (done < length) {
                const { bytesWritten } = await fh.write(buf, done, length - done, at + done);
                if (bytesWritten <= 0) throw new Error("short write");
                done += bytesWritten;
            }
        };
        const enqueue = async (buf: Uint8Array, length: number): Promise<void> => {
            if (pending != null) await pending;
            const at = position;
            position += length;
            pending = writeAll(buf, length, at).then(() => options.onProgress?.(at + length, totalBytes));
        };

        try {
            await enqueue(header, header.length);
            let which = 0;
            for (let ti = 0; ti < this.tensors.length; ti++) {
                const t = this.tensors[ti];
                const rowLength = t.shape[0];
                const rows = tensorElementCount(t.shape) / rowLength;
                const rowsPerChunk = Math.max(1, Math.floor(this.chunkElements / rowLength));
                let tensorBytes = 0;
                for (let firstRow = 0; firstRow < rows; firstRow += rowsPerChunk) {
                    const rowCount = Math.min(rowsPerChunk, rows - firstRow);
                    const count = rowCount * rowLength;
                    const view = count === floatChunk.length ? floatChunk : floatChunk.subarray(0, count);
                    view.fill(0);
                    t.produce(view, firstRow, rowCount);
                    // `out` was last handed to the writer two chunks ago, and `enqueue` awaited that write
                    // before starting the previous one, so encoding here overlaps with the pending write.
                    const out = outBuffers[which];
                    which ^= 1;
                    let n = encodeChunk(t.type, view, count, out);
                    tensorBytes += n;
                    if (firstRow + rowCount >= rows) {
                        const padded = alignUp(tensors[ti].offset + tensorBytes, this.alignment) - tensors[ti].offset - tensorBytes;
                        zeros.copy(out, n, 0, padded);
                        n += padded;
                    }
                    await enqueue(out, n);
                }
                if (tensorBytes !== tensors[ti].bytes)
                    throw new Error(`internal error: tensor "${t.name}" wrote ${tensorBytes} bytes, expected ${tensors[ti].bytes}`);
            }
            if (pending != null) await pending;
            if (position !== totalBytes)
                throw new Error(`internal error: wrote ${position} bytes, expected ${totalBytes}`);
        } finally {
            if (pending != null) await (pending as Promise<unknown>).catch(() => undefined);
            await fh.close();
        }

        return {
            alignment: this.alignment,
            dataOffset: header.length,
            totalBytes,
            parameters: tensors.reduce((n, t) => n + t.elements, 0),
            tensors
        };
    }
}
