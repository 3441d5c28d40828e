import {getLlama} from "node-llama-cpp";
const llama = await getLlama({gpu: false});
const model = await llama.loadModel({modelPath: "/work/wt/bench/models/chat-worker-0.5b.gguf", vocabOnly: true});
const words = ["the", "quick", "brown", "fox", "jumps", "über", "naïve", "日本語", "code();", "1234"];
let text = "";
while (text.length < 1_048_576) text += words[(text.length * 7) % words.length] + " ";
for (const n of [1, 2]) {
  const t = performance.now();
  const tokens = model.tokenize(text);
  console.log(JSON.stringify({run: n, chars: text.length, tokens: tokens.length, syncMs: Math.round(performance.now() - t)}));
}
// Heartbeat during a real (non-vocab) load: the main thread's longest gap while loading.
let worst = 0, last = performance.now();
const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; }, 10);
const t = performance.now();
const full = await llama.loadModel({modelPath: "/work/wt/bench/models/chat-worker-0.5b.gguf"});
const ctx = await full.createContext({contextSize: 2048});
console.log(JSON.stringify({loadAndContextMs: Math.round(performance.now() - t), longestMainThreadGapMs: Math.round(worst)}));
clearInterval(timer);
await ctx.dispose(); await full.dispose(); await model.dispose();
