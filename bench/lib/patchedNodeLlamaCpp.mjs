// Loads node-llama-cpp with patches/node-llama-cpp+<version>.patch applied in memory, without
// touching node_modules (shared, and patched only by patch-package at install): a module load hook
// serves each patched file's text in place of the installed one, at the installed file's URL, so its
// relative imports resolve as before. For measuring a patch before it is installed:
//   node --import ./bench/lib/patchedNodeLlamaCpp.mjs --import tsx bench/stepProbe.ts ...
import {register} from "node:module";

register(new URL("./patchedNodeLlamaCppHooks.mjs", import.meta.url));
