/**
 * A model runner entry for tests: the real runner (BLOCKING_RUNNER_ENTRY, default the TypeScript
 * one) that, on SIGUSR2, blocks on opening the FIFO BLOCKING_RUNNER_FIFO for reading, as a wedged
 * native step would (issue 24, defects 3 to 5). BLOCKING_RUNNER_MODE says where:
 * - "main": synchronously, so the main thread stops (no heartbeat, no disconnect handling);
 * - "pool": on the libuv pool (opened asynchronously), so with UV_THREADPOOL_SIZE=1 no decode or
 *   sampling step can run while the main thread still answers.
 * It writes `<fifo>.blocked` first, for tests to wait on. Writing to the FIFO (or killing the runner) ends it.
 */
import fs from "node:fs";

const fifo = process.env.BLOCKING_RUNNER_FIFO;
process.on("SIGUSR2", () => {
    if (fifo == null) return;
    fs.writeFileSync(`${fifo}.blocked`, "");
    if (process.env.BLOCKING_RUNNER_MODE === "main") fs.closeSync(fs.openSync(fifo, "r"));
    else fs.open(fifo, "r", (err, fd) => err == null && fs.close(fd, () => undefined));
});
await import(process.env.BLOCKING_RUNNER_ENTRY ?? "../../src/engine/runner/runnerMain.ts");
