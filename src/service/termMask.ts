/**
 * `sfw_mode`: masks listed terms in generated text, case-insensitively and as whole words (so
 * "class" is not masked for "ass"), each character of a term replaced by `*`. The list is data
 * (templates/enhance/sfw-terms.txt, or the operator's copy in ENHANCE_TEMPLATES_DIR). Streaming
 * holds back only as much text as a term could still be completing, so a term split across two
 * tokens is masked before any of it is sent.
 */
export class TermMask {
    private readonly pattern: RegExp | null;
    /** The longest term, in UTF-16 units: the most text a stream may need to hold back. */
    readonly longest: number;

    constructor(readonly terms: readonly string[]) {
        const unique = [...new Set(terms.map((term) => term.trim()).filter((term) => term !== ""))]
            // Longest first, so "fucking" is masked whole rather than as "fuck" + "ing".
            .sort((a, b) => b.length - a.length);
        this.longest = unique.reduce((max, term) => Math.max(max, term.length), 0);
        this.pattern = unique.length === 0 ? null
            : new RegExp(`(?<![\\p{L}\\p{N}])(?:${unique.map(escape).join("|")})(?![\\p{L}\\p{N}])`, "giu");
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
     * Matches in `text` (whose first `context` characters were already sent: they only decide the
     * word boundary) that start before `limit`.
     */
    matches(text: string, context: number, limit: number): Array<{start: number; end: number}> {
        if (this.pattern == null) return [];
        const found: Array<{start: number; end: number}> = [];
        this.pattern.lastIndex = context;
        for (let match = this.pattern.exec(text); match != null; match = this.pattern.exec(text)) {
            if (match.index >= limit) break;
            found.push({start: match.index, end: match.index + match[0].length});
        }
        return found;
    }
}

/** One generation's text going through the mask, piece by piece. */
export class MaskStream {
    /** Text received and not yet sent. */
    private pending = "";
    /** The last character sent: a term right after a letter is part of a longer word. */
    private before = "";

    constructor(private readonly mask: TermMask) {}

    /** Takes a piece of generated text; returns what can be sent now (possibly ""). */
    push(text: string): string {
        this.pending += text;
        return this.drain(false);
    }

    /** The generation ended: everything held back, masked. */
    end(): string {
        return this.drain(true);
    }

    private drain(final: boolean): string {
        if (this.pending === "") return "";
        const text = this.before + this.pending;
        const context = this.before.length;
        // A term starting in the last `longest` characters may still be completing, or be followed
        // by a letter that makes it part of a longer word: hold those back until more text comes.
        let cut = final ? text.length : Math.max(context, text.length - this.mask.longest);
        const matches = this.mask.matches(text, context, cut);
        // A term that starts before the cut is sent whole (its end and the character after are known).
        for (const match of matches) cut = Math.max(cut, match.end);
        let out = "";
        let at = context;
        for (const match of matches) {
            out += text.slice(at, match.start) + "*".repeat(match.end - match.start);
            at = match.end;
        }
        out += text.slice(at, cut);
        this.pending = text.slice(cut);
        // Two characters (one astral code point, or a letter and a combining mark) are enough context.
        this.before = (this.before + out).slice(-2);
        return out;
    }
}

function escape(term: string): string {
    return term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+");
}

/** Terms from the list file: one per line; blank lines and lines starting with # are skipped. */
export function parseTermList(text: string): string[] {
    return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
}
