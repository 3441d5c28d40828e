import fs from "node:fs";
import http from "node:http";
import {createHash} from "node:crypto";
import {once} from "node:events";
import type {AddressInfo, Socket} from "node:net";

/** One request the mirror received. */
export interface MirrorRequest {
    method: string;
    /** The path without the query string. */
    path: string;
    range: string | null;
    authorization: string | null;
}

export interface HfMirrorOptions {
    /** Files by repository (`user/repo`) and file name: the local file to serve. */
    repos: Record<string, Record<string, string>>;
    /** Repositories that answer 401 unless `Authorization: Bearer <token>` comes with the request. */
    tokens?: Record<string, string>;
    /**
     * Repositories whose file downloads answer (once authorized) 302 to another origin, the
     * mirror's "CDN" (`http://localhost:<another port>`), which serves the same files, as the hub
     * sends its files to its storage hosts.
     */
    redirect?: string[];
}

export interface HfMirror {
    /** The base URL, for HF_ENDPOINT. */
    url: string;
    requests: MirrorRequest[];
    /** Requests the CDN (the redirect target, another origin) received. */
    cdnRequests: MirrorRequest[];
    /** Bytes sent in answers to range requests since the start or the last `resetCounts()`. */
    rangeBytes(): number;
    resetCounts(): void;
    /** Serves another file from now on. */
    addFile(repo: string, name: string, file: string): void;
    /**
     * A broken server: answers downloads of `name` with the bytes of `file` (200 or 206, with a
     * Content-Length that matches them) while the manifest still describes the real file; null
     * serves the real file again.
     */
    serveInstead(repo: string, name: string, file: string | null): void;
    /** The manifest of `repo` names this file (whatever it is) from now on; null: the matching one again. */
    manifestNames(repo: string, rfilename: string | null): void;
    /**
     * Once `bytes` more bytes went out in range answers: cuts every connection that is sending
     * file data, and leaves every later file request unanswered (a network that hangs) until `heal()`.
     * Resolves when the cut happened.
     */
    cutAfter(bytes: number): Promise<void>;
    heal(): void;
    close(): Promise<void>;
}

const PIECE = 64 * 1024;

/**
 * A stand-in for the Hugging Face hub, enough for node-llama-cpp's downloader: file downloads at
 * `/<user>/<repo>/resolve/<revision>/<file>` (GET and HEAD, with `Range: bytes=a-b` answered 206,
 * `Accept-Ranges: bytes`), and the manifest API that resolves `hf:<user>/<repo>:<quant>`
 * (`/v2/<user>/<repo>/manifests/<quant>` -> `{"ggufFile": {"rfilename"}}`, the first shard of a
 * split file, as llama.cpp's `-hf` expects, with its size and sha256). Unknown repositories and
 * files answer 404; gated ones 401 without their token. Records every request.
 */
