import {z} from "zod";
import {startTestWorker} from "./test/helpers/testWorker.js";
import {postJson} from "./test/helpers/http.js";
import {ZOD_CLIENT_CASES} from "./test/helpers/zodClientCases.js";
const server = await startTestWorker({MAX_TOKENS_LIMIT: "800", CONTEXT_SIZE: "2048"});
try {
for (const c of ZOD_CLIENT_CASES) for (const target of ["draft-2020-12", "draft-7"] as const) {
  const schema = z.toJSONSchema(c.schema, {target});
  const out: string[] = [];
  for (const seed of [1, 2, 3]) {
    const t0 = Date.now();
    const r = await postJson(`${server.url}/v1/chat/completions`, {messages: [{role: "user", content: "JSON"}], seed, max_tokens: 300,
      response_format: {type: "json_schema", json_schema: {name: "x", schema, strict: true}}});
    if (r.status !== 200) { out.push(`${r.status} ${JSON.stringify(r.json.error?.message)}`); break; }
    const ch = r.json.choices[0];
    const parsed = ch.finish_reason === "stop" ? c.schema.safeParse(JSON.parse(ch.message.content)).success : "-";
    out.push(`${ch.finish_reason}/${r.json.usage.completion_tokens}/${parsed}/${Date.now()-t0}ms ${ch.message.content.slice(0,60)}`);
  }
  console.log(c.name, target, "\n   " + out.join("\n   "));
}
} finally { await server.close(); }
