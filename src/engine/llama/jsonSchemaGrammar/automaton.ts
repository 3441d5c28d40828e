import {refuse} from "./schemaRefusal.js";
import {ANY_CHAR, normalizeRanges, type Ranges, type RegexNode} from "./regexParser.js";

/**
 * Deterministic finite automata over code points: what patterns, string formats, lengths and
 * property-name exclusions are compiled through, because automata intersect (a zod `.email()`
 * carries both a format and a pattern; a key must match propertyNames and not be a declared name)
 * and a deterministic automaton becomes a grammar whose every character has exactly one parse.
 */
export interface Dfa {
    /** Per state: transitions on disjoint ranges. State 0 is the start. */
    edges: Array<Array<{ranges: Ranges; to: number}>>;
    accepting: boolean[];
}

/** Most states an automaton may have: each becomes a grammar rule. */
export const MAX_DFA_STATES = 3000;
const MAX_NFA_STATES = 50_000;

interface Nfa {
    eps: number[][];
    edges: Array<Array<{ranges: Ranges; to: number}>>;
}

/** The automaton that accepts exactly the strings `node` matches in full. */
export function dfaFromRegex(node: RegexNode, path: string): Dfa {
    const nfa: Nfa = {eps: [], edges: []};
    const state = (): number => {
        if (nfa.eps.length >= MAX_NFA_STATES) refuse(path, "the pattern is too large to compile (its counted repetitions expand too far)");
        nfa.eps.push([]);
        nfa.edges.push([]);
        return nfa.eps.length - 1;
    };
    /** Builds `n` from `from`; returns the state it ends in. */
    const build = (n: RegexNode, from: number): number => {
        switch (n.kind) {
            case "chars": {
                const to = state();
                nfa.edges[from].push({ranges: n.ranges, to});
                return to;
            }
            case "seq":
                return n.items.reduce((at, item) => build(item, at), from);
            case "alt": {
                const to = state();
                for (const option of n.options) nfa.eps[build(option, from)].push(to);
                return to;
            }
            case "repeat": {
                let at = from;
                for (let i = 0; i < n.min; i++) at = build(n.item, at);
                if (n.max === Infinity) {
                    const loop = state();
                    nfa.eps[at].push(loop);
                    nfa.eps[build(n.item, loop)].push(loop);
                    return loop;
                }
                const end = state();
                nfa.eps[at].push(end);
                for (let i = n.min; i < n.max; i++) {
                    at = build(n.item, at);
                    nfa.eps[at].push(end);
                }
                return end;
            }
        }
    };
    const start = state();
    const accept = build(node, start);
    return determinize(nfa, start, accept, path);
}

function closure(nfa: Nfa, states: Iterable<number>): number[] {
    const seen = new Set<number>(states);
    const work = [...seen];
    while (work.length > 0)
        for (const next of nfa.eps[work.pop() as number])
            if (!seen.has(next)) {
                seen.add(next);
                work.push(next);
            }
    return [...seen].sort((a, b) => a - b);
}

/**
 * Splits the ranges of several transitions into disjoint pieces, each with the targets of every
 * transition that covers it.
 */
function split(edges: Array<{ranges: Ranges; to: number}>): Array<{ranges: Ranges; targets: number[]}> {
    const bounds = new Set<number>();
    for (const edge of edges)
        for (const [from, to] of edge.ranges) {
            bounds.add(from);
            bounds.add(to + 1);
        }
    const points = [...bounds].sort((a, b) => a - b);
    const byTargets = new Map<string, {ranges: Ranges; targets: number[]}>();
    for (let i = 0; i + 1 < points.length; i++) {
        const [lo, hi] = [points[i], points[i + 1] - 1];
        const targets = edges.filter((edge) => edge.ranges.some(([a, b]) => a <= lo && hi <= b)).map((edge) => edge.to);
        if (targets.length === 0) continue;
        const unique = [...new Set(targets)].sort((a, b) => a - b);
        const key = unique.join(",");
        const entry = byTargets.get(key) ?? {ranges: [], targets: unique};
        entry.ranges.push([lo, hi]);
        byTargets.set(key, entry);
    }
    return [...byTargets.values()].map((entry) => ({ranges: normalizeRanges(entry.ranges), targets: entry.targets}));
}

function determinize(nfa: Nfa, start: number, accept: number, path: string): Dfa {
    const dfa: Dfa = {edges: [], accepting: []};
    const ids = new Map<string, number>();
    const sets: number[][] = [];
    const id = (set: number[]): number => {
        const key = set.join(",");
        let found = ids.get(key);
        if (found == null) {
            found = sets.length;
            if (found >= MAX_DFA_STATES) refuse(path, `the pattern needs more than ${MAX_DFA_STATES} automaton states`);
            ids.set(key, found);
            sets.push(set);
            dfa.edges.push([]);
            dfa.accepting.push(set.includes(accept));
        }
        return found;
    };
    id(closure(nfa, [start]));
    for (let i = 0; i < sets.length; i++) {
        const edges = sets[i].flatMap((s) => nfa.edges[s]);
        for (const piece of split(edges))
            dfa.edges[i].push({ranges: piece.ranges, to: id(closure(nfa, piece.targets))});
    }
    return dfa;
}

