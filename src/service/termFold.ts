/**
 * The folding `sfw_mode` matches under: what a character of generated text counts as when it is
 * compared with the term list. Only the comparison uses it; the text sent is the model's own.
 */

/**
 * Format characters (zero-width space, non-joiner and joiner, word joiner, byte-order mark, soft
 * hyphen, bidi controls: \p{Cf}) and combining marks (accents, variation selectors: \p{M}) do not
 * show as letters, so a word written with them inside must still match.
 */
const IGNORED = /^[\p{Cf}\p{M}]$/u;

/**
 * Letters of other scripts drawn like a Latin one, after NFKC and lower-casing (so each capital is
 * covered by its small letter; full-width and mathematical letters are already folded by NFKC).
 * A hand-picked subset of Unicode's confusables (TR39) limited to non-Latin code points: that table
 * also folds Latin letters into each other (l and I, 0 and O), which would merge words of the list.
 */
const LOOKALIKES: Readonly<Record<string, string>> = {
    // Cyrillic.
    "а": "a", "в": "b", "ь": "b", "с": "c", "ԁ": "d", "е": "e", "г": "r", "һ": "h", "н": "h", "і": "i", "ӏ": "l",
    "ј": "j", "к": "k", "м": "m", "п": "n", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y", "ү": "y", "ԝ": "w",
    "х": "x",
    // Greek (the lunate sigma "ϲ" is "ς" after NFKC).
    "α": "a", "β": "b", "ς": "c", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ω": "w",
    // Armenian.
    "հ": "h", "ո": "n", "օ": "o", "ս": "u",
    // Latin letters outside a-z drawn like one of them: dotless i, script a and g, small capitals.
    "ı": "i", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i",
    "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v",
    "ᴡ": "w", "ʏ": "y", "ᴢ": "z"
};

/**
 * One code point of text as the matcher sees it: "" when it is ignored, else NFKC (full-width,
 * ligatures, mathematical letters), lower case, without diacritics, with lookalikes folded. May be
 * several characters ("ﬁ" is "fi").
 */
export function foldCodePoint(char: string): string {
    const code = char.charCodeAt(0);
    if (char.length === 1 && code < 0x80) return code >= 0x41 && code <= 0x5a ? String.fromCharCode(code + 32) : char;
    if (IGNORED.test(char)) return "";
    let folded = "";
    for (const part of char.normalize("NFKC").toLowerCase().normalize("NFD"))
        if (!IGNORED.test(part)) folded += LOOKALIKES[part] ?? part;
    return folded;
}

/** A letter or digit: what words are made of (a term must not be part of a longer word). */
export function isWordCharacter(char: string): boolean {
    return /^[\p{L}\p{N}]$/u.test(char);
}
