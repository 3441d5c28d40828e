/** Seconds as every API reports them: to the millisecond. */
export function round(seconds: number): number {
    return Math.round(seconds * 1000) / 1000;
}
