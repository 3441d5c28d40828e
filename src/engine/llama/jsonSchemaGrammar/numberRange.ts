import {integerRange} from "./integerRange.js";

/**
 * GBNF for JSON numbers between bounds. Integers are exact (integerRange). Other numbers are
 * written as decimals with at most `fractionDigits` fraction digits and no exponent, and the
 * grammar allows exactly the decimals in a closed range [low, high] of such decimals, chosen so
 * that a validator, which compares doubles, accepts both ends: `low` is the least decimal whose
 * double is >= the minimum (> for an exclusive one), `high` likewise. Rounding a decimal to a double
 * is monotonic, so every decimal between them is within the bounds too, however close a bound lies
 * to a decimal or however coarse doubles are at its magnitude.
 */
const FRACTION_DIGITS = 6;
/** Bounds written with more fraction digits than FRACTION_DIGITS get that many, up to this. */
const MAX_FRACTION_DIGITS = 20;
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

/** The exact value of a finite double as a fraction numerator / denominator (denominator a power of two). */
function exact(value: number): {numerator: bigint; denominator: bigint} {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value);
    const bits = view.getBigUint64(0);
    const exponentBits = Number((bits >> 52n) & 0x7ffn);
    const fraction = bits & ((1n << 52n) - 1n);
    const mantissa = exponentBits === 0 ? fraction : fraction | (1n << 52n);
    const exponent = exponentBits === 0 ? -1074 : exponentBits - 1075;
    const signed = bits >> 63n === 1n ? -mantissa : mantissa;
    return exponent >= 0 ? {numerator: signed << BigInt(exponent), denominator: 1n} : {numerator: signed, denominator: 1n << BigInt(-exponent)};
}

/** The decimal `scaledValue` / 10^digits as a JavaScript number (as a validator parses it). */
function asNumber(scaledValue: bigint, digits: number): number {
    const text = (scaledValue < 0n ? -scaledValue : scaledValue).toString().padStart(digits + 1, "0");
    return Number(`${scaledValue < 0n ? "-" : ""}${text.slice(0, -digits)}.${text.slice(-digits)}`);
}

/**
 * The least decimal with `digits` fraction digits (times 10^digits) that parses to a double >= `value`
 * (`up`), or the greatest that parses to one <= `value`. The exact value of the double, rounded
 * towards the other side, is the candidate: the decimal that parses back to `value` may lie on it.
 */
function scaled(value: number, digits: number, up: boolean): bigint {
    const {numerator, denominator} = exact(value);
    const n = numerator * 10n ** BigInt(digits);
    const floor = n >= 0n ? n / denominator : -((-n + denominator - 1n) / denominator);
    const candidate = up || floor * denominator === n ? floor : floor + 1n;
    const parsed = asNumber(candidate, digits);
    if (up) return parsed >= value ? candidate : candidate + 1n;
    return parsed <= value ? candidate : candidate - 1n;
}

/** The next double above `value` (towards +Infinity). */
function nextUp(value: number): number {
    if (value === 0) return Number.MIN_VALUE;
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value);
    view.setBigUint64(0, view.getBigUint64(0) + (value > 0 ? 1n : -1n));
    return view.getFloat64(0);
}

/** Fraction digits the shortest form of `value` needs (1e-7: 7; 0.25: 2). */
function fractionDigitsOf(value: number): number {
    const match = /^\d+(?:\.(\d+))?(?:e([-+]\d+))?$/.exec(String(Math.abs(value)));
    return match == null ? 0 : Math.max(0, (match[1]?.length ?? 0) - Number(match[2] ?? 0));
}

/**
 * Alternatives for digit strings s of length 0..lo.length whose value, padded on the right with
 * zeros, lies in [lo, hi] (digit strings of one length). The empty string is the alternative `""`,
 * present when lo is all zeros. Digit by digit: the digits between lo's and hi's first digit are
 * free, the two edges recurse.
 */
