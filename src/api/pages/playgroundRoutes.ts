import fs from "node:fs";
import path from "node:path";
import type {FastifyInstance, FastifyReply} from "fastify";
import {packageRoot} from "../../http/packageRoot.js";
import {PLAYGROUND_PREFIX} from "../../http/pages.js";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png"
};

interface Asset {
    body: Buffer;
    type: string;
}

/** The files of playground/ (hand-written, nothing to build), read once at boot. */
export function readPlaygroundAssets(dir = path.join(packageRoot().dir, "playground")): Map<string, Asset> {
    const assets = new Map<string, Asset>();
    for (const name of fs.readdirSync(dir).sort()) {
        const type = CONTENT_TYPES[path.extname(name)];
        if (type != null)
            assets.set(name, {body: fs.readFileSync(path.join(dir, name)), type});
    }
    if (!assets.has("index.html"))
        throw new Error(`the playground's index.html is missing from ${dir}`);
    return assets;
}

/**
 * GET / and /playground (the page) and /playground/<file> (its scripts and styles). One route per
 * file, so nothing outside the folder can be asked for. The browser revalidates on every load, so
 * a restarted worker's new files are picked up.
 */
export async function playgroundRoutes(app: FastifyInstance): Promise<void> {
    const assets = readPlaygroundAssets();
    const serve = (asset: Asset) => async (_request: unknown, reply: FastifyReply) =>
        reply.type(asset.type).header("cache-control", "no-cache").send(asset.body);
    const page = assets.get("index.html")!;
    const hide = {schema: {hide: true}};
    app.get("/", hide, serve(page));
    app.get(PLAYGROUND_PREFIX, hide, serve(page));
    for (const [name, asset] of assets)
        app.get(`${PLAYGROUND_PREFIX}/${name}`, hide, serve(asset));
}
