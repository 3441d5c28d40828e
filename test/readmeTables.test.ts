import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import {renderSettingsTable, withSettingsTable} from "../src/config/settingsDoc.js";
import {SETTINGS} from "../src/config/config.js";
import {renderOpenAiTables, withOpenAiTables} from "../src/api/openai/openaiFieldsDoc.js";
import {CHAT_COMPLETION_FIELDS, COMPLETION_FIELDS} from "../src/api/openai/openaiFields.js";

const readme = fs.readFileSync("README.md", "utf8");

test("the README's settings table is the one generated from the settings table in code (npm run docs)", () => {
    assert.equal(withSettingsTable(readme, renderSettingsTable()), readme,
        "README.md's settings table is stale: run `npm run docs` and commit the result");
});

test("every setting has a row, and every row a setting", () => {
    const section = readme.slice(readme.indexOf("<!-- settings:start -->"), readme.indexOf("<!-- settings:end -->"));
    const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
    assert.deepEqual(rows, Object.keys(SETTINGS));
});

test("every test file the Limits and guarantees section names exists", () => {
    const section = readme.slice(readme.indexOf("## Limits and guarantees"), readme.indexOf("## Settings"));
    const named = [...new Set([...section.matchAll(/`(test\/[\w/.]+\.ts)`/g)].map((match) => match[1]))];
    assert.ok(named.length >= 10, `the section names its tests (${named.length})`);
    for (const file of named)
        assert.ok(fs.existsSync(file), `${file} is named in the README but does not exist`);
});

test("the README's OpenAI compatibility tables are the ones generated from openaiFields.ts (npm run docs), a row per field", () => {
    assert.equal(withOpenAiTables(readme, renderOpenAiTables()), readme,
        "README.md's OpenAI compatibility tables are stale: run `npm run docs` and commit the result");
    const section = readme.slice(readme.indexOf("<!-- openai-fields:start -->"), readme.indexOf("<!-- openai-fields:end -->"));
    const [chat, completions] = section.split("`POST /v1/completions`").map((part) => [...part.matchAll(/^\| `([a-z_]+)` \|/gm)].map((match) => match[1]));
    assert.deepEqual(chat, Object.keys(CHAT_COMPLETION_FIELDS));
    assert.deepEqual(completions, Object.keys(COMPLETION_FIELDS));
});
