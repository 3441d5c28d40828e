import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {postJson} from "../helpers/http.js";
import {checkGrammarComplexity, grammarWork, MAX_GRAMMAR_WORK, parseGbnf} from "../../src/engine/grammarComplexity.js";
import {checkSchemaBounds, MAX_SCHEMA_ALTERNATIVES, MAX_SCHEMA_DEPTH} from "../../src/service/schemaBounds.js";

/**
 * Issue 24, defects 2 and 3: a schema or grammar that would crash or wedge the runner is refused
 * in the HTTP process with a 400 naming the limit and the field, and the worker serves on.
 */

/** The probe's grammar: `aK ::= aK+1 aK+1 | "q"`, `levels` deep over a nullable `[a-z]*`. */
function doubling(levels: number): string {
    return ["root ::= a0", ...Array.from({length: levels}, (_, k) => `a${k} ::= a${k + 1} a${k + 1} | "q"`), `a${levels} ::= [a-z]*`].join("\n");
}

/** `{"type":"object","properties":{"a": ...},"required":["a"]}` nested `depth` times, written by hand. */
function nestedSchema(depth: number): string {
    return `${'{"type":"object","required":["a"],"properties":{"a":'.repeat(depth)}{"type":"string"}${"}}".repeat(depth)}`;
}

let server: TestWorker;
before(async () => {
    server = await startTestWorker({PARALLEL: "2", REQUEST_TIMEOUT_SECONDS: "10"});
});
after(() => server.close());

const completions = (body: string) => postJson(`${server.url}/v1/chat/completions`, body);
const messages = '"messages":[{"role":"user","content":"hi"}],"max_tokens":8';

async function assertStillServes(): Promise<void> {
    const answer = await postJson(`${server.url}/v1/chat/completions`, {messages: [{role: "user", content: "hi"}], max_tokens: 4});
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
}

test("defect 3: the 500-byte doubling grammar is refused at once, naming the limit, and the worker serves on", async () => {
    for (const path of ["/v1/chat/completions", "/v1/completions"]) {
        const started = Date.now();
        const body = path === "/v1/completions" ? {prompt: "hi", max_tokens: 20} : {messages: [{role: "user", content: "hi"}], max_tokens: 20};
        const answer = await postJson(`${server.url}${path}`, {...body, grammar: doubling(12)}, {}, );
        assert.equal(answer.status, 400, JSON.stringify(answer.json).slice(0, 300));
        assert.equal(answer.json.error.code, "grammar_too_complex");
        assert.equal(answer.json.error.param, "grammar");
        assert.match(answer.json.error.message, /MAX_GRAMMAR_WORK/);
        assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    }
    await assertStillServes();
});

test("defect 3: a grammar at 8 levels (16 s for 20 tokens before) is refused; 4 levels still runs", async () => {
    const slow = await postJson(`${server.url}/v1/chat/completions`, {messages: [{role: "user", content: "hi"}], max_tokens: 20, grammar: doubling(8)});
    assert.equal(slow.status, 400, JSON.stringify(slow.json).slice(0, 300));
    const fine = await postJson(`${server.url}/v1/chat/completions`, {messages: [{role: "user", content: "hi"}], max_tokens: 8, grammar: doubling(4)});
    assert.equal(fine.status, 200, JSON.stringify(fine.json).slice(0, 300));
});

test("defect 2: a schema nested 1,000 and 2,000 deep is refused with the limit and the field, and nothing crashes", async () => {
    for (const depth of [1000, 2000]) {
        const answer = await completions(`{${messages},"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":${nestedSchema(depth)}}}}`);
        assert.equal(answer.status, 400, JSON.stringify(answer.json).slice(0, 300));
        assert.equal(answer.json.error.code, "schema_too_large");
        assert.equal(answer.json.error.param, "response_format.json_schema.schema");
        assert.match(answer.json.error.message, /MAX_SCHEMA_DEPTH/);
    }
    const tool = await completions(`{${messages},"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}},` +
        `{"type":"function","function":{"name":"g","parameters":${nestedSchema(1000)}}}]}`);
    assert.equal(tool.status, 400, JSON.stringify(tool.json).slice(0, 300));
    assert.equal(tool.json.error.param, "tools[1].function.parameters");
    const huge = await postJson(`${server.url}/v1/chat/completions`, {
        messages: [{role: "user", content: "hi"}], max_tokens: 8,
        response_format: {type: "json_schema", json_schema: {name: "e", schema: {type: "string", enum: Array.from({length: 20000}, (_, i) => `v${i}`)}}}
    });
    assert.equal(huge.status, 400, JSON.stringify(huge.json).slice(0, 300));
    assert.match(huge.json.error.message, /MAX_SCHEMA_ALTERNATIVES/);
    const health = await fetch(`${server.url}/health`).then((response) => response.json()) as {running_sequences?: number};
    assert.equal(health.running_sequences ?? 0, 0);
    // A schema at the limit still runs.
    const fine = await completions(`{${messages},"response_format":{"type":"json_schema","json_schema":{"name":"ok","schema":${nestedSchema(8)}}}}`);
    assert.equal(fine.status, 200, JSON.stringify(fine.json).slice(0, 300));
});

