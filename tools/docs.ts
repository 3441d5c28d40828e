/**
 * `npm run docs`: regenerates the generated blocks of the docs pages (docs/settings.md,
 * docs/openai-api.md, docs/performance.md, docs/determinism.md) from their sources in code and in
 * bench/results/; test/repo/docsTables.test.ts fails when a page is stale.
 */
import fs from "node:fs";
import {GENERATED_PAGES} from "./docsPages.js";

for (const {file, render} of GENERATED_PAGES) {
    const before = fs.readFileSync(file, "utf8");
    const after = render(before);
    fs.writeFileSync(file, after);
    process.stdout.write(before === after ? `${file}: already up to date\n` : `${file}: regenerated\n`);
}
