import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {chromium, type BrowserContext, type Page} from "playwright-core";

/**
 * Debian's chromium, driven by playwright-core (Playwright's own browser download does not work
 * here). A missing browser fails the tests with the way to install it: they never skip.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where screenshots go (git-ignored). */
export const ARTIFACTS_DIR = path.join(import.meta.dirname, "..", "artifacts");

const ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run"
];

export interface Browser {
    context: BrowserContext;
    /** A new tab whose console errors, page errors and CSP violations are recorded in `problems`. */
    open(url: string, viewport?: {width: number; height: number}): Promise<WatchedPage>;
    close(): Promise<void>;
}

export interface WatchedPage {
    page: Page;
    /** Console errors (CSP violations are among them), uncaught page errors and failed requests. */
    problems: string[];
}

/** Chromium with a fresh profile (a new --user-data-dir, removed on close). */
export async function launchBrowser(): Promise<Browser> {
    try {
        fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
    } catch {
        throw new Error(`chromium is not installed at ${CHROMIUM_PATH}: install it with ` +
            "`apt-get update && apt-get install -y chromium`, or set CHROMIUM_PATH to its executable");
    }
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "chat-worker-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM_PATH, headless: true, args: ARGS, viewport: {width: 1280, height: 800}
    });
    return {
        context,
        async open(url, viewport) {
            const page = await context.newPage();
            if (viewport != null) await page.setViewportSize(viewport);
            const problems: string[] = [];
            page.on("console", (message) => {
                if (message.type() === "error") problems.push(`console: ${message.text()}`);
            });
            page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
            page.on("requestfailed", (request) => {
                // A stopped stream is an aborted request by design.
                if (request.failure()?.errorText !== "net::ERR_ABORTED")
                    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
            });
            await page.goto(url);
            return {page, problems};
        },
        async close() {
            await context.close();
            fs.rmSync(profile, {recursive: true, force: true});
        }
    };
}

/** Saves a full-page screenshot under test/artifacts/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
    fs.mkdirSync(ARTIFACTS_DIR, {recursive: true});
    const file = path.join(ARTIFACTS_DIR, `${name}.png`);
    await page.screenshot({path: file, fullPage: true});
    return file;
}
