/**
 * `npm run docs`: regenerates the README's tables from the tables in code: the settings table
 * (src/config/settingsTable.ts) and the OpenAI compatibility tables (src/api/openai/openaiFields.ts).
 * test/readmeTables.test.ts fails when the README is stale.
 */
import fs from "node:fs";
import {renderSettingsTable, withSettingsTable} from "../config/settingsDoc.js";
import {renderOpenAiTables, withOpenAiTables} from "../api/openai/openaiFieldsDoc.js";

const file = "README.md";
const before = fs.readFileSync(file, "utf8");
const after = withOpenAiTables(withSettingsTable(before, renderSettingsTable()), renderOpenAiTables());
fs.writeFileSync(file, after);
process.stdout.write(before === after ? "README.md tables already up to date\n" : "README.md tables regenerated\n");
