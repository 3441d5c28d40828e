import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {execFileSync} from "node:child_process";
import {StateStore, type StateDiscardReason} from "../../src/engine/llama/stateStore.js";
import {captureLogs} from "../helpers/logs.js";
import {FakeSequence} from "../helpers/fakeSequence.js";

/**
 * The conversation cache folder as an attacker (or a careless copy) leaves it: special files where states
 * should be, and states another model wrote. Nothing in it may be read forever, block the runner,
 * or be loaded into the wrong model.
 */

const tokens = Array.from({length: 50}, (_, index) => index + 1);
const SECRET = "conversation-with-a-secret-id";

/** Settles within `ms` or says it hung (a read of /dev/zero or a FIFO never settles). */
function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout;
    return Promise.race([promise, new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    })]).finally(() => clearTimeout(timer));
}

/** A store in a fresh folder named like the engine names it (after the model identity), holding one saved state. */
async function storeWithOneState(identity = "0123456789abcdef01234567") {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-state-files-")), identity);
    const logs = captureLogs();
    const discarded: StateDiscardReason[] = [];
    const store = new StateStore(dir, 10_000_000, logs.logger, (reason) => discarded.push(reason));
    await store.open();
    const sequence = new FakeSequence();
    sequence.contextTokens = tokens;
    await store.save(sequence, SECRET);
    assert.equal(store.size, 1);
    const stateFile = path.join(dir, fs.readdirSync(dir).find((name) => name.endsWith(".state"))!);
    return {dir, store, logs, discarded, stateFile, entry: store.find(tokens, SECRET)!};
}

test("a .state replaced by a symlink to /dev/zero is discarded, not read forever", async () => {
    const {store, discarded, stateFile, entry, logs} = await storeWithOneState();
    fs.rmSync(stateFile);
    fs.symlinkSync("/dev/zero", stateFile);
    const sequence = new FakeSequence();
    assert.equal(await settlesWithin(store.restore(sequence, entry), 5000, "restoring a state symlinked to /dev/zero"), false);
    assert.deepEqual(sequence.contextTokens, []);
    assert.deepEqual(discarded, ["missing"]);
    assert.equal(store.size, 0);
    assert.ok(!fs.existsSync(stateFile), "the symlink is removed");
    assert.ok(logs.records().some((record) => record.msg === "discarded a stored sequence state"));
    assert.ok(!logs.lines.join("\n").includes(SECRET), "no conversation id in the log");
});

test("a .state replaced by a FIFO is discarded without blocking the runner's file reads", async () => {
    const {store, discarded, stateFile, entry} = await storeWithOneState();
    fs.rmSync(stateFile);
    execFileSync("mkfifo", [stateFile]);
    assert.equal(await settlesWithin(store.restore(new FakeSequence(), entry), 5000, "restoring a state that is a FIFO"), false);
    assert.deepEqual(discarded, ["missing"]);
    assert.ok(!fs.existsSync(stateFile), "the FIFO is removed");
});

test("a .state of another size than its sidecar records is discarded before it is read", async () => {
    const {store, discarded, stateFile, entry} = await storeWithOneState();
    fs.appendFileSync(stateFile, Buffer.alloc(64 * 1024 * 1024));
    assert.equal(await store.restore(new FakeSequence(), entry), false);
    assert.deepEqual(discarded, ["checksum"]);
});

test("on open: FIFOs and symlinks, as states or as sidecars, are dropped and do not block", async () => {
    const {dir} = await storeWithOneState();
    const [json] = fs.readdirSync(dir).filter((name) => name.endsWith(".json"));
    const id = json.slice(0, -5);
    // Another entry whose sidecar is a FIFO, and a third whose state is a symlink to /dev/zero.
    execFileSync("mkfifo", [path.join(dir, "fifo-entry.json")]);
    fs.copyFileSync(path.join(dir, json), path.join(dir, "linked.json"));
    fs.symlinkSync("/dev/zero", path.join(dir, "linked.state"));
    const store = new StateStore(dir, 10_000_000, captureLogs().logger);
    await settlesWithin(store.open(), 5000, "opening a folder with a FIFO sidecar");
    assert.equal(store.size, 1, "only the regular entry is kept");
    assert.deepEqual(fs.readdirSync(dir).sort(), [`${id}.json`, `${id}.state`]);
});

test("states another model wrote (copied into this model's folder) are not restored", async () => {
    const other = await storeWithOneState("aaaaaaaaaaaaaaaaaaaaaaaa");
    const mine = path.join(path.dirname(other.dir), "bbbbbbbbbbbbbbbbbbbbbbbb");
    fs.cpSync(other.dir, mine, {recursive: true});
    const store = new StateStore(mine, 10_000_000, captureLogs().logger);
    await store.open();
    assert.equal(store.size, 0, "a sidecar naming another model is dropped");
    assert.equal(store.find(tokens, SECRET), null);
    assert.deepEqual(fs.readdirSync(mine), [], "its files are removed");
    // The folder it came from still trusts it.
    const own = new StateStore(other.dir, 10_000_000, captureLogs().logger);
    await own.open();
    assert.equal(own.size, 1);
});

test("sidecars of the previous format (no model identity) are dropped, not trusted", async () => {
    const {dir, entry} = await storeWithOneState();
    const sidecar = path.join(dir, `${entry.id}.json`);
    const {model: _model, ...old} = JSON.parse(fs.readFileSync(sidecar, "utf8"));
    fs.writeFileSync(sidecar, JSON.stringify({...old, version: 2}));
    const store = new StateStore(dir, 10_000_000, captureLogs().logger);
    await store.open();
    assert.equal(store.size, 0);
});
