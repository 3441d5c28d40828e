import {parseArgs} from "node:util";

/** The models `npm run bench` can run, each a make-model preset written to models/ on first use. */
export const BENCH_MODELS = ["bench", "0.5b"] as const;
export type BenchModel = typeof BENCH_MODELS[number];

/** Tokens per stream when --tokens is not given: the 0.5B shape decodes ~10x slower, so it gets fewer. */
export const DEFAULT_TOKENS: Readonly<Record<BenchModel, number>> = Object.freeze({bench: 256, "0.5b": 128});

export interface BenchOptions {
    models: BenchModel[];
    reps: number;
    /** null: DEFAULT_TOKENS for each model. */
    tokens: number | null;
    /** Base name of the results files under bench/results/. */
    out: string;
    writeDocs: boolean;
}

export const BENCH_USAGE = `Usage: npm run bench -- [--model bench|0.5b|all] [--reps N] [--tokens N] [--out NAME] [--write-docs]

Runs chat-worker and llama-server (built from node-llama-cpp's llama.cpp source, on node-llama-cpp's
own CPU kernels) side by side, alternating within each rep, each measurement starting once both are
idle, and reports min / median / max per row: throughput at 1, 2, 4 and 8 streams; turn-10 time to
first token warm (sent at once), warm after a reading pause, restored and cold; resident memory at 8
busy streams.

Options:
  --model <name>  bench (synthetic, 25M parameters), 0.5b (Qwen2.5-0.5B's shapes, 670 MB) or all (default all)
  --reps <N>      repetitions of every row, each alternating the two servers (default 5)
  --tokens <N>    tokens per stream in the throughput rows (default: bench ${DEFAULT_TOKENS.bench}, 0.5b ${DEFAULT_TOKENS["0.5b"]})
  --out <name>    results file name: bench/results/<name>.json and .md (default latest)
  --write-docs    also regenerate the docs from the results (npm run docs); without it no doc is touched
  -h, --help      show this help

The first run builds llama-server into .llama-src/ (tens of minutes on 2 cores; cached).
`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions | "help" {
    const {values} = parseArgs({
        args: [...argv], strict: true, allowPositionals: false,
        options: {
            model: {type: "string", default: "all"}, reps: {type: "string", default: "5"}, tokens: {type: "string"},
            out: {type: "string", default: "latest"}, "write-docs": {type: "boolean", default: false}, help: {type: "boolean", short: "h", default: false}
        }
    });
    if (values.help) return "help";
    const model = values.model;
    if (model !== "all" && !(BENCH_MODELS as readonly string[]).includes(model))
        throw new Error(`--model must be one of ${[...BENCH_MODELS, "all"].join(", ")}, got "${model}"`);
    const positive = (name: string, text: string) => {
        if (!/^[1-9]\d*$/.test(text)) throw new Error(`--${name} must be a positive integer, got "${text}"`);
        return Number(text);
    };
    if (!/^[\w.-]+$/.test(values.out)) throw new Error(`--out must be a plain file name, got "${values.out}"`);
    return {
        models: model === "all" ? [...BENCH_MODELS] : [model as BenchModel],
        reps: positive("reps", values.reps),
        tokens: values.tokens == null ? null : positive("tokens", values.tokens),
        out: values.out,
        writeDocs: values["write-docs"]
    };
}
