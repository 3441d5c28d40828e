import {foldCodePoint, isWordCharacter} from "./termFold.js";

/**
 * `sfw_mode`: masks listed terms in generated text as whole words, each non-space character of a
 * matched span replaced by `*` (the whitespace between the words of a multi-word term is kept, so
 * the layout is). The list is data (templates/enhance/sfw-terms.txt, or the operator's copy in
 * ENHANCE_TEMPLATES_DIR).
 *
 * Text and terms are compared folded (termFold.ts: case, NFKC, zero-width characters and soft
 * hyphens, diacritics, common lookalike letters); a whitespace run of any length between two words
 * matches the space of a multi-word term; a term followed by "s", "es" and/or digits ("dicks",
 * "fuck99") is the same term. A term is whole when no letter or digit touches either end.
 */
export class TermMask {
    private readonly root: TrieNode = new TrieNode();

    constructor(readonly terms: readonly string[]) {
        for (const term of terms) {
            const chars = foldText(term.trim());
            if (chars.length === 0) continue;
            let node = this.root;
            for (const char of chars) {
                let next = node.children.get(char);
                if (next == null) node.children.set(char, next = new TrieNode());
                node = next;
            }
            node.terminal = true;
        }
    }

    /** A whole text, masked. */
    mask(text: string): string {
        const stream = this.stream();
        return stream.push(text) + stream.end();
    }

    stream(): MaskStream {
        return new MaskStream(this);
    }

    /**
     * The terms in folded text (`before`: whether a letter or digit precedes it), as [start, end)
     * index pairs, and `open`: the index from which a term may still be completing (or be followed by
     * a letter that makes it part of a longer word), so that nothing from it on can be sent yet; the
     * length of `chars` when nothing is open, always when `final`.
     */
    scan(chars: readonly string[], before: boolean, final: boolean): {matches: Array<[number, number]>; open: number} {
        const matches: Array<[number, number]> = [];
        for (let at = 0; at < chars.length;) {
            const wordStart = at === 0 ? !before : !isWordCharacter(chars[at - 1]);
            const end = wordStart && this.root.children.has(chars[at]) ? this.matchAt(chars, at, final) : NONE;
            if (end === OPEN) return {matches, open: at};
            if (end === NONE) at++;
            else {
                matches.push([at, end]);
                at = end;
            }
        }
        return {matches, open: chars.length};
    }

    /** The end of the longest term (with its suffix) at `start`, NONE, or OPEN while the text so far cannot tell. */
    private matchAt(chars: readonly string[], start: number, final: boolean): number {
        let best = NONE;
        let node: TrieNode | undefined = this.root;
        for (let at = start; node != null; at++) {
            if (node.terminal) {
                const end = suffixEnd(chars, at, final);
                if (end === OPEN) return OPEN;
                best = Math.max(best, end);
            }
            if (at === chars.length) return !final && node.children.size > 0 ? OPEN : best;
            node = node.children.get(chars[at]);
        }
        return best;
    }
}

/** One generation's text going through the mask, piece by piece. */
export class MaskStream {
    /** Text received and not yet sent. */
    private held = "";
    /** A high surrogate that ended the last piece: its other half comes with the next one. */
    private split = "";
    /** `held` folded, whitespace runs as one " ", and where in `held` each folded character came from. */
    private chars: string[] = [];
    private from: number[] = [];
    private to: number[] = [];
    /** Whether the last folded character sent was a letter or digit (a term right after it is part of a word). */
    private before = false;

    constructor(private readonly mask: TermMask) {}

    /** Takes a piece of generated text; returns what can be sent now (possibly ""). */
    push(text: string): string {
        text = this.split + text;
        const last = text.charCodeAt(text.length - 1);
        this.split = last >= 0xd800 && last <= 0xdbff ? text.slice(-1) : "";
        this.append(this.split === "" ? text : text.slice(0, -1));
        return this.drain(false);
    }

    /** The generation ended: everything held back, masked. */
    end(): string {
        this.append(this.split);
        this.split = "";
        return this.drain(true);
    }

    private append(text: string): void {
        for (const char of text) {
            const offset = this.held.length;
            this.held += char;
            for (const folded of foldSpaced(char)) {
                // A whitespace run is one separator, however long: it costs the matcher nothing.
                if (folded === " " && this.chars.at(-1) === " ") this.to[this.to.length - 1] = this.held.length;
                else this.add(folded, offset);
            }
        }
    }

    private add(folded: string, offset: number): void {
        this.chars.push(folded);
        this.from.push(offset);
        this.to.push(this.held.length);
    }

    private drain(final: boolean): string {
        const {matches, open} = this.mask.scan(this.chars, this.before, final);
        let cut = open < this.chars.length ? this.from[open] : this.held.length;
        let out = "";
        let at = 0;
        for (const [start, end] of matches) {
            const spanStart = this.from[start], spanEnd = this.to[end - 1];
            // Whitespace is kept, except the byte-order mark (JavaScript's \s has it; it is a zero-width character here).
            out += this.held.slice(at, spanStart) + this.held.slice(spanStart, spanEnd).replace(/\S|\uFEFF/gu, "*");
            at = spanEnd;
        }
        cut = Math.max(cut, at);
        out += this.held.slice(at, cut);
        // Keep the folded characters of what is still held (several may come from one code point).
        let keep = 0;
        while (keep < this.chars.length && this.from[keep] < cut) keep++;
        if (keep > 0) this.before = isWordCharacter(this.chars[keep - 1]);
        this.chars = this.chars.slice(keep);
        this.from = this.from.slice(keep).map((offset) => offset - cut);
        this.to = this.to.slice(keep).map((offset) => offset - cut);
        this.held = this.held.slice(cut);
        return out;
    }
}

const NONE = -1;
const OPEN = -2;

class TrieNode {
    readonly children = new Map<string, TrieNode>();
    terminal = false;
}

/** A term's text folded as the stream folds it: one entry per folded character, whitespace runs as one " ". */
function foldText(text: string): string[] {
    const chars: string[] = [];
    for (const char of text)
        for (const folded of foldSpaced(char))
            if (folded !== " " || chars.at(-1) !== " ") chars.push(folded);
    return chars;
}

/** The folded characters of one code point, any whitespace among them as " " (zero-width ones are ignored, not spaces). */
function foldSpaced(char: string): string[] {
    return [...foldCodePoint(char)].map((folded) => /^\s$/u.test(folded) ? " " : folded);
}

/**
 * Where a term ending at `at` ends with its suffix ("s" or "es", then any digits) when a word
 * boundary follows, the longest such; NONE when none does; OPEN when the text ends before that is known.
 */
function suffixEnd(chars: readonly string[], at: number, final: boolean): number {
    const starts = [at];
    if (chars[at] === "s") starts.push(at + 1);
    if (chars[at] === "e" && (chars[at + 1] === "s" || at + 1 === chars.length)) starts.push(at + 2);
    let best = NONE;
    for (const start of starts) {
        let end = start;
        while (end < chars.length && /^\p{Nd}$/u.test(chars[end])) end++;
        if (end >= chars.length) {
            if (!final) return OPEN;
            if (end > chars.length) continue;
        }
        if (end === chars.length || !isWordCharacter(chars[end])) best = Math.max(best, end);
    }
    return best;
}

/** Terms from the list file: one per line; blank lines and lines starting with # are skipped. */
export function parseTermList(text: string): string[] {
    return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
}