export async function startHfMirror(options: HfMirrorOptions): Promise<HfMirror> {
    const repos = Object.fromEntries(Object.entries(options.repos).map(([repo, files]) => [repo, {...files}]));
    const requests: MirrorRequest[] = [];
    const cdnRequests: MirrorRequest[] = [];
    const instead = new Map<string, string>();
    const manifestOverrides = new Map<string, string>();
    const sha256s = new Map<string, string>();
    const dataSockets = new Set<Socket>();
    const hanging = new Set<http.ServerResponse>();
    let rangeBytes = 0;
    let cut: {at: number; done(): void} | null = null;
    let broken = false;

    const authorized = (repo: string, request: http.IncomingMessage) => {
        const token = options.tokens?.[repo];
        return token == null || request.headers.authorization === `Bearer ${token}`;
    };

    const record = (request: http.IncomingMessage, into: MirrorRequest[]): MirrorRequest => {
        const url = new URL(request.url ?? "/", "http://mirror");
        const entry: MirrorRequest = {
            method: request.method ?? "GET", path: decodeURIComponent(url.pathname),
            range: request.headers.range ?? null, authorization: request.headers.authorization ?? null
        };
        into.push(entry);
        return entry;
    };
    const sha256Of = (file: string) => {
        if (!sha256s.has(file)) sha256s.set(file, createHash("sha256").update(fs.readFileSync(file)).digest("hex"));
        return sha256s.get(file)!;
    };

    const server = http.createServer((request, response) => {
        const entry = record(request, requests);
        const manifest = /^\/v2\/([^/]+\/[^/]+)\/manifests\/([^/]+)$/.exec(entry.path);
        const resolve = /^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/.exec(entry.path);
        const repo = manifest?.[1] ?? resolve?.[1];
        if (repo == null || repos[repo] == null)
            return void response.writeHead(404, {"content-type": "application/json"}).end('{"error":"Repository not found"}');
        if (!authorized(repo, request))
            return void response.writeHead(401, {"content-type": "application/json"}).end('{"error":"Invalid credentials in Authorization header"}');
        if (manifest != null) {
            const quant = manifest[2].toLowerCase();
            const names = Object.keys(repos[repo]).filter((name) => name.toLowerCase().includes(quant) && /\.gguf$/i.test(name)).sort();
            const first = names.find((name) => /-00001-of-\d{5}\.gguf$/i.test(name)) ?? names[0];
            if (first == null)
                return void response.writeHead(400, {"content-type": "application/json"}).end('{"error":"The specified tag is not available"}');
            // As the hub's file listings describe an LFS file: its size, and its sha256 as the LFS oid.
            const size = fs.statSync(repos[repo][first]).size;
            const ggufFile = {rfilename: manifestOverrides.get(repo) ?? first, size, lfs: {oid: sha256Of(repos[repo][first]), size}};
            return void response.writeHead(200, {"content-type": "application/json"}).end(JSON.stringify({ggufFile}));
        }
        const file = repos[repo][resolve![2]];
        if (file == null)
            return void response.writeHead(404, {"content-type": "application/json"}).end('{"error":"Entry not found"}');
        if (options.redirect?.includes(repo))
            return void response.writeHead(302, {location: `${cdnUrl}/${repo}/${resolve![2]}?signature=opaque`}).end();
        if (broken) {
            hanging.add(response);
            return;
        }
        void serveFile(instead.get(`${repo}/${resolve![2]}`) ?? file, request, response);
    });

    // The CDN: serves `/<user>/<repo>/<file>` of every repository, no token asked (the hub signs its URLs).
    const cdn = http.createServer((request, response) => {
        const entry = record(request, cdnRequests);
        const match = /^\/([^/]+\/[^/]+)\/(.+)$/.exec(entry.path);
        const file = match != null ? repos[match[1]]?.[match[2]] : undefined;
        if (file == null)
            return void response.writeHead(404).end();
        void serveFile(file, request, response);
    });

    async function serveFile(file: string, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
        const size = fs.statSync(file).size;
        const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
        const start = range != null ? Number(range[1]) : 0;
        const end = range != null && range[2] !== "" ? Math.min(size - 1, Number(range[2])) : size - 1;
        const headers = {"accept-ranges": "bytes", "content-type": "application/octet-stream", "content-length": String(end - start + 1)};
        if (range != null && start >= size)
            return void response.writeHead(416, {"content-range": `bytes */${size}`}).end();
        response.writeHead(range != null ? 206 : 200, range != null ? {...headers, "content-range": `bytes ${start}-${end}/${size}`} : headers);
        if (request.method === "HEAD") return void response.end();
        const socket = response.socket!;
        dataSockets.add(socket);
        socket.once("close", () => dataSockets.delete(socket));
        const closed = new Promise<void>((resolve) => response.once("close", resolve));
        const handle = await fs.promises.open(file, "r");
        try {
            for (let at = start; at <= end && !response.destroyed;) {
                const length = Math.min(PIECE, end + 1 - at);
                const {buffer} = await handle.read(Buffer.alloc(length), 0, length, at);
                if (cut != null && range != null && rangeBytes + length >= cut.at) {
                    broken = true;
                    const done = cut.done;
                    cut = null;
                    for (const open of dataSockets) open.destroy();
                    done();
                    return;
                }
                if (range != null) rangeBytes += length;
                at += length;
                if (!response.write(buffer))
                    await Promise.race([once(response, "drain"), closed]);
            }
            response.end();
        } finally {
            await handle.close();
        }
    }

    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => cdn.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const cdnUrl = `http://localhost:${(cdn.address() as AddressInfo).port}`;
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        cdnRequests,
        rangeBytes: () => rangeBytes,
        resetCounts: () => {
            rangeBytes = 0;
            requests.length = 0;
            cdnRequests.length = 0;
        },
        addFile: (repo, name, file) => {
            repos[repo] ??= {};
            repos[repo][name] = file;
        },
        serveInstead: (repo, name, file) => {
            if (file == null) instead.delete(`${repo}/${name}`);
            else instead.set(`${repo}/${name}`, file);
        },
        manifestNames: (repo, rfilename) => {
            if (rfilename == null) manifestOverrides.delete(repo);
            else manifestOverrides.set(repo, rfilename);
        },
        cutAfter: (bytes) => new Promise<void>((resolve) => {
            cut = {at: rangeBytes + bytes, done: resolve};
        }),
        heal: () => {
            broken = false;
            for (const response of hanging) response.destroy();
            hanging.clear();
        },
        close: async () => {
            for (const response of hanging) response.destroy();
            server.closeAllConnections();
            cdn.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            await new Promise<void>((resolve) => cdn.close(() => resolve()));
        }
    };
}
