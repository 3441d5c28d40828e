import {execFile} from "node:child_process";

/** How long a reading is reused: /health may be polled often, and each reading spawns a process. */
const CACHE_MS = 2000;
/** After nvidia-smi was found missing or failing, how long before trying again. */
const RETRY_MS = 60_000;

/**
 * GPU utilization in percent from `nvidia-smi`, or null where there is none (no NVIDIA GPU, no
 * driver tools, or an answer we cannot read). Never throws.
 */
export class GpuUtilization {
    private cached: {value: number | null; at: number} | null = null;
    private pending: Promise<number | null> | null = null;

    constructor(private readonly command = "nvidia-smi", private readonly timeoutMs = 2000) {}

    read(): Promise<number | null> {
        const now = performance.now();
        if (this.cached != null && now - this.cached.at < (this.cached.value == null ? RETRY_MS : CACHE_MS))
            return Promise.resolve(this.cached.value);
        this.pending ??= this.query().then((value) => {
            this.cached = {value, at: performance.now()};
            this.pending = null;
            return value;
        });
        return this.pending;
    }

    private query(): Promise<number | null> {
        const args = ["--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"];
        // The first GPU this process can see: CUDA_VISIBLE_DEVICES=3 means nvidia-smi's GPU 3.
        const visible = process.env.CUDA_VISIBLE_DEVICES?.split(",")[0]?.trim();
        if (visible != null && /^\d+$/.test(visible))
            args.push(`--id=${visible}`);
        return new Promise((resolve) => {
            execFile(this.command, args, {timeout: this.timeoutMs, windowsHide: true}, (err, stdout) => {
                if (err != null)
                    return resolve(null);
                const value = Number(String(stdout).split("\n")[0]?.trim());
                resolve(Number.isFinite(value) && value >= 0 && value <= 100 ? value : null);
            });
        });
    }
}
