/**
 * GBNF for the decimal integers in a range, written digit by digit (the approach of llama.cpp's
 * json-schema-to-grammar): numbers of each length get their own alternatives, and within a
 * length the first digit where the bounds differ splits the range into a low edge, a free middle
 * and a high edge. Integers are written without leading zeros; `-0` is never written.
 */

/** Digits 0..9 from `from` to `to` as a class (or a single literal). */
function digits(from: number, to: number): string {
    return from === to ? `"${from}"` : `[${from}-${to}]`;
}

/** `n` free digits. */
function free(n: number): string {
    return n === 0 ? "" : n === 1 ? "[0-9]" : `[0-9]{${n}}`;
}

/** Alternatives for the digit strings of one length from `lo` to `hi` (same length, lo <= hi). */
function sameLength(lo: string, hi: string): string[] {
    if (lo.length === 0) return [""];
    if (lo === hi) return [`"${lo}"`];
    let common = 0;
    while (lo[common] === hi[common]) common++;
    const prefix = common > 0 ? `"${lo.slice(0, common)}" ` : "";
    const low = Number(lo[common]);
    const high = Number(hi[common]);
    const restLo = lo.slice(common + 1);
    const restHi = hi.slice(common + 1);
    const n = restLo.length;
    const join = (head: string, tails: string[]): string =>
        tails.length === 1 ? `${head} ${tails[0]}`.trim() : `${head} (${tails.join(" | ")})`;
    const out: string[] = [];
    // The whole span from lo to hi when the rests are 0...0 and 9...9.
    const loOpen = /^0*$/.test(restLo);
    const hiOpen = /^9*$/.test(restHi);
    const first = loOpen ? low : low + 1;
    const last = hiOpen ? high : high - 1;
    if (!loOpen) out.push(join(`"${low}"`, sameLength(restLo, "9".repeat(n))));
    if (first <= last) out.push(`${digits(first, last)} ${free(n)}`.trim());
    if (!hiOpen) out.push(join(`"${high}"`, sameLength("0".repeat(n), restHi)));
    return prefix === "" ? out : [`${prefix}(${out.join(" | ")})`];
}

/** Alternatives for the non-negative integers from `lo` to `hi`. */
function nonNegative(lo: bigint, hi: bigint): string[] {
    const out: string[] = [];
    const loText = lo.toString();
    const hiText = hi.toString();
    for (let length = loText.length; length <= hiText.length; length++) {
        const from = length === loText.length ? loText : (10n ** BigInt(length - 1)).toString();
        const to = length === hiText.length ? hiText : "9".repeat(length);
        out.push(...sameLength(from, to));
    }
    return out;
}

/** A GBNF expression (parenthesized) for the integers from `lo` to `hi`, inclusive; lo <= hi. */
export function integerRange(lo: bigint, hi: bigint): string {
    const out: string[] = [];
    if (hi >= 0n) out.push(...nonNegative(lo > 0n ? lo : 0n, hi));
    if (lo < 0n) {
        const negative = nonNegative(hi < 0n ? -hi : 1n, -lo);
        out.push(`"-" (${negative.join(" | ")})`);
    }
    return `(${out.join(" | ")})`;
}
