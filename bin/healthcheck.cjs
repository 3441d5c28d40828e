#!/usr/bin/env node
// Container health check (the images' HEALTHCHECK): exits 0 when the worker's GET /ready answers
// 200, else 1. Plain node because the runtime images carry no curl or wget. It reads PORT and
// HOST as the worker does, so a changed port needs no change here.
"use strict";
const port = process.env.PORT || "7861";
const bound = process.env.HOST || "0.0.0.0";
// A wildcard bind is reached on loopback; a specific interface only on that address.
const host = bound === "0.0.0.0" ? "127.0.0.1" : bound === "::" ? "[::1]" : bound.includes(":") ? `[${bound}]` : bound;
fetch(`http://${host}:${port}/ready`, {signal: AbortSignal.timeout(4000)}).then(
    (response) => process.exit(response.status === 200 ? 0 : 1),
    () => process.exit(1)
);