function padded(lo: string, hi: string): string[] {
    if (lo.length === 0) return ["\"\""];
    const out: string[] = /^0*$/.test(lo) ? ["\"\""] : [];
    const rest = lo.length - 1;
    const free = rest === 0 ? "" : ` [0-9]{0,${rest}}`;
    const tail = (alternatives: string[]): string => {
        const digits = alternatives.filter((a) => a !== "\"\"");
        if (digits.length === 0) return "";
        const group = `(${digits.join(" | ")})`;
        return digits.length === alternatives.length ? ` ${group}` : ` ${group}?`;
    };
    const low = Number(lo[0]);
    const high = Number(hi[0]);
    if (low === high) return [...out, `"${low}"${tail(padded(lo.slice(1), hi.slice(1)))}`];
    const lowFree = /^0*$/.test(lo.slice(1));
    const highFree = /^9*$/.test(hi.slice(1));
    if (!lowFree) out.push(`"${low}"${tail(padded(lo.slice(1), "9".repeat(rest)))}`);
    const from = lowFree ? low : low + 1;
    const to = highFree ? high : high - 1;
    if (from <= to) out.push(`${from === to ? `"${from}"` : `[${from}-${to}]`}${free}`);
    if (!highFree) out.push(`"${high}"${tail(padded("0".repeat(rest), hi.slice(1)))}`);
    return out;
}

/** A fraction ("." and 1..digits digits) whose digits, padded to `digits`, lie in [lo, hi]; optional when lo is zero. */
function fraction(lo: bigint, hi: bigint, digits: number): string {
    const alternatives = padded(lo.toString().padStart(digits, "0"), hi.toString().padStart(digits, "0")).filter((a) => a !== "\"\"");
    const body = `"." (${alternatives.join(" | ")})`;
    return lo === 0n ? `(${body})?` : body;
}

/** Alternatives for the non-negative decimals from a / 10^digits to b / 10^digits (0 <= a <= b), without a sign. */
function nonNegative(a: bigint, b: bigint, digits: number): string[] {
    const unit = 10n ** BigInt(digits);
    const [lowInt, lowFrac, highInt, highFrac] = [a / unit, a % unit, b / unit, b % unit];
    if (lowInt === highInt) return [`"${lowInt}" ${fraction(lowFrac, highFrac, digits)}`];
    const out: string[] = [];
    if (lowFrac !== 0n) out.push(`"${lowInt}" ${fraction(lowFrac, unit - 1n, digits)}`);
    const from = lowFrac === 0n ? lowInt : lowInt + 1n;
    const to = highFrac === unit - 1n ? highInt : highInt - 1n;
    if (from <= to) out.push(`${integerRange(from, to)} ${fraction(0n, unit - 1n, digits)}`);
    if (highFrac !== unit - 1n) out.push(`"${highInt}" ${fraction(0n, highFrac, digits)}`);
    return out;
}

/** A GBNF expression for the numbers within `bounds` (null when the schema has no bound), or null when none fit. */
export function numberRange(bounds: Bounds): string | null {
    if (bounds.min == null && bounds.max == null) return `(${ANY_NUMBER})`;
    const digits = Math.min(MAX_FRACTION_DIGITS, Math.max(FRACTION_DIGITS,
        ...[bounds.min, bounds.max].map((bound) => bound == null ? 0 : fractionDigitsOf(bound))));
    // Without a bound on one side, integer parts of up to 16 digits (any fraction) on that side.
    const limit = (INTEGER_LIMIT + 1n) * 10n ** BigInt(digits) - 1n;
    // The least and greatest decimals (times 10^digits) whose doubles are within the bounds.
    let low = bounds.min == null ? null : bounds.minExclusive ? scaled(nextUp(bounds.min), digits, true) : scaled(bounds.min, digits, true);
    let high = bounds.max == null ? null : bounds.maxExclusive ? scaled(-nextUp(-bounds.max), digits, false) : scaled(bounds.max, digits, false);
    if (low == null) low = (high as bigint) < -limit ? (high as bigint) - limit : -limit;
    if (high == null) high = low > limit ? low + limit : limit;
    if (low > high) return null;
    const out: string[] = [];
    if (high >= 0n) out.push(...nonNegative(low > 0n ? low : 0n, high, digits));
    // Negative values as "-" and a magnitude of at least one unit ("-0" is never written).
    if (low < 0n) out.push(`"-" (${nonNegative(high < 0n ? -high : 1n, -low, digits).join(" | ")})`);
    return `(${out.join(" | ")})`;
}
