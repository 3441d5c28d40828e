import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import {GENERATED_PAGES} from "../../tools/docsPages.js";
import {SETTINGS} from "../../src/config/config.js";
import {CHAT_COMPLETION_FIELDS, COMPLETION_FIELDS} from "../../src/api/openai/openaiFields.js";
import {EMBEDDING_FIELDS} from "../../src/api/openai/embeddingFields.js";

const read = (file: string) => fs.readFileSync(file, "utf8");

for (const {file, render} of GENERATED_PAGES)
    test(`${file}'s generated blocks are the ones rendered from their sources (npm run docs)`, () => {
        assert.equal(render(read(file)), read(file), `${file} is stale: run \`npm run docs\` and commit the result`);
    });

test("every setting has a row in docs/settings.md, and every row a setting", () => {
    const page = read("docs/settings.md");
    const section = page.slice(page.indexOf("<!-- settings:start -->"), page.indexOf("<!-- settings:end -->"));
    const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
    assert.deepEqual(rows, Object.keys(SETTINGS));
});

test("every test file docs/limits.md names exists", () => {
    const named = [...new Set([...read("docs/limits.md").matchAll(/`(test\/[\w/.]+\.ts)`/g)].map((match) => match[1]))];
    assert.ok(named.length >= 10, `the page names its tests (${named.length})`);
    for (const file of named)
        assert.ok(fs.existsSync(file), `${file} is named in docs/limits.md but does not exist`);
});

test("docs/openai-api.md's compatibility tables have a row per field of openaiFields.ts and embeddingFields.ts", () => {
    const page = read("docs/openai-api.md");
    const section = page.slice(page.indexOf("<!-- openai-fields:start -->"), page.indexOf("<!-- openai-fields:end -->"));
    const [chat, completions, embeddings] = section.split(/`POST \/v1\/completions`|`POST \/v1\/embeddings`/)
        .map((part) => [...part.matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1]));
    assert.deepEqual(chat, Object.keys(CHAT_COMPLETION_FIELDS));
    assert.deepEqual(completions, Object.keys(COMPLETION_FIELDS));
    assert.deepEqual(embeddings, Object.keys(EMBEDDING_FIELDS));
});

test("README.md is at most 250 lines, and every docs page it or another page links to exists", () => {
    const readme = read("README.md");
    assert.ok(readme.split("\n").length <= 250, `README.md has ${readme.split("\n").length} lines`);
    const pages = ["README.md", ...fs.readdirSync("docs", {recursive: true}).map(String).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];
    for (const page of pages)
        for (const [, target] of read(page).matchAll(/\]\(((?:\.\.\/|docs\/|decisions\/)?[\w./-]+\.md)(?:#[\w-]+)?\)/g)) {
            const resolved = new URL(target!, `file://${process.cwd()}/${page}`).pathname;
            assert.ok(fs.existsSync(resolved), `${page} links to ${target}, which does not exist`);
        }
});

test("the `model` rows say that, with MODELS, the field selects the model (it is no metadata)", () => {
    for (const table of [CHAT_COMPLETION_FIELDS, COMPLETION_FIELDS]) {
        assert.equal(table.model.support, "honoured");
        assert.match(table.model.note, /`MODELS`, selects the served model/);
    }
});