test("grammar work: the probe's shapes against the limit, and node-llama-cpp's own grammars under it", () => {
    assert.ok(grammarWork(parseGbnf(doubling(5))) <= MAX_GRAMMAR_WORK);
    assert.ok(grammarWork(parseGbnf(doubling(6))) > MAX_GRAMMAR_WORK);
    const alternation = (n: number) => `root ::= ${Array.from({length: n}, (_, i) => `"v${i}"`).join(" | ")}`;
    assert.ok(grammarWork(parseGbnf(alternation(3000))) <= MAX_GRAMMAR_WORK);
    assert.throws(() => checkGrammarComplexity(alternation(20000), "grammar"), /MAX_GRAMMAR_(WORK|ELEMENTS)/);
    const json = String.raw`root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
# comment
ws ::= | " " | "\n" [ \t]{0,20}`;
    assert.ok(grammarWork(parseGbnf(json)) <= MAX_GRAMMAR_WORK);
});

test("grammar parsing: malformed grammars are refused with the field named", () => {
    for (const bad of ["root ::= undefined-rule", "root ::= \"open", "root ::= [a-", "root ::= (\"a\"", "rot ::= \"a\"", "root ::= \"a\"{2000}", "root ::= root \"a\""]) {
        assert.throws(() => checkGrammarComplexity(bad, "grammar"),
            (err: Error & {details?: {param?: string}}) => err.details?.param === "grammar", bad);
    }
    for (const good of ['root ::= "a"', 'root ::= "a" | "b"\n', 'root ::= ("a" | "b")+ [^x]? . <[12]> "\\x41\\u00e9"{2,3}', "root ::=\n  \"a\" |\n  \"b\"\n\n# done"])
        assert.doesNotThrow(() => checkGrammarComplexity(good, "grammar"), good);
});

test("schema bounds: depth, values and alternatives, walked without recursion", () => {
    assert.doesNotThrow(() => checkSchemaBounds(JSON.parse(nestedSchema(MAX_SCHEMA_DEPTH / 2 - 1)), "f"));
    assert.throws(() => checkSchemaBounds(JSON.parse(nestedSchema(MAX_SCHEMA_DEPTH / 2 + 1)), "f"), /f: is nested deeper/);
    assert.throws(() => checkSchemaBounds(JSON.parse(nestedSchema(100_000)), "f"), /MAX_SCHEMA_DEPTH/);
    assert.throws(() => checkSchemaBounds({anyOf: Array.from({length: MAX_SCHEMA_ALTERNATIVES + 1}, () => ({type: "null"}))}, "f"), /MAX_SCHEMA_ALTERNATIVES/);
    assert.throws(() => checkSchemaBounds({type: "object", properties: Object.fromEntries(Array.from({length: 20000}, (_, i) => [`p${i}`, true]))}, "f"), /MAX_SCHEMA_VALUES/);
});

test("defect 12: 17 stop strings are refused naming the count, not as \"must be string\"", async () => {
    const answer = await postJson(`${server.url}/v1/chat/completions`, {
        messages: [{role: "user", content: "hi"}], max_tokens: 4, stop: Array.from({length: 17}, (_, i) => `s${i}`)
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error.param, "stop");
    assert.doesNotMatch(answer.json.error.message, /must be string/);
    assert.match(answer.json.error.message, /16/);
});

test("defect 12: an SSE answer honours Connection: close (the socket ends with the stream)", async () => {
    const {hostname, port} = new URL(server.url);
    const body = JSON.stringify({messages: [{role: "user", content: "hi"}], max_tokens: 4, stream: true});
    const socket = net.connect(Number(port), hostname);
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    let received = "";
    socket.on("data", (chunk: Buffer) => received += chunk.toString());
    // The server ends the connection once the stream is done; before, it held it open for the keep-alive timeout.
    const ended = await Promise.race([
        new Promise<boolean>((resolve) => socket.once("end", () => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref())
    ]);
    socket.destroy();
    assert.match(received, /data: \[DONE\]/);
    assert.doesNotMatch(received, /connection: keep-alive/i);
    assert.ok(ended, "the socket stayed open after the stream ended");
});
