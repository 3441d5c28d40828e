import type {ToolCallEvent} from "../types.js";

/** How a model writes a tool call, as plain text: PREFIX name PARAMS_PREFIX arguments-JSON SUFFIX. */
export interface ToolCallSyntax {
    prefix: string;
    paramsPrefix: string;
    suffix: string;
}

/** What one piece of generated text turned out to be. */
export interface ParsedPiece {
    /** Text that is the answer's content. */
    content: string;
    /** Call pieces: a call's first carries its id and name, later ones more of its arguments. */
    calls: ToolCallEvent[];
    /** Calls that ended (their suffix was seen) in this piece. */
    completed: number;
}

/** A name longer than this without the params prefix means the "call" was text after all. */
const MAX_NAME_CHARS = 256;

/** Where the parser starts: in text, or inside a call the prompt opened (a forced call). */
export type ParserStart = {state: "text"} | {state: "name"} | {state: "arguments"; name: string};

/**
 * Splits a generated text stream into content and tool calls, as the model writes them in its
 * chat template's syntax. Text that might be the start of a marker is held back until it is
 * known, so content never carries half a call and arguments never carry the call's suffix;
 * arguments stream in pieces as they come. Whitespace next to calls (the template's separators)
 * is not content.
 */
export class ToolCallParser {
    private state: "text" | "name" | "arguments";
    private buffer = "";
    private callCount = 0;
    private pending: ToolCallEvent[] = [];

    constructor(private readonly syntax: ToolCallSyntax, private readonly newId: () => string, start: ParserStart = {state: "text"}) {
        this.state = start.state;
        if (start.state === "arguments")
            this.openCall(start.name);
    }

    /** Calls begun so far. */
    get calls(): number {
        return this.callCount;
    }

    push(text: string): ParsedPiece {
        const out: ParsedPiece = {content: "", calls: this.pending, completed: 0};
        this.pending = [];
        this.buffer += text;
        for (;;) {
            if (this.state === "text") {
                const at = this.buffer.indexOf(this.syntax.prefix);
                if (at === -1) {
                    // Whitespace is held too: before a call it is the template's separator, not content.
                    const marker = heldBack(this.buffer, this.syntax.prefix);
                    const before = this.buffer.slice(0, this.buffer.length - marker);
                    const keep = marker + before.length - before.trimEnd().length;
                    out.content += this.buffer.slice(0, this.buffer.length - keep);
                    this.buffer = this.buffer.slice(this.buffer.length - keep);
                    return out;
                }
                out.content += this.buffer.slice(0, at).trimEnd();
                this.buffer = this.buffer.slice(at + this.syntax.prefix.length);
                this.state = "name";
            } else if (this.state === "name") {
                const at = this.buffer.indexOf(this.syntax.paramsPrefix);
                if (at === -1) {
                    if (this.buffer.length > MAX_NAME_CHARS) {
                        out.content += this.syntax.prefix + this.buffer;
                        this.buffer = "";
                        this.state = "text";
                    }
                    return out;
                }
                this.openCall(this.buffer.slice(0, at));
                out.calls.push(...this.pending);
                this.pending = [];
                this.buffer = this.buffer.slice(at + this.syntax.paramsPrefix.length);
            } else {
                const at = this.buffer.indexOf(this.syntax.suffix);
                const end = at !== -1 ? at : this.buffer.length - heldBack(this.buffer, this.syntax.suffix);
                if (end > 0)
                    out.calls.push({type: "tool_call", index: this.callCount - 1, arguments: this.buffer.slice(0, end)});
                if (at === -1) {
                    this.buffer = this.buffer.slice(end);
                    return out;
                }
                this.buffer = this.buffer.slice(at + this.syntax.suffix.length);
                this.state = "text";
                out.completed++;
            }
        }
    }

    /** The end of the text: what was held back is released (a call cut short keeps the arguments it has). */
    finish(): ParsedPiece {
        const out: ParsedPiece = {content: "", calls: this.pending, completed: 0};
        this.pending = [];
        if (this.state === "text")
            out.content = this.callCount > 0 ? this.buffer.trimEnd() : this.buffer;
        else if (this.state === "name")
            out.content = this.syntax.prefix + this.buffer;
        else if (this.buffer !== "")
            out.calls.push({type: "tool_call", index: this.callCount - 1, arguments: this.buffer});
        this.buffer = "";
        return out;
    }

    private openCall(name: string): void {
        this.pending.push({type: "tool_call", index: this.callCount, id: this.newId(), name, arguments: ""});
        this.callCount++;
        this.state = "arguments";
    }
}

/** Length of the longest end of `text` that `marker` starts with (it may be the marker's first part). */
function heldBack(text: string, marker: string): number {
    for (let length = Math.min(text.length, marker.length - 1); length > 0; length--)
        if (marker.startsWith(text.slice(text.length - length)))
            return length;
    return 0;
}
