import fs from "node:fs";

/**
 * A sequence that only keeps its token list, and whose "state file" is that list as JSON: enough
 * for the conversation cache's decisions and its state files, which never evaluate.
 */
export class FakeSequence {
    contextTokens: number[] = [];
    get nextTokenIndex(): number {
        return this.contextTokens.length;
    }
    async eraseContextTokenRanges(ranges: Array<{start: number; end: number}>): Promise<void> {
        for (const {start, end} of [...ranges].sort((a, b) => b.start - a.start))
            this.contextTokens.splice(start, end - start);
    }
    async clearHistory(): Promise<void> {
        this.contextTokens = [];
    }
    async saveStateToFile(file: string): Promise<{fileSize: number}> {
        fs.writeFileSync(file, JSON.stringify(this.contextTokens));
        return {fileSize: fs.statSync(file).size};
    }
    async loadStateFromFile(file: string): Promise<void> {
        this.contextTokens = JSON.parse(fs.readFileSync(file, "utf8")) as number[];
    }
}
