import type {Message} from "./streamClient.js";

/** Deterministic filler text of `length` characters, different for each seed string. */
function text(seed: string, length: number): string {
    const words = ["river", "lantern", "quiet", "orbit", "maple", "signal", "harbor", "velvet", "ember", "canyon", "meadow", "copper"];
    let hash = 0;
    for (const char of seed) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    let out = "";
    while (out.length < length) {
        hash = (hash * 1103515245 + 12345) >>> 0;
        out += `${words[hash % words.length]} `;
    }
    return out.slice(0, length);
}

/**
 * Turn `turn` of a conversation: a system prompt unique to `id` (so conversations share no
 * prefix), turn-1 earlier exchanges of ~110 characters per message, then the new user message.
 * About 2,000 byte-level tokens at turn 10. `lastReply` replaces the previous assistant message
 * with what the server really answered, as a chat client would send it back.
 */
export function conversation(id: string, turn: number, lastReply: string | null): Message[] {
    const replies: Array<string | undefined> = [];
    if (lastReply != null) replies[turn - 2] = lastReply;
    return conversationWithReplies(id, turn, replies);
}

/**
 * Turn `turn` of a conversation whose earlier assistant messages are the server's real replies:
 * `replies[i]` is turn i + 1's (a missing one falls back to filler text).
 */
export function conversationWithReplies(id: string, turn: number, replies: ReadonlyArray<string | undefined>): Message[] {
    const messages: Message[] = [{role: "system", content: `Conversation ${id}. You are a helpful assistant in a benchmark.`}];
    for (let i = 1; i < turn; i++) {
        messages.push({role: "user", content: `Turn ${i}: ${text(`${id}-u${i}`, 100)}`});
        messages.push({role: "assistant", content: replies[i - 1] ?? text(`${id}-a${i}`, 110)});
    }
    messages.push({role: "user", content: `Turn ${turn}: ${text(`${id}-u${turn}`, 100)}`});
    return messages;
}

/** An unrelated prompt of `length` characters that occupies a sequence (or a peer slot). */
export function fillerConversation(id: string, length = 2400): Message[] {
    return [{role: "system", content: `Filler ${id}.`}, {role: "user", content: text(`filler-${id}`, length)}];
}
