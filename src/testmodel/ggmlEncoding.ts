/**
 * Number formats of the GGUF writer: IEEE half precision and ggml's Q8_0 blocks (32 int8 values
 * and one f16 scale), and the conversion of float32 chunks into a tensor type's bytes.
 */
/** ggml tensor type ids supported by this writer. */
export const GgmlType = {
    F32: 0,
    F16: 1,
    Q8_0: 8
} as const;
export type GgmlTypeId = (typeof GgmlType)[keyof typeof GgmlType];

export const QK8_0 = 32;
/** fp16 scale + 32 int8 */
export const Q8_0_BLOCK_BYTES = 2 + QK8_0;

// ---------------------------------------------------------------------------------------------
// float32 -> float16 (IEEE 754 binary16, round to nearest even)

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function float32ToFloat16Bits(value: number): number {
    f32Scratch[0] = value;
    const x = u32Scratch[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;

    if (exp === 0xff) // Inf / NaN
        return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);

    const e = exp - 127 + 15;
    if (e >= 0x1f)
        return sign | 0x7c00; // overflow -> Inf

    if (e <= 0) { // subnormal half (or zero)
        if (e < -10)
            return sign;
        mant |= 0x800000;
        const shift = 14 - e;
        let half = mant >>> shift;
        const rem = mant & ((1 << shift) - 1);
        const mid = 1 << (shift - 1);
        if (rem > mid || (rem === mid && (half & 1) !== 0))
            half++;
        return sign | half;
    }

    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0))
        half++; // may carry into the exponent, which is still correct (up to Inf)
    return sign | half;
}

export function float16BitsToFloat32(bits: number): number {
    const sign = (bits & 0x8000) !== 0 ? -1 : 1;
    const exp = (bits >>> 10) & 0x1f;
    const mant = bits & 0x3ff;
    if (exp === 0) return sign * mant * 2 ** -24;
    if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
    return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------
// Tensor data encoders

/**
 * Q8_0 quantization (as ggml's quantize_row_q8_0_ref): for each block of 32 values,
 * d = max|x| / 127, stored as fp16, followed by q[i] = round(x[i] / d) as int8. 34 bytes per block.
 * `count` must be a multiple of 32. Returns the number of bytes written.
 */
export function quantizeQ8_0(src: Float32Array, count: number, dst: Uint8Array, dstOffset = 0): number {
    if (count % QK8_0 !== 0)
        throw new RangeError(`Q8_0 quantization needs a multiple of ${QK8_0} values, got ${count}`);
    const dstI8 = new Int8Array(dst.buffer, dst.byteOffset, dst.byteLength);
    let o = dstOffset;
    for (let base = 0; base < count; base += QK8_0) {
        let amax = 0;
        // branch-free (random weights would defeat the branch predictor)
        for (let k = 0; k < QK8_0; k++)
            amax = Math.max(amax, Math.abs(src[base + k]));
        const d = amax / 127;
        const id = d !== 0 ? 1 / d : 0;
        const h = float32ToFloat16Bits(d);
        dst[o] = h & 0xff;
        dst[o + 1] = h >>> 8;
        o += 2;
        // Round to nearest, branch-free: |x * id| <= 127, so x * id + 128.5 > 0 and `| 0` floors it.
        // (Exact negative halves round up here, whereas ggml's roundf rounds them away from zero:
        // a measure-zero difference that keeps this loop ~2x faster on random data.)
        for (let k = 0; k < QK8_0; k++)
            dstI8[o + k] = ((src[base + k] * id + 128.5) | 0) - 128;
        o += QK8_0;
    }
    return o - dstOffset;
}

/** Inverse of {@link quantizeQ8_0} (for tests / inspection). */
export function dequantizeQ8_0(src: Uint8Array, blocks: number, out: Float32Array, srcOffset = 0): void {
    const srcI8 = new Int8Array(src.buffer, src.byteOffset, src.byteLength);
    for (let b = 0; b < blocks; b++) {
        const o = srcOffset + b * Q8_0_BLOCK_BYTES;
        const d = float16BitsToFloat32(src[o] | (src[o + 1] << 8));
        for (let k = 0; k < QK8_0; k++)
            out[b * QK8_0 + k] = d * srcI8[o + 2 + k];
    }
}

export function encodeChunk(type: GgmlTypeId, src: Float32Array, count: number, dst: Uint8Array): number {
    switch (type) {
        case GgmlType.F32: {
            const bytes = count * 4;
            dst.set(new Uint8Array(src.buffer, src.byteOffset, bytes), 0);
            return bytes;
        }
        case GgmlType.F16: {
            for (let i = 0; i < count; i++) {
                const h = float32ToFloat16Bits(src[i]);
                dst[2 * i] = h & 0xff;
                dst[2 * i + 1] = h >>> 8;
            }
            return count * 2;
        }
        case GgmlType.Q8_0:
            return quantizeQ8_0(src, count, dst, 0);
    }
}

export function ggmlTypeName(type: GgmlTypeId): string {
    switch (type) {
        case GgmlType.F32: return "F32";
        case GgmlType.F16: return "F16";
        case GgmlType.Q8_0: return "Q8_0";
    }
}

/** Bytes taken by one row of `rowLength` elements. */
export function ggmlRowBytes(type: GgmlTypeId, rowLength: number): number {
    switch (type) {
        case GgmlType.F32: return rowLength * 4;
        case GgmlType.F16: return rowLength * 2;
        case GgmlType.Q8_0:
            if (rowLength % QK8_0 !== 0)
                throw new RangeError(`Q8_0 row length must be a multiple of ${QK8_0}, got ${rowLength}`);
            return (rowLength / QK8_0) * Q8_0_BLOCK_BYTES;
        default:
            throw new RangeError(`Unsupported ggml type ${String(type)}`);
    }
}

export function tensorElementCount(shape: readonly number[]): number {
    let n = 1;
    for (const d of shape) n *= d;
    return n;
}

export function tensorByteSize(type: GgmlTypeId, shape: readonly number[]): number {
    return ggmlRowBytes(type, shape[0]) * (tensorElementCount(shape) / shape[0]);
}
