#!/usr/bin/env node
// The production start: runs the compiled worker in dist/ with plain node (no TypeScript, no
// devDependencies). `npm start` builds first and then runs this; containers run it as PID 1, so
// the worker itself gets SIGTERM and drains (npm would exit at once and cut running streams).
// CommonJS on purpose: it loads without the libuv pool, so UV_THREADPOOL_SIZE can still be set
// before anything starts the pool (the ESM loader itself reads files on it). node-llama-cpp runs
// evaluation on the pool, and busy pool threads beside llama.cpp's compute threads oversubscribe
// small machines; see docs/performance.md.
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const {pathToFileURL} = require("node:url");

const main = path.join(__dirname, "..", "dist", "src", "main.js");
if (!fs.existsSync(main)) {
    process.stderr.write(`chat-worker: ${path.relative(process.cwd(), main) || main} is missing; run \`npm run build\` first (\`npm start\` builds and starts)\n`);
    process.exit(2);
}
if (process.env.UV_THREADPOOL_SIZE == null) {
    const cores = os.availableParallelism();
    const threads = Number(process.env.THREADS) || Math.max(1, cores - 1);
    process.env.UV_THREADPOOL_SIZE = String(Math.max(1, cores - threads));
}
import(pathToFileURL(main).href).catch((err) => {
    console.error(err);
    process.exit(1);
});
