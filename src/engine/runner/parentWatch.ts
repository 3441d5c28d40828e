import {Worker} from "node:worker_threads";

/**
 * Kills this process (SIGKILL) once its parent is gone, checked every second from a worker
 * thread: the main thread may be blocked in a synchronous native call, and a wedged libuv pool
 * thread keeps a busy runner from ever exiting by itself, so an orphaned runner would hold its
 * CPU, RAM and GPU for good. On Linux an orphan is re-parented (to init or a subreaper): its
 * parent id changes. The thread is unref'd: it never keeps the runner alive.
 */
export function dieWithParent(): void {
    const watcher = new Worker(`
        const {workerData} = require("node:worker_threads");
        setInterval(() => {
            if (process.ppid !== workerData.parent) process.kill(workerData.self, "SIGKILL");
        }, 1000);
    `, {eval: true, workerData: {parent: process.ppid, self: process.pid}, resourceLimits: {maxOldGenerationSizeMb: 8}});
    // A watcher that failed to start costs the orphan check, never the runner.
    watcher.on("error", () => undefined);
    watcher.unref();
}
