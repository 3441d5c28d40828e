import {renderFieldTable as table} from "../../http/fieldTable.js";
import {CHAT_COMPLETION_FIELDS, COMPLETION_FIELDS} from "./openaiFields.js";
import {EMBEDDING_FIELDS} from "./embeddingFields.js";

export const OPENAI_TABLES_START = "<!-- openai-fields:start -->";
export const OPENAI_TABLES_END = "<!-- openai-fields:end -->";

/** The README's OpenAI compatibility tables, generated from openaiFields.ts (`npm run docs` writes them; a test checks them). */
export function renderOpenAiTables(): string {
    return `${table("`POST /v1/chat/completions`", CHAT_COMPLETION_FIELDS)}\n\n${table("`POST /v1/completions`", COMPLETION_FIELDS)}\n\n` +
        `${table("`POST /v1/embeddings`", EMBEDDING_FIELDS)}\n`;
}

/** `readme` with the text between the markers replaced by `tables`; throws when the markers are missing. */
export function withOpenAiTables(readme: string, tables: string): string {
    const start = readme.indexOf(OPENAI_TABLES_START);
    const end = readme.indexOf(OPENAI_TABLES_END);
    if (start === -1 || end === -1 || end < start)
        throw new Error(`README.md has no ${OPENAI_TABLES_START} ... ${OPENAI_TABLES_END} section`);
    return `${readme.slice(0, start + OPENAI_TABLES_START.length)}\n${tables}${readme.slice(end)}`;
}
