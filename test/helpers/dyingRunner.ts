/**
 * A model runner entry for tests: while the file DYING_RUNNER_COUNT names holds a count above 0,
 * the runner counts it down and kills itself (SIGKILL, as the OOM killer would) before its ready
 * handshake; then it is the real runner (DYING_RUNNER_ENTRY, default the TypeScript one).
 */
import fs from "node:fs";

const countFile = process.env.DYING_RUNNER_COUNT;
if (countFile != null) {
    const left = Number(fs.readFileSync(countFile, "utf8"));
    if (left > 0) {
        fs.writeFileSync(countFile, String(left - 1));
        process.kill(process.pid, "SIGKILL");
    }
}
await import(process.env.DYING_RUNNER_ENTRY ?? "../../src/engine/runner/runnerMain.ts");
