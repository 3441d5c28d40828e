import {integerRange} from "./integerRange.js";

/**
 * GBNF for JSON numbers between bounds. Integers are exact (integerRange). For other numbers the
 * grammar bounds the integer part and never writes an exponent: a fraction is allowed where every
 * value it could make stays inside the bounds, at most FRACTION_DIGITS digits (so that, as a double,
 * a value just inside a bound never rounds onto it), and only for integer parts below
 * FRACTION_LIMIT. A bound that is not an integer is rounded inwards: the grammar then allows fewer
 * values than the schema (what it writes still validates), never more.
 */
const FRACTION_DIGITS = 6;
const FRACTION_LIMIT = 2n ** 31n;
/** Without a bound, integers have at most 16 digits (what a double holds exactly). */
export const INTEGER_LIMIT = 10n ** 16n - 1n;

/** Unbounded numbers: at most 16 integer digits, 16 fraction digits and a two-digit exponent (finite as a double). */
export const ANY_NUMBER = "\"-\"? (\"0\" | [1-9] [0-9]{0,15}) (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?";
export const ANY_INTEGER = "\"-\"? (\"0\" | [1-9] [0-9]{0,15})";

export interface Bounds {
    /** Inclusive lower bound as a rational number, or null. */
    min: number | null;
    minExclusive: boolean;
    max: number | null;
    maxExclusive: boolean;
}

/** The integers within `bounds`, or null when there are none. */
export function integerBounds(bounds: Bounds): [bigint, bigint] | null {
    let lo = -INTEGER_LIMIT;
    let hi = INTEGER_LIMIT;
    if (bounds.min != null) {
        const ceil = BigInt(Math.ceil(bounds.min));
        lo = bounds.minExclusive && Number.isInteger(bounds.min) ? ceil + 1n : ceil;
    }
    if (bounds.max != null) {
        const floor = BigInt(Math.floor(bounds.max));
        hi = bounds.maxExclusive && Number.isInteger(bounds.max) ? floor - 1n : floor;
    }
    if (bounds.min != null && bounds.max == null && hi < lo) hi = lo + INTEGER_LIMIT;
    if (bounds.max != null && bounds.min == null && lo > hi) lo = hi - INTEGER_LIMIT;
    return lo <= hi ? [lo, hi] : null;
}

const FRACTION = `"." [0-9]{1,${FRACTION_DIGITS}}`;
/** A fraction with a nonzero digit: the value is strictly above its integer part. */
const NONZERO_FRACTION = `"." [0-9]{0,${FRACTION_DIGITS - 1}} [1-9]`;

/**
 * Magnitudes w from a to b (a >= 0; b null: unbounded), open or closed at each end, written as an
 * integer part and an optional fraction. Returns alternatives (empty when none fit).
 */
function magnitudes(a: bigint, aOpen: boolean, b: bigint | null, bOpen: boolean): string[] {
    const out: string[] = [];
    const top = b ?? INTEGER_LIMIT;
    const fractionTop = (top < FRACTION_LIMIT ? top : FRACTION_LIMIT) - 1n;
    // w in [I, I + 1) for integer parts I from a (a + 1 when a is open) to b - 1: any fraction fits.
    const fullFrom = aOpen ? a + 1n : a;
    if (fullFrom <= fractionTop) out.push(`${integerRange(fullFrom, fractionTop)} (${FRACTION})?`);
    // Integer parts too large for a safe fraction: the integers alone.
    const wholeFrom = fullFrom > fractionTop + 1n ? fullFrom : fractionTop + 1n;
    const wholeTo = b != null && bOpen ? top - 1n : top;
    if (wholeFrom <= wholeTo) out.push(integerRange(wholeFrom, wholeTo));
    // Just above an open lower bound: the bound's integer part with a nonzero fraction.
    if (aOpen && a < FRACTION_LIMIT && (b == null || a + 1n <= b)) out.push(`${integerRange(a, a)} ${NONZERO_FRACTION}`);
    return out;
}

/** A GBNF expression for the numbers within `bounds` (null when the schema has no bound), or null when none fit. */
export function numberRange(bounds: Bounds): string | null {
    if (bounds.min == null && bounds.max == null) return `(${ANY_NUMBER})`;
    // Bounds rounded inwards to integers; exclusivity only matters for a bound that is an integer.
    const lo = bounds.min == null ? null : BigInt(Math.ceil(bounds.min));
    const loOpen = bounds.min != null && Number.isInteger(bounds.min) && bounds.minExclusive;
    const hi = bounds.max == null ? null : BigInt(Math.floor(bounds.max));
    const hiOpen = bounds.max != null && Number.isInteger(bounds.max) && bounds.maxExclusive;
    const out: string[] = [];
    // Values >= 0.
    if (hi == null || hi >= 0n) {
        const a = lo != null && lo >= 0n ? lo : 0n;
        out.push(...magnitudes(a, lo != null && lo >= 0n && loOpen, hi, hiOpen));
    }
    // Values < 0, as "-" and a magnitude above 0.
    if (lo == null || lo < 0n) {
        const a = hi != null && hi < 0n ? -hi : 0n;
        const aOpen = hi != null && hi < 0n ? hiOpen : true;
        const negative = magnitudes(a, aOpen, lo == null ? null : -lo, loOpen)
            // A magnitude of exactly 0 would be "-0".
            .filter((alternative) => alternative !== "(\"0\")");
        if (negative.length > 0) out.push(`"-" (${negative.join(" | ")})`);
    }
    return out.length === 0 ? null : `(${out.join(" | ")})`;
}
