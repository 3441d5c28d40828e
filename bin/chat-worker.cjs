#!/usr/bin/env node
// CommonJS on purpose: it loads without the libuv pool, so UV_THREADPOOL_SIZE can still be set
// before anything starts the pool (the ESM loader itself reads files on it). node-llama-cpp runs
// evaluation on the pool, and busy pool threads beside llama.cpp's compute threads oversubscribe
// small machines; see README "Performance".
"use strict";
const os = require("node:os");
if (process.env.UV_THREADPOOL_SIZE == null) {
    const cores = os.availableParallelism();
    const threads = Number(process.env.THREADS) || Math.max(1, cores - 1);
    process.env.UV_THREADPOOL_SIZE = String(Math.max(1, cores - threads));
}
import("../dist/src/main.js").catch((err) => {
    console.error(err);
    process.exit(1);
});
