/**
 * Writes a deterministic synthetic Qwen2-architecture GGUF model.
 *
 *   npm run make-model -- --preset <tiny|bench|7b> --out <file.gguf> [--seed N] [--split N]
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import {
    DEFAULT_SYNTHETIC_SEED, MODEL_PRESETS, describeSyntheticModel, writeSyntheticModel, type ModelPreset
} from "../testmodel/syntheticModel.js";

const usage = (): string => `Usage: npm run make-model -- --preset <${MODEL_PRESETS.join("|")}> --out <file.gguf> [--seed N] [--split N]

Writes a deterministic synthetic Qwen2-architecture GGUF model (same preset + seed => identical bytes).

Options:
  --preset <name>  ${MODEL_PRESETS.map((p) => {
        const d = describeSyntheticModel(p);
        return `${p}: ${(d.parameters / 1e6).toFixed(d.parameters < 1e6 ? 2 : 1)}M params, ${formatBytes(d.bytes)}`;
    }).join("; ")}
  --out <file>     output path (parent directories are created; written atomically)
  --seed <N>       integer in [0, 4294967295] (default ${DEFAULT_SYNTHETIC_SEED})
  --split <N>      write N shards in llama.cpp's split format instead of one file:
                   <file>-00001-of-0000N.gguf ... (MODEL_PATH names the first)
  --quiet          no progress output
  -h, --help       show this help
`;

class UsageError extends Error {}

function formatBytes(bytes: number): string {
    if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
    if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
    return `${(bytes / 1024).toFixed(1)} KiB`;
}

export interface MakeModelArgs {
    preset: ModelPreset;
    out: string;
    seed: number;
    /** Shards to write; null: one file. */
    split: number | null;
    quiet: boolean;
}

export function parseMakeModelArgs(argv: readonly string[]): MakeModelArgs | "help" {
    let values;
    try {
        ({ values } = parseArgs({
            args: [...argv],
            options: {
                preset: { type: "string" },
                out: { type: "string" },
                seed: { type: "string" },
                split: { type: "string" },
                quiet: { type: "boolean", default: false },
                help: { type: "boolean", short: "h", default: false }
            },
            strict: true,
            allowPositionals: false
        }));
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    if (values.help) return "help";

    const preset = values.preset;
    if (preset == null) throw new UsageError("missing --preset");
    if (!(MODEL_PRESETS as readonly string[]).includes(preset))
        throw new UsageError(`unknown preset "${preset}" (expected one of ${MODEL_PRESETS.join(", ")})`);
    if (values.out == null || values.out === "") throw new UsageError("missing --out");

    let seed = DEFAULT_SYNTHETIC_SEED;
    if (values.seed != null) {
        if (!/^\d+$/.test(values.seed) || Number(values.seed) > 0xffffffff)
            throw new UsageError(`--seed must be an integer in [0, 4294967295], got "${values.seed}"`);
        seed = Number(values.seed);
    }
    let split: number | null = null;
    if (values.split != null) {
        if (!/^\d+$/.test(values.split) || Number(values.split) < 2 || Number(values.split) > 65535)
            throw new UsageError(`--split must be an integer in [2, 65535], got "${values.split}"`);
        split = Number(values.split);
    }
    return { preset: preset as ModelPreset, out: values.out, seed, split, quiet: values.quiet === true };
}

export async function main(argv: readonly string[]): Promise<number> {
    let args: MakeModelArgs | "help";
    try {
        args = parseMakeModelArgs(argv);
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(`error: ${err.message}\n\n${usage()}`);
            return 2;
        }
        throw err;
    }
    if (args === "help") {
        process.stdout.write(usage());
        return 0;
    }

    const started = Date.now();
    let lastReport = 0;
    const showProgress = !args.quiet && process.stderr.isTTY === true;
    const result = await writeSyntheticModel({
        preset: args.preset,
        out: args.out,
        seed: args.seed,
        split: args.split ?? undefined,
        onProgress: args.quiet ? undefined : (written, total) => {
            const now = Date.now();
            if (now - lastReport < 1000 && written < total) return;
            lastReport = now;
            const line = `writing ${args.preset}: ${((100 * written) / total).toFixed(1)}% (${formatBytes(written)} / ${formatBytes(total)})`;
            if (showProgress) process.stderr.write(`\r${line}`);
            else if (total > 256 * 1024 ** 2) process.stderr.write(`${line}\n`);
        }
    });
    if (showProgress) process.stderr.write("\n");
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(
        result.paths.map((file) => `path: ${file}\n`).join("") +
        `bytes: ${result.bytes} (${formatBytes(result.bytes)})\n` +
        `parameters: ${result.parameters}\n` +
        `preset: ${args.preset}, seed: ${args.seed}, took ${seconds.toFixed(1)}s\n`
    );
    return 0;
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
    main(process.argv.slice(2)).then(
        (code) => { process.exitCode = code; },
        (err: unknown) => {
            process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 1;
        }
    );
}
