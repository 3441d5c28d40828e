import fs from "node:fs";
import path from "node:path";
import {ConfigError} from "../errors.js";
import {builtinTemplatesDir, readTemplateFile, SFW_TERMS_FILE} from "./enhanceTemplates.js";
import {parseTermList, TermMask} from "./termMask.js";

export type TermListSource = "built-in" | "operator";

/**
 * The terms `sfw_mode` masks: `sfw-terms.txt` beside the enhancement templates, the operator's
 * (in ENHANCE_TEMPLATES_DIR) replacing the built-in one whole. Read and checked once at boot.
 */
export function loadSfwTerms(operatorDir: string | null, builtinDir: string = builtinTemplatesDir()): {mask: TermMask; source: TermListSource} {
    const operatorFile = operatorDir == null ? null : path.join(operatorDir, SFW_TERMS_FILE);
    if (operatorFile != null && fs.existsSync(operatorFile)) {
        const fail = (message: string): never => {
            throw new ConfigError("ENHANCE_TEMPLATES_DIR", message);
        };
        return {mask: new TermMask(parseTermList(readTemplateFile(operatorFile, SFW_TERMS_FILE, fail))), source: "operator"};
    }
    const text = fs.readFileSync(path.join(builtinDir, SFW_TERMS_FILE), "utf8");
    return {mask: new TermMask(parseTermList(text)), source: "built-in"};
}
