import {WorkerError} from "../errors.js";

/**
 * A compatibility table: what an API does with each request field of the reference it follows
 * (OpenAI's chat completions, completions, responses). Each API keeps its own table as the single
 * source of its docs table (`npm run docs`) and of the refusals of fields it cannot honour.
 */

/**
 * `honoured`: does what OpenAI documents. `extension`: not OpenAI's, read as vLLM and llama-server
 * read it, or (`sfw_mode`) as the native routes read it. `metadata`: accepted and changes nothing about the answer. `refused`: a 400 naming the
 * field when it is set (null is "not set"), except for the values `accepts` lets through.
 */
export type FieldSupport = "honoured" | "extension" | "metadata" | "refused";

export interface FieldRow {
    support: FieldSupport;
    /** What the worker does with it; for a refused field, the reason the 400 gives. */
    note: string;
    /** A refused field's values that ask for nothing the worker does not do (they are accepted). */
    accepts?: (value: unknown, body: Record<string, unknown>) => boolean;
}

export type FieldTable = Readonly<Record<string, FieldRow>>;

/** The first refused field the body sets to a value that asks for something the worker does not do, or null. */
export function refusedField(table: FieldTable, body: Record<string, unknown>): {field: string; note: string} | null {
    for (const [field, row] of Object.entries(table))
        if (row.support === "refused" && body[field] != null && !(row.accepts?.(body[field], body) ?? false))
            return {field, note: row.note};
    return null;
}

const SUPPORT_WORDS: Record<FieldSupport, string> = {
    honoured: "honoured",
    extension: "extension",
    metadata: "accepted, no effect",
    refused: "400 when set"
};

/** One table in Markdown: a bold title, then a row per field. */
export function renderFieldTable(title: string, fields: FieldTable): string {
    const rows = Object.entries(fields).map(([field, row]) =>
        `| \`${field}\` | ${SUPPORT_WORDS[row.support]} | ${row.note.replace(/\|/g, "\\|")} |`);
    return [`**${title}**`, "", "| Field | Support | What the worker does |", "| --- | --- | --- |", ...rows].join("\n");
}

/** A 400 naming `param`: `unsupported_parameter` for what the worker cannot do, other codes for what is wrong. */
export function refuse(param: string, message: string, code = "unsupported_parameter"): WorkerError {
    return new WorkerError("invalid_request", code, `${param}: ${message}`, {param});
}
