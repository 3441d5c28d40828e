import OpenAI from "openai";
import {startTestWorker} from "./test/helpers/testWorker.js";
const server = await startTestWorker({MAX_TOKENS_LIMIT: "800"});
const client = new OpenAI({baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0});
const tools = [{type: "function" as const, function: {name: "get_weather", description: "Weather", parameters: {type: "object", properties: {city: {type: "string", maxLength: 12}, days: {type: "integer"}}, required: ["city", "days"], additionalProperties: false}}},
  {type: "function" as const, function: {name: "get_time", parameters: {type: "object", properties: {zone: {enum: ["UTC", "CET"]}}, required: ["zone"]}}}];
try {
  for (const tool_choice of ["required", {type: "function", function: {name: "get_time"}}, "auto", "none"] as any[]) {
    const r = await client.chat.completions.create({model: "m", messages: [{role: "user", content: "weather?"}], tools, tool_choice, max_tokens: 60, seed: 3});
    console.log(JSON.stringify(tool_choice), JSON.stringify(r.choices[0]), JSON.stringify(r.usage));
  }
  const s = client.chat.completions.stream({model: "m", messages: [{role: "user", content: "weather?"}], tools, tool_choice: "required", max_tokens: 60, seed: 4});
  const chunks: any[] = [];
  s.on("chunk", (c) => chunks.push(c));
  const final = await s.finalChatCompletion();
  console.log("stream chunks", chunks.length, JSON.stringify(chunks.slice(0, 4).map(c => c.choices)), "final", JSON.stringify(final.choices[0].message));
  const n3 = await client.chat.completions.create({model: "m", messages: [{role: "user", content: "hello ".repeat(30)}], n: 3, max_tokens: 8, seed: 5});
  console.log("n3", JSON.stringify(n3.choices.map(c => [c.index, c.message.content, c.finish_reason])), JSON.stringify(n3.usage));
  const n1 = await client.chat.completions.create({model: "m", messages: [{role: "user", content: "hello ".repeat(30)}], max_tokens: 8, seed: 5});
  console.log("n1", JSON.stringify(n1.choices[0].message.content), JSON.stringify(n1.usage));
  const c = await client.completions.create({model: "m", prompt: "Once upon a time", max_tokens: 8, seed: 1, echo: true});
  console.log("completion", JSON.stringify(c));
  const cs = await client.completions.create({model: "m", prompt: "Once upon a time", max_tokens: 6, seed: 1, stream: true, logprobs: 2, n: 2});
  for await (const ch of cs) console.log("cchunk", JSON.stringify(ch.choices));
  const hist = await client.chat.completions.create({model: "m", tools, messages: [{role: "user", content: "weather?"},
     {role: "assistant", content: null, tool_calls: [{id: "call_1", type: "function", function: {name: "get_weather", arguments: "{\"city\": \"Paris\", \"days\": 1}"}}]},
     {role: "tool", tool_call_id: "call_1", content: "sunny"}], max_tokens: 5});
  console.log("hist", JSON.stringify(hist.choices[0]));
  const tpl = await fetch(`${server.url}/apply-template`, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({tools, messages: [{role: "user", content: "weather?"},
     {role: "assistant", content: null, tool_calls: [{id: "call_1", type: "function", function: {name: "get_weather", arguments: "{\"city\": \"Paris\", \"days\": 1}"}}]},
     {role: "tool", tool_call_id: "call_1", content: "sunny"}]})});
  console.log((await tpl.json()).prompt.slice(-400));
} catch (e) { console.log("ERR", e); }
await server.close();
