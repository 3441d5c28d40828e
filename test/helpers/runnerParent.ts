/**
 * A stand-in parent for a model runner (tests of defect 5, orphans): forks the runner entry given
 * as its argument (test/helpers/blockingRunner.ts), waits for its ready handshake, blocks it
 * (SIGUSR2), and once it is blocked prints its pid and waits to be killed.
 */
import fs from "node:fs";
import {fork} from "node:child_process";

const entry = process.argv[2];
const child = fork(entry, [], {execArgv: entry.endsWith(".ts") ? ["--import", "tsx"] : [], stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced"});
child.on("message", (message: {type: string}) => {
    if (message.type !== "ready") return;
    child.kill("SIGUSR2");
    const marker = `${process.env.BLOCKING_RUNNER_FIFO}.blocked`;
    const check = setInterval(() => {
        if (!fs.existsSync(marker)) return;
        clearInterval(check);
        process.stdout.write(`${child.pid}\n`);
    }, 20);
});
