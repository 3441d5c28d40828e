import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * The really trained test model (llama, SPM tokenizer, no chat template), committed as a fixture
 * so that a bare clone passes; provenance and licence in test/fixtures/README.md.
 */
export const STORIES_MODEL = path.resolve(import.meta.dirname, "..", "fixtures", "stories260K.gguf");
const STORIES_SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

let checked = false;

/** The fixture's path. Fails loudly, never skips, when it is missing or is not the file test/fixtures/README.md describes. */
export function requireStoriesModel(): string {
    if (checked) return STORIES_MODEL;
    assert.ok(fs.existsSync(STORIES_MODEL), `the trained test model is missing: ${STORIES_MODEL} (see test/fixtures/README.md); these tests need it`);
    const digest = crypto.createHash("sha256").update(fs.readFileSync(STORIES_MODEL)).digest("hex");
    assert.equal(digest, STORIES_SHA256, `${STORIES_MODEL} is not the stories260K fixture (sha256 ${digest}); restore it from git`);
    checked = true;
    return STORIES_MODEL;
}
