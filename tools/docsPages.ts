import fs from "node:fs";
import {renderSettingsTable, withSettingsTable} from "../src/config/settingsDoc.js";
import {renderOpenAiTables, withOpenAiTables} from "../src/api/openai/openaiFieldsDoc.js";
import {RESPONSES_FIELDS} from "../src/api/responses/responsesFields.js";
import {renderFieldTable} from "../src/http/fieldTable.js";
import {renderMarkdown, type BenchRun} from "../bench/lib/report.js";

/**
 * The generated blocks of the docs pages, each between `<!-- name:start -->` and
 * `<!-- name:end -->` and rendered from its source of truth: the settings table in code, the OpenAI
 * field tables, and the benchmark results files. `npm run docs` writes them (tools/docs.ts);
 * test/repo/docsTables.test.ts fails when a page differs from what this renders.
 */
export const GENERATED_PAGES: ReadonlyArray<{file: string; render(page: string): string}> = [
    {file: "docs/settings.md", render: (page) => withSettingsTable(page, renderSettingsTable())},
    {file: "docs/openai-api.md", render: (page) => withOpenAiTables(page, renderOpenAiTables())},
    {file: "docs/responses-api.md", render: (page) => withBlock(page, "responses-fields", `${renderFieldTable("`POST /v1/responses`", RESPONSES_FIELDS)}\n`)},
    {file: "docs/performance.md", render: (page) => withBlock(page, "bench", benchTable(readJson<BenchRun | {schema?: undefined}>("bench/results/latest.json")))},
    // bench/determinism.ts writes its table to this file as it runs; the page shows that table.
    {file: "docs/determinism.md", render: (page) => withBlock(page, "determinism", fs.readFileSync("bench/results/determinism.md", "utf8"))}
];

/** The results of the current bench (schema 2); an older file's figures came from a peer on other kernels and are not shown. */
function benchTable(run: BenchRun | {schema?: undefined}): string {
    return run.schema === 2 ? renderMarkdown(run)
        : "No run of the current bench (a peer on the same CPU kernels) is recorded yet: `npm run bench -- --write-docs` writes it here.\n";
}

function readJson<T>(file: string): T {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** `page` with the text between `<!-- name:start -->` and `<!-- name:end -->` replaced by `body`; throws when the markers are missing. */
export function withBlock(page: string, name: string, body: string): string {
    const startMarker = `<!-- ${name}:start -->`;
    const start = page.indexOf(startMarker);
    const end = page.indexOf(`<!-- ${name}:end -->`);
    if (start === -1 || end === -1 || end < start) throw new Error(`the page has no ${startMarker} ... <!-- ${name}:end --> section`);
    return `${page.slice(0, start + startMarker.length)}\n${body}${page.slice(end)}`;
}
