/** OpenAI's `encoding_format: "base64"`: the vector's float32 values, little-endian, in base64 (the client decodes it with a Float32Array). */
export function base64Vector(vector: readonly number[]): string {
    const bytes = Buffer.alloc(vector.length * 4);
    vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
    return bytes.toString("base64");
}

/** The float32 values of a base64 vector, as a client reads them (tests check the round trip). */
export function fromBase64Vector(text: string): number[] {
    const bytes = Buffer.from(text, "base64");
    return Array.from({length: bytes.length / 4}, (_, index) => bytes.readFloatLE(index * 4));
}
