/** A measured figure across reps: every sample, and the spread reported next to the median. */
export interface Summary {
    samples: number[];
    min: number;
    median: number;
    max: number;
}

export function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarize(samples: readonly number[]): Summary {
    if (samples.length === 0) throw new Error("no samples to summarize");
    return {samples: [...samples], min: Math.min(...samples), median: median(samples), max: Math.max(...samples)};
}
