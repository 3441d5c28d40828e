import {pathOutsideRepository} from "../../config/modelSource.js";

/** What a hub manifest says of the file it names, when it says it. */
export interface ManifestFile {
    rfilename: string;
    size: number | null;
    sha256: string | null;
}

/** One download in progress, as the guard sees it. */
export interface HubGuard {
    /** The manifest's description of the model's (first) file, once node-llama-cpp asked for it. */
    readonly manifest: ManifestFile | null;
    /** Why the download was stopped by the guard (a manifest naming a file outside its repository), if it was. */
    readonly refusal: string | null;
    release(): void;
}

interface Guarded {
    origin: string;
    authorization: string | null;
    /** `/v2/<user>/<repo>/manifests/` on the endpoint, for an `hf:<user>/<repo>:<quant>` reference. */
    manifestPath: string | null;
    manifest: ManifestFile | null;
    refusal: string | null;
}

const active = new Set<Guarded>();
let originalFetch: typeof fetch | null = null;

/**
 * Every request of a model download goes through `globalThis.fetch`: node-llama-cpp's manifest
 * lookup, and ipull's size probe and ranged GETs. Neither library lets a caller filter them, and
 * ipull leaks: its probe follows a redirect (fetch drops Authorization on a cross-origin hop, as
 * the Fetch spec says), but then it sends its ranged GETs straight to the redirect's target with
 * the same headers, HF_TOKEN included. So while a download runs, fetch is wrapped:
 * - a request carrying the download's token keeps it only on HF_ENDPOINT's origin (the README's
 *   promise); anywhere else (the hub's storage hosts, another mirror) it goes without;
 * - the manifest answer of an `hf:<user>/<repo>:<quant>` reference must name a file inside the
 *   repository: a `..`, `.` or empty segment would be resolved by the URL into another
 *   repository. It is refused (the request fails), and its size and sha256 are kept for the
 *   check of the finished file.
 * Requests that carry no guarded token and are no guarded manifest pass through untouched.
 */
export function guardHubRequests(endpoint: string, token: string | null, reference: string): HubGuard {
    const base = new URL(endpoint.endsWith("/") ? endpoint : `${endpoint}/`);
    const repo = /^(?:hf|huggingface):([^/:#]+)\/([^/:#]+)(?::[^/:#]+)?$/i.exec(reference);
    const guarded: Guarded = {
        origin: base.origin, authorization: token != null ? `Bearer ${token}` : null,
        manifestPath: repo != null ? `${base.pathname}v2/${encodeURIComponent(repo[1])}/${encodeURIComponent(repo[2])}/manifests/` : null,
        manifest: null, refusal: null
    };
    if (originalFetch == null) {
        originalFetch = globalThis.fetch;
        globalThis.fetch = guardedFetch;
    }
    active.add(guarded);
    return {
        get manifest() {
            return guarded.manifest;
        },
        get refusal() {
            return guarded.refusal;
        },
        release: () => void active.delete(guarded)
    };
}

async function guardedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const send = originalFetch!;
    if (active.size === 0) return send(input, init);
    const url = new URL(input instanceof Request ? input.url : input);
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init?.headers).forEach((value, name) => headers.set(name, value));
    const authorization = headers.get("authorization");
    const leaking = authorization != null &&
        [...active].some((guarded) => guarded.authorization === authorization && guarded.origin !== url.origin);
    if (leaking) headers.delete("authorization");
    const response = leaking ? await send(input instanceof Request ? new Request(input, {headers}) : input, {...init, headers})
        : await send(input, init);
    const manifestOf = [...active].find((guarded) => guarded.manifestPath != null && guarded.origin === url.origin &&
        url.pathname.startsWith(guarded.manifestPath));
    if (manifestOf == null || !response.ok) return response;
    const file = await manifestFile(response.clone());
    if (file == null) return response;
    const outside = pathOutsideRepository(file.rfilename);
    if (outside != null) {
        manifestOf.refusal = `the hub's manifest names a file outside the repository (${outside})`;
        throw new Error(manifestOf.refusal);
    }
    manifestOf.manifest = file;
    return response;
}

/** The manifest's `ggufFile`: its name, and its size and sha256 (as an LFS oid, or plainly) when given. */
async function manifestFile(response: Response): Promise<ManifestFile | null> {
    let body: {ggufFile?: {rfilename?: unknown; size?: unknown; sha256?: unknown; lfs?: {oid?: unknown; sha256?: unknown; size?: unknown}}};
    try {
        body = await response.json() as typeof body;
    } catch {
        return null; // node-llama-cpp reports an unreadable manifest itself
    }
    const file = body?.ggufFile;
    if (typeof file?.rfilename !== "string") return null;
    const size = [file.size, file.lfs?.size].find((value): value is number => Number.isSafeInteger(value) && (value as number) >= 0) ?? null;
    const sha256 = [file.sha256, file.lfs?.sha256, file.lfs?.oid]
        .find((value): value is string => typeof value === "string" && /^[0-9a-f]{64}$/i.test(value)) ?? null;
    return {rfilename: file.rfilename, size, sha256: sha256?.toLowerCase() ?? null};
}
