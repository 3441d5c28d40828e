#!/usr/bin/env node
// `npm start`'s first step: brings dist/ up to date with TypeScript's incremental build (`tsc -b`,
// whose .tsbuildinfo files live in dist/), so a start after no change skips the minute-long
// compile, and says which of the two happened. `npm start` then execs node on bin/chat-worker.cjs.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const {spawnSync} = require("node:child_process");

const root = path.join(__dirname, "..");
const buildInfo = path.join(root, "dist", ".tsbuildinfo");
const stamp = () => (fs.existsSync(buildInfo) ? fs.statSync(buildInfo).mtimeMs : null);

const before = stamp();
const started = performance.now();
process.stderr.write("chat-worker: checking dist/ against the TypeScript sources (tsc -b; compiles only when they changed)\n");
const tsc = require.resolve("typescript/bin/tsc", {paths: [root]});
const result = spawnSync(process.execPath, [tsc, "-b", "tsconfig.json", "tsconfig.playground.json"], {cwd: root, stdio: "inherit"});
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (result.status !== 0) {
    process.stderr.write(`chat-worker: the TypeScript build failed (${seconds} s); see the errors above\n`);
    process.exit(result.status ?? 1);
}
process.stderr.write(stamp() === before
    ? `chat-worker: dist/ is up to date (${seconds} s); starting the worker\n`
    : `chat-worker: compiled into dist/ in ${seconds} s; starting the worker\n`);
