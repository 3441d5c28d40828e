import pino, {type Logger} from "pino";

/** A pino logger whose JSON lines land in `lines`, to check what the worker logs. */
export function captureLogs(level = "info"): {logger: Logger; lines: string[]; records(): Array<Record<string, any>>} {
    const lines: string[] = [];
    const logger = pino({level}, {write: (line: string) => void lines.push(line)});
    return {logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, any>)};
}
