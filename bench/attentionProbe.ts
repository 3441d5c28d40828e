/**
 * `npx tsx bench/attentionProbe.ts <model.gguf> [--tokens N] [--threads T]`: can DETERMINISTIC keep
 * flash attention on? For each attention setup (flash attention off with an F16 KV cache, as
 * DETERMINISTIC runs now; on with F16; on with a Q8_0 KV cache) it checks whether a sequence's next
 * tokens and their probabilities come out bit-identical however the earlier tokens were evaluated:
 * as one prompt, with the last 40 as single generation steps, in pieces of 7, or beside another
 * sequence generating. Then it times a cold prompt, 16-token pieces and single steps. Issue 23,
 * "What to do" 2; the findings are in docs/decisions/determinism.md.
 */
import {getLlama, type LlamaContextOptions, type LlamaContextSequence, type LlamaModel, type Token} from "node-llama-cpp";

const args = process.argv.slice(2);
const modelPath = args.find((arg) => !arg.startsWith("--"));
const option = (name: string, fallback: number) => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? Number(args[at + 1]) : fallback;
};
if (modelPath == null) {
    process.stderr.write("usage: npx tsx bench/attentionProbe.ts <model.gguf> [--tokens N] [--threads T]\n");
    process.exit(2);
}
const N = option("tokens", 700), threads = option("threads", 1);

const SETUPS: Record<string, Partial<LlamaContextOptions>> = {
    "flash attention off, F16 KV (DETERMINISTIC today)": {flashAttention: false},
    "flash attention on, F16 KV": {flashAttention: true},
    "flash attention on, Q8_0 KV": {flashAttention: true, experimentalKvCacheKeyType: "Q8_0", experimentalKvCacheValueType: "Q8_0"}
};

type Trace = Array<[Token, number[]]>;

async function generate(sequence: LlamaContextSequence, input: Token[], count: number): Promise<Trace> {
    const trace: Trace = [];
    for await (const result of sequence.evaluateWithMetadata(input, {probabilities: true}, {temperature: 0})) {
        trace.push([result.token, [...result.probabilities.values()].slice(0, 3)]);
        if (trace.length >= count) break;
    }
    return trace;
}

async function probe(model: LlamaModel, setup: Partial<LlamaContextOptions>, prompt: Token[]): Promise<void> {
    const open = () => model.createContext({sequences: 2, contextSize: Math.max(2048, N + 256), batchSize: 512, threads, ...setup});
    const head = prompt.slice(0, N - 2), tail = prompt.slice(N - 2);
    const ways: Record<string, (sequence: LlamaContextSequence, other: LlamaContextSequence) => Promise<Trace>> = {
        "one prompt": async (sequence) => {
            await sequence.evaluateWithoutGeneratingNewTokens(head);
            return generate(sequence, tail, 12);
        },
        "last 40 as steps": async (sequence) => {
            await sequence.evaluateWithoutGeneratingNewTokens(head.slice(0, -40));
            for (const token of head.slice(-40)) await sequence.evaluateWithoutGeneratingNewTokens([token]);
            return generate(sequence, tail, 12);
        },
        "pieces of 7": async (sequence) => {
            for (let i = 0; i < head.length; i += 7) await sequence.evaluateWithoutGeneratingNewTokens(head.slice(i, i + 7));
            return generate(sequence, tail, 12);
        },
        "beside another sequence": async (sequence, other) => {
            await other.evaluateWithoutGeneratingNewTokens(head.slice(0, 300).reverse());
            await sequence.evaluateWithoutGeneratingNewTokens(head);
            return (await Promise.all([generate(sequence, tail, 12), generate(other, prompt.slice(0, 5), 12)]))[0];
        }
    };
    const traces: Record<string, string> = {};
    for (const [way, run] of Object.entries(ways)) {
        const context = await open();
        traces[way] = JSON.stringify(await run(context.getSequence(), context.getSequence()));
        await context.dispose();
    }
    const reference = traces["one prompt"];
    for (const way of Object.keys(ways).slice(1))
        process.stdout.write(`  ${way}: ${traces[way] === reference ? "bit-identical" : "DIFFERS"}\n`);

    const context = await open();
    const sequence = context.getSequence();
    let started = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    const promptMs = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < 48; i += 16) await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(i, i + 16));
    const piecesMs = performance.now() - started;
    started = performance.now();
    for (let i = 0; i < 24; i++) await sequence.evaluateWithoutGeneratingNewTokens([prompt[i]]);
    const stepMs = (performance.now() - started) / 24;
    await context.dispose();
    process.stdout.write(`  time: ${N}-token cold prompt ${promptMs.toFixed(0)} ms, 3 pieces of 16 ${piecesMs.toFixed(0)} ms, a step ${stepMs.toFixed(1)} ms\n`);
}

async function main(): Promise<void> {
    const llama = await getLlama({gpu: false});
    const model = await llama.loadModel({modelPath: modelPath!});
    const sentence = model.tokenize("The quick brown fox jumps over the lazy dog while the river runs under an old bridge. ");
    const prompt: Token[] = [];
    while (prompt.length < N) prompt.push(...sentence);
    prompt.length = N;
    process.stdout.write(`${modelPath}: ${N} tokens, ${threads} thread(s)\n`);
    for (const [name, setup] of Object.entries(SETUPS)) {
        process.stdout.write(`${name}\n`);
        try {
            await probe(model, setup, prompt);
        } catch (err) {
            process.stdout.write(`  not available: ${(err as Error).message}\n`);
        }
    }
    await model.dispose();
    await llama.dispose();
}

void main();
