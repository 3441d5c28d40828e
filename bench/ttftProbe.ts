/**
 * Turn-10 time to first token of a warm conversation, played through a real worker (runner process,
 * HTTP) on a synthetic model: each rep is a new 10-turn conversation that sends the real replies
 * back, with a pause between turns for the user to read. Prints min / median / max over the reps.
 *
 *   npx tsx bench/ttftProbe.ts [--model tiny|bench] [--reps 7] [--read-ms 300] [--tokens 24] [--env NAME=VALUE ...]
 */
import {parseArgs} from "node:util";
import {startTestWorker, testModelPath} from "../test/helpers/testWorker.js";
import {conversation} from "./lib/conversations.js";
import {streamChat, type Sampling} from "./lib/streamClient.js";
import type {ModelPreset} from "../src/testmodel/syntheticModel.js";

const {values} = parseArgs({options: {
    model: {type: "string", default: "bench"},
    reps: {type: "string", default: "7"},
    "read-ms": {type: "string", default: "300"},
    tokens: {type: "string", default: "24"},
    env: {type: "string", multiple: true, default: []}
}});
const SAMPLING: Sampling = {temperature: 0.7, topK: 40, topP: 0.9, minP: 0, repeatPenalty: 1.1, seed: 42};
const reps = Number(values.reps);
const readMs = Number(values["read-ms"]);
const tokens = Number(values.tokens);
const env = Object.fromEntries(values.env.map((pair) => pair.split("=", 2) as [string, string]));

const worker = await startTestWorker({MODEL_PATH: await testModelPath(values.model as ModelPreset), CONTEXT_SIZE: "4096", ...env});
const ttft: number[] = [];
try {
    for (let rep = 0; rep < reps; rep++) {
        const id = `probe-${rep}-${Date.now()}`;
        let reply: string | null = null;
        for (let turn = 1; turn <= 10; turn++) {
            const timing = await streamChat("chat-worker", worker.url, conversation(id, turn, reply), tokens, SAMPLING, {conversation_id: id});
            reply = timing.text;
            if (turn === 10) ttft.push(timing.ttft * 1000);
            // The user reads the answer before typing the next turn.
            else await new Promise((resolve) => setTimeout(resolve, readMs));
        }
    }
} finally {
    await worker.close();
}
const sorted = [...ttft].sort((a, b) => a - b);
const ms = (value: number) => `${value.toFixed(1)} ms`;
console.log(JSON.stringify({model: values.model, reps, readMs, tokens, env, ttftMs: ttft.map((value) => Number(value.toFixed(1)))}));
console.log(`turn-10 TTFT: min ${ms(sorted[0])}, median ${ms(sorted[Math.floor(sorted.length / 2)])}, max ${ms(sorted.at(-1)!)}`);
