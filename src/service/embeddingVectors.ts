/**
 * Vector arithmetic of embeddings, shared by every API: the model's pooled output scaled to unit
 * length (as OpenAI's vectors are, and as llama-server and Ollama return them), optionally first
 * cut to `dimensions` (Matryoshka models only; cutting a unit vector and scaling it again is how
 * those models are meant to be shortened).
 */

/** The first `dimensions` components (all when null) of `vector`, scaled to unit length; a zero vector stays zero. */
export function unitVector(vector: Float32Array, dimensions: number | null = null): number[] {
    const kept = dimensions != null && dimensions < vector.length ? vector.subarray(0, dimensions) : vector;
    let sum = 0;
    for (const value of kept) sum += value * value;
    const norm = Math.sqrt(sum);
    return Array.from(kept, (value) => norm > 0 ? value / norm : 0);
}
