/**
 * `npm run bench:determinism`: how often an answer changes with the conversation cache or with
 * batching, with DETERMINISTIC=false (llama.cpp's defaults) and DETERMINISTIC=true, side by side in
 * one run. Counts identical answers (text and per-token logprobs) out of >= 100 seeded requests each:
 * - cache: 10 conversations x 5 turns x 2 samplings, a restart before the last turn, on a worker with 2 sequences (warm
 *   prefixes and spilled/restored states) vs a worker without any cache;
 * - batch: 8 requests of different lengths, each alone and then all 8 at once, 7 rounds x 2 samplings.
 * Writes bench/results/determinism.json and determinism.md, and docs/determinism.md's table only with --write-docs.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {writeSyntheticModel, type ModelPreset} from "../src/testmodel/syntheticModel.js";
import {startWorker, type RunningServer} from "./lib/servers.js";
import {updateReadme} from "./lib/report.js";

const THREADS = 1;
const log = (line: string) => process.stderr.write(`[determinism] ${line}\n`);

interface Answer {
    text: string;
    logprobs: string;
}

async function ask(url: string, body: Record<string, unknown>): Promise<Answer> {
    const response = await fetch(`${url}/chat`, {
        method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({logprobs: true, ...body})
    });
    const json = await response.json() as {response: string; logprobs: {content: Array<{token: string; logprob: number}>}};
    if (response.status !== 200) throw new Error(`${response.status}: ${JSON.stringify(json)}`);
    return {text: json.response, logprobs: JSON.stringify(json.logprobs.content.map((entry) => [entry.token, entry.logprob]))};
}

interface Tally {
    requests: number;
    sameText: number;
    sameLogprobs: number;
}

const tally = (): Tally => ({requests: 0, sameText: 0, sameLogprobs: 0});
function count(into: Tally, a: Answer, b: Answer): void {
    into.requests++;
    if (a.text === b.text) into.sameText++;
    if (a.logprobs === b.logprobs) into.sameLogprobs++;
}

const SAMPLINGS = [{temperature: 0}, {temperature: 0.9}];

async function cacheRun(modelPath: string, deterministic: string): Promise<Tally> {
    const result = tally();
    const env = {DETERMINISTIC: deterministic};
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-determinism-"));
    const fresh = await startWorker({modelPath, parallel: 1, threads: THREADS, contextSize: 2048, stateDir: path.join(base, "fresh"),
        extraEnv: {...env, CONVERSATION_CACHE: "false", CONVERSATION_CACHE_MAX_BYTES: "0"}});
    let cached: RunningServer | null = null;
    try {
        for (const [samplingIndex, sampling] of SAMPLINGS.entries()) {
            const histories: Array<Array<{sender: string; content: string}>> = Array.from({length: 10}, () => []);
            for (let turn = 0; turn < 5; turn++) {
                // A restart before the last turn: its prefixes come back from the conversation cache folder.
                if (cached == null || turn === 4) {
                    await cached?.stop();
                    cached = await startWorker({modelPath, parallel: 2, threads: THREADS, contextSize: 2048, stateDir: path.join(base, "cached"), extraEnv: env});
                }
                const bodies = histories.map((history, conversation) => ({
                    message: `conversation ${conversation} turn ${turn}: ${"abcdefgh".repeat(conversation + 2)}`,
                    system_prompt: "You are a terse assistant.", conversation_id: `c${samplingIndex}-${conversation}`,
                    conversation_history: history, max_tokens: 32, seed: 100 * turn + conversation, ...sampling
                }));
                const answers = await Promise.all(bodies.map((body) => ask(cached!.baseUrl, body)));
                for (const [conversation, answer] of answers.entries()) {
                    count(result, answer, await ask(fresh.baseUrl, bodies[conversation]));
                    histories[conversation].push({sender: "user", content: bodies[conversation].message}, {sender: "assistant", content: answer.text});
                }
            }
        }
    } finally {
        await cached?.stop();
        await fresh.stop();
        fs.rmSync(base, {recursive: true, force: true});
    }
    return result;
}

async function batchRun(modelPath: string, deterministic: string): Promise<Tally> {
    const result = tally();
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-determinism-"));
    const worker = await startWorker({modelPath, parallel: 8, threads: THREADS, contextSize: 1024, stateDir: base,
        extraEnv: {DETERMINISTIC: deterministic, CONVERSATION_CACHE: "false", CONVERSATION_CACHE_MAX_BYTES: "0"}});
    try {
        for (const sampling of SAMPLINGS)
            for (let round = 0; round < 7; round++) {
                const bodies = Array.from({length: 8}, (_, index) => ({
                    message: `round ${round} request ${index}: ${"the quick brown fox ".repeat(1 + index * 3 + round)}`,
                    max_tokens: 16 + index * 4, seed: 1000 * round + index, ...sampling
                }));
                const alone: Answer[] = [];
                for (const body of bodies) alone.push(await ask(worker.baseUrl, body));
                const together = await Promise.all(bodies.map((body) => ask(worker.baseUrl, body)));
                together.forEach((answer, index) => count(result, answer, alone[index]));
            }
    } finally {
        await worker.stop();
        fs.rmSync(base, {recursive: true, force: true});
    }
    return result;
}

async function main(): Promise<void> {
    const models: Array<{name: string; path: string}> = [];
    for (const preset of ["tiny", "bench"] as ModelPreset[]) {
        const file = path.resolve(`models/chat-worker-${preset}.gguf`);
        if (!fs.existsSync(file)) await writeSyntheticModel({preset, out: file});
        models.push({name: `synthetic ${preset}`, path: file});
    }
    const stories = path.resolve("test/fixtures/stories260K.gguf");
    if (fs.existsSync(stories)) models.push({name: "stories260K", path: stories});
    const rows: Array<{model: string; check: string; deterministic: string; tally: Tally}> = [];
    for (const model of models)
        for (const deterministic of ["false", "true"]) {
            log(`${model.name}, DETERMINISTIC=${deterministic}: cache on vs off`);
            rows.push({model: model.name, check: "cache on vs off", deterministic, tally: await cacheRun(model.path, deterministic)});
            log(`${model.name}, DETERMINISTIC=${deterministic}: alone vs among 8`);
            rows.push({model: model.name, check: "alone vs among 8", deterministic, tally: await batchRun(model.path, deterministic)});
        }
    const machine = `${os.cpus()[0]?.model ?? "unknown"}, ${os.availableParallelism()} cores, ${os.platform()} ${os.release()}, Node ${process.version}`;
    const date = new Date().toISOString();
    const lines = [
        `Machine: ${machine}. Run ${date.slice(0, 16).replace("T", " ")} UTC. Seeded requests (greedy and temperature 0.9), ${THREADS} thread.`,
        "",
        "| Model | Check | DETERMINISTIC | Requests | Same text | Same logprobs |",
        "| --- | --- | --- | ---: | ---: | ---: |",
        ...rows.map(({model, check, deterministic, tally: t}) =>
            `| ${model} | ${check} | ${deterministic} | ${t.requests} | ${t.sameText} (${(100 * t.sameText / t.requests).toFixed(0)}%) | ` +
            `${t.sameLogprobs} (${(100 * t.sameLogprobs / t.requests).toFixed(0)}%) |`)
    ];
    fs.mkdirSync("bench/results", {recursive: true});
    fs.writeFileSync("bench/results/determinism.json", `${JSON.stringify({date, machine, rows}, null, 2)}\n`);
    fs.writeFileSync("bench/results/determinism.md", `${lines.join("\n")}\n`);
    // The docs only on request: a run on a noisy machine must not rewrite the published figures.
    if (process.argv.includes("--write-docs")) updateReadme("docs/determinism.md", `${lines.join("\n")}\n`, "determinism");
    process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
});