/**
 * The product of automata: strings every one accepts (or, with `negate[i]`, that automaton i
 * rejects), at most `maxLength` characters and at least `minLength`. States that cannot reach an
 * accepting state are dropped, so every prefix the grammar allows can be completed.
 */
export function intersect(parts: Dfa[], path: string, options: {negate?: boolean[]; minLength?: number; maxLength?: number} = {}): Dfa {
    const negate = options.negate ?? [];
    const minLength = options.minLength ?? 0;
    const maxLength = options.maxLength ?? Infinity;
    // A missing transition goes to the dead state -1: a negated part accepts there.
    const tuples: number[][] = [];
    const ids = new Map<string, number>();
    const raw: Dfa = {edges: [], accepting: []};
    const countCap = maxLength === Infinity ? minLength : maxLength;
    const id = (tuple: number[]): number => {
        const key = tuple.join(",");
        let found = ids.get(key);
        if (found == null) {
            found = tuples.length;
            if (found >= MAX_DFA_STATES * 4) refuse(path, "the combined string constraints need too many automaton states");
            ids.set(key, found);
            tuples.push(tuple);
            raw.edges.push([]);
            const count = tuple[tuple.length - 1];
            raw.accepting.push(count >= minLength && parts.every((dfa, i) =>
                (tuple[i] >= 0 && dfa.accepting[tuple[i]]) !== (negate[i] === true)));
        }
        return found;
    };
    id([...parts.map(() => 0), 0]);
    for (let i = 0; i < tuples.length; i++) {
        const tuple = tuples[i];
        const count = tuple[tuple.length - 1];
        if (maxLength !== Infinity && count >= maxLength) continue;
        // Every character: parts without a transition move to the dead state.
        const edges = parts.flatMap((dfa, part) => tuple[part] < 0 ? [] : dfa.edges[tuple[part]].map((edge) => ({ranges: edge.ranges, to: part * 1_000_000 + edge.to})));
        const pieces = split([...edges, {ranges: ANY_CHAR, to: -1}]);
        for (const piece of pieces) {
            const next = parts.map((_, part) => {
                const target = piece.targets.find((t) => t >= 0 && Math.floor(t / 1_000_000) === part);
                return target == null ? -1 : target % 1_000_000;
            });
            // A part that is dead and not negated can never accept again.
            if (next.some((s, part) => s < 0 && negate[part] !== true)) continue;
            raw.edges[i].push({ranges: piece.ranges, to: id([...next, Math.min(count + 1, countCap)])});
        }
    }
    return prune(raw, path);
}

/** Drops the states from which no accepting state can be reached (the grammar must never get stuck). */
function prune(dfa: Dfa, path: string): Dfa {
    const live = dfa.accepting.map((accepting) => accepting);
    for (let changed = true; changed;) {
        changed = false;
        dfa.edges.forEach((edges, state) => {
            if (!live[state] && edges.some((edge) => live[edge.to])) {
                live[state] = true;
                changed = true;
            }
        });
    }
    if (!live[0]) refuse(path, "no string satisfies all of its constraints together");
    const renumber = new Map<number, number>();
    const order: number[] = [];
    const visit = [0];
    renumber.set(0, 0);
    order.push(0);
    while (visit.length > 0) {
        const state = visit.pop() as number;
        for (const edge of dfa.edges[state])
            if (live[edge.to] && !renumber.has(edge.to)) {
                renumber.set(edge.to, order.length);
                order.push(edge.to);
                visit.push(edge.to);
            }
    }
    if (order.length > MAX_DFA_STATES) refuse(path, `the combined string constraints need more than ${MAX_DFA_STATES} automaton states`);
    return {
        edges: order.map((state) => dfa.edges[state].filter((edge) => live[edge.to])
            .map((edge) => ({ranges: edge.ranges, to: renumber.get(edge.to) as number}))),
        accepting: order.map((state) => dfa.accepting[state])
    };
}

/** The shortest and longest strings `dfa` accepts (Infinity when it loops); every state must be live, as intersect leaves them. */
export function lengthRange(dfa: Dfa): [number, number] {
    // Breadth first for the shortest; the longest by depth-first search, which meets a loop as a state on the path.
    let shortest = Infinity;
    const distance = new Map<number, number>([[0, 0]]);
    for (const queue = [0]; queue.length > 0;) {
        const state = queue.shift() as number;
        const d = distance.get(state) as number;
        if (dfa.accepting[state]) shortest = Math.min(shortest, d);
        for (const edge of dfa.edges[state])
            if (!distance.has(edge.to)) {
                distance.set(edge.to, d + 1);
                queue.push(edge.to);
            }
    }
    const longest = new Map<number, number>();
    const onPath = new Set<number>();
    const visit = (state: number): number => {
        if (onPath.has(state)) return Infinity;
        const known = longest.get(state);
        if (known != null) return known;
        onPath.add(state);
        let best = dfa.accepting[state] ? 0 : -Infinity;
        for (const edge of dfa.edges[state]) best = Math.max(best, 1 + visit(edge.to));
        onPath.delete(state);
        longest.set(state, best);
        return best;
    };
    return [shortest, visit(0)];
}
