// The load hook behind patchedNodeLlamaCpp.mjs: applies the patch file with patch(1) to a copy.
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";

const version = JSON.parse(fs.readFileSync("node_modules/node-llama-cpp/package.json", "utf8")).version;
const patchFile = path.resolve(`patches/node-llama-cpp+${version}.patch`);
const patchText = fs.readFileSync(patchFile, "utf8");
/** Paths inside node-llama-cpp that the patch changes. */
const targets = [...patchText.matchAll(/^\+\+\+ b\/node_modules\/node-llama-cpp\/(.+)$/gm)].map((match) => match[1]);
const served = new Map();

function patched(relative) {
    if (!served.has(relative)) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nlc-patch-"));
        fs.mkdirSync(path.join(dir, "node_modules"), {recursive: true});
        fs.symlinkSync(path.resolve("node_modules/node-llama-cpp"), path.join(dir, "original"));
        fs.cpSync(path.resolve("node_modules/node-llama-cpp", relative), path.join(dir, "node_modules/node-llama-cpp", relative), {recursive: true});
        execFileSync("patch", ["-p1", "-s", "-i", patchFile, path.join("node_modules/node-llama-cpp", relative)], {cwd: dir});
        served.set(relative, fs.readFileSync(path.join(dir, "node_modules/node-llama-cpp", relative), "utf8"));
    }
    return served.get(relative);
}

export async function load(url, context, nextLoad) {
    if (url.startsWith("file:")) {
        const file = fileURLToPath(url);
        const relative = targets.find((target) => file.endsWith(`/node-llama-cpp/${target}`));
        if (relative != null) {
            process.stderr.write(`patched: node-llama-cpp/${relative}\n`);
            return {format: "module", source: patched(relative), shortCircuit: true};
        }
    }
    return nextLoad(url, context);
}
