import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Memory read bandwidth, STREAM-style: `threads` threads sum a 1 GiB array (far beyond any cache),
 * best of several passes. Compiled from C at run time because JavaScript cannot issue wide loads
 * on several threads; returns null when no C compiler is present.
 */
const SOURCE = String.raw`
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define BYTES (1UL << 30)
static uint64_t *data; static size_t per; static volatile uint64_t sink;
static void *run(void *arg) { size_t t = (size_t)arg; uint64_t a = 0, b = 0, c = 0, d = 0;
  const uint64_t *p = data + t * per;
  for (size_t i = 0; i < per; i += 4) { a += p[i]; b += p[i + 1]; c += p[i + 2]; d += p[i + 3]; }
  sink += a + b + c + d; return NULL; }
int main(int argc, char **argv) { int threads = atoi(argv[1]); size_t n = BYTES / 8; per = n / threads;
  data = aligned_alloc(64, BYTES); for (size_t i = 0; i < n; i++) data[i] = i;
  double best = 0; for (int pass = 0; pass < 6; pass++) { struct timespec s, e; pthread_t th[64];
    clock_gettime(CLOCK_MONOTONIC, &s);
    for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, run, (void *)(size_t)t);
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &e);
    double sec = (e.tv_sec - s.tv_sec) + (e.tv_nsec - s.tv_nsec) / 1e9; double gbs = BYTES / sec / 1e9;
    if (gbs > best) best = gbs; }
  printf("%f\n", best); return 0; }
`;

export function measureReadBandwidth(threads: number): number | null {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-bw-"));
    try {
        fs.writeFileSync(path.join(dir, "bw.c"), SOURCE);
        execFileSync("cc", ["-O3", "-march=native", "-pthread", "-o", path.join(dir, "bw"), path.join(dir, "bw.c")], {stdio: "ignore"});
        return Number(execFileSync(path.join(dir, "bw"), [String(threads)]).toString().trim()) * 1e9;
    } catch {
        return null;
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
}
