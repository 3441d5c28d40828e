/**
 * The shape of an enhanced prompt, enforced while decoding: a GBNF grammar that makes clean output
 * hold whatever the weights are, and the cut that ends a generation stopped by its token budget at
 * a phrase boundary.
 *
 * Output alphabet: ASCII letters and digits in words; words joined by " " or "-"; phrases joined by
 * ", " (image) or clauses joined by ", " / ". " and ended by "." (video). So the output is one line,
 * has no quotes, colons, brackets or markdown, and cannot open with a chat preamble ("Sure! Here is
 * an enhanced prompt:") because the first word may not be one of PREAMBLE_OPENERS.
 */

export type OutputStyle = "image" | "video";

/** Longest word the grammar allows, in characters. */
export const MAX_WORD_CHARS = 16;

/**
 * The smallest token budget: room for a first phrase of two longest words. Output is ASCII, so a
 * token is at least one character, and a first unit of at most `budget - 1` characters always
 * completes within the budget: the cut can then always keep at least one whole phrase.
 */
export const MIN_TOKEN_BUDGET = 2 * (MAX_WORD_CHARS + 1);

/** Most words in one image phrase / one video clause. */
const MAX_WORDS: Record<OutputStyle, number> = {image: 6, video: 16};

/**
 * First words that only a chat preamble, a label or a refusal would start with (matched
 * case-insensitively as whole words: "Sure" is refused, "Surreal" is not).
 */
export const PREAMBLE_OPENERS: readonly string[] = Object.freeze([
    "sure", "here", "heres", "certainly", "okay", "ok", "absolutely", "alright", "hello", "hi", "hey",
    "thanks", "thank", "sorry", "unfortunately", "enhanced", "enhancement", "improved", "rewritten", "revised",
    "prompt", "output", "answer", "response", "result", "description", "note", "i", "im", "ill", "ive", "let", "lets"
]);

const WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Most words per phrase (image) or clause (video). The first one is bounded by the budget too, so
 * that it always fits whole (see MIN_TOKEN_BUDGET): floor(budget / (MAX_WORD_CHARS + 1)) words.
 */
export function phraseLimits(style: OutputStyle, budget: number): {firstPhraseMaxWords: number; phraseMaxWords: number} {
    return {
        firstPhraseMaxWords: Math.max(1, Math.min(MAX_WORDS[style], Math.floor(budget / (MAX_WORD_CHARS + 1)))),
        phraseMaxWords: MAX_WORDS[style]
    };
}

/** The GBNF grammar for one style and token budget (budget >= MIN_TOKEN_BUDGET). */
export function outputGrammar(style: OutputStyle, budget: number): string {
    if (!Number.isInteger(budget) || budget < MIN_TOKEN_BUDGET)
        throw new RangeError(`token budget must be an integer >= ${MIN_TOKEN_BUDGET}, got ${budget}`);
    const rules: string[] = [];
    const rest = (words: number) => words > 1 ? ` (wsep word){0,${words - 1}}` : "";
    if (style === "image")
        rules.push(`root ::= first (", " unit)*`);
    else
        rules.push(`root ::= first (usep unit)* "."`, `usep ::= ", " | ". "`);
    const limits = phraseLimits(style, budget);
    rules.push(
        `first ::= fw0${rest(limits.firstPhraseMaxWords)}`,
        `unit ::= word${rest(limits.phraseMaxWords)}`,
        `wsep ::= " " | "-"`,
        `word ::= ${charClass(WORD_CHARS)}${repeat(WORD_CHARS, 0, MAX_WORD_CHARS - 1)}`,
        ...firstWordRules()
    );
    return rules.join("\n") + "\n";
}

/**
 * Ends a generation cut by its budget (or time limit) at the last phrase boundary, so a half
 * phrase or half word never reaches the image model. Returns "" when no phrase was complete.
 */
export function cutAtPhraseBoundary(text: string, style: OutputStyle): string {
    if (style === "image") {
        const comma = text.lastIndexOf(",");
        return comma === -1 ? "" : text.slice(0, comma).trimEnd();
    }
    const boundary = Math.max(text.lastIndexOf(","), text.lastIndexOf("."));
    if (boundary === -1) return "";
    // A period ends a sentence and stays; a comma would dangle and goes.
    return text[boundary] === "." ? text.slice(0, boundary + 1) : text.slice(0, boundary).trimEnd();
}

/** Drops the last phrase of a complete output ("" when it has only one). */
export function dropLastPhrase(text: string, style: OutputStyle): string {
    return cutAtPhraseBoundary(text.slice(0, -1), style);
}

/**
 * The first word as a trie over PREAMBLE_OPENERS: rule fwN stands for "the word so far spells
 * the prefix of node N". Leaving the trie (a character no opener continues with) frees the rest of
 * the word; the word may end at a node only when that node is not a whole opener.
 */
function firstWordRules(): string[] {
    interface Node {
        depth: number;
        children: Map<string, number>;
        terminal: boolean;
    }
    const nodes: Node[] = [{depth: 0, children: new Map(), terminal: false}];
    for (const word of PREAMBLE_OPENERS) {
        let current = 0;
        for (const char of word) {
            let next = nodes[current].children.get(char);
            if (next == null) {
                next = nodes.length;
                nodes.push({depth: nodes[current].depth + 1, children: new Map(), terminal: false});
                nodes[current].children.set(char, next);
            }
            current = next;
        }
        nodes[current].terminal = true;
    }
    return nodes.map((node, index) => {
        const alternatives: string[] = [];
        for (const [char, child] of node.children)
            alternatives.push(`${charClass(char.toUpperCase() + char)} fw${child}`);
        const excluded = [...node.children.keys()].flatMap((char) => [char, char.toUpperCase()]);
        const others = [...WORD_CHARS].filter((char) => !excluded.includes(char)).join("");
        alternatives.push(`${charClass(others)}${repeat(WORD_CHARS, 0, MAX_WORD_CHARS - node.depth - 1)}`);
        const body = alternatives.join(" | ");
        const canEnd = node.depth > 0 && !node.terminal;
        return `fw${index} ::= ${canEnd ? `(${body})?` : body}`;
    });
}

function charClass(chars: string): string {
    return `[${chars}]`;
}

function repeat(chars: string, min: number, max: number): string {
    return max > 0 ? ` ${charClass(chars)}{${min},${max}}` : "";
}
