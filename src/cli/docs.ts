/**
 * `npm run docs`: regenerates the README's settings table from the settings table in code
 * (src/config/settingsTable.ts). test/readmeTables.test.ts fails when the README is stale.
 */
import fs from "node:fs";
import {renderSettingsTable, withSettingsTable} from "../config/settingsDoc.js";

const file = "README.md";
const before = fs.readFileSync(file, "utf8");
const after = withSettingsTable(before, renderSettingsTable());
fs.writeFileSync(file, after);
process.stdout.write(before === after ? "README.md settings table already up to date\n" : "README.md settings table regenerated\n");
