import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import type {Request} from "playwright-core";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {launchBrowser, type Browser, type WatchedPage} from "../helpers/browser.js";

/**
 * With WORKER_API_KEY set, the pages load without the key (they hold no data), ask for it when
 * the worker first answers 401, keep it in the tab's session storage, and send it with every API
 * call; the docs page sends it too.
 */

const KEY = "browser-key-6d0e2b";
let server: TestWorker;
let browser: Browser;

before(async () => {
    server = await startTestWorker({PARALLEL: "1", WORKER_API_KEY: KEY});
    browser = await launchBrowser();
});
after(async () => {
    await browser?.close();
    await server?.close();
});

/** The only errors allowed: the browser's own log lines for the 401s that made the page ask for the key. */
function assertOnly401s({problems}: WatchedPage): void {
    assert.ok(problems.every((problem) => /status of 401/.test(problem)), problems.join("\n"));
}

test("the playground asks for the key once, keeps it for the tab, and sends it", async () => {
    const opened = await browser.open(`${server.url}/`);
    const {page} = opened;
    await page.locator("#key-form").waitFor();
    // /health is open, so the strip already knows the model; the rest waits for the key.
    await page.locator("#status-model").filter({hasText: server.worker.engine.info().modelName}).waitFor();
    assert.match(await page.textContent("#status-error") ?? "", /^Authorization: /);

    await page.fill("#key-input", "not-the-key");
    await page.click("#key-form button[type=submit]");
    await page.locator("#key-error").filter({hasText: "did not accept"}).waitFor();

    await page.fill("#key-input", KEY);
    await page.click("#key-form button[type=submit]");
    await page.locator("#status-throughput").filter({hasText: /tok\/s|measuring/}).waitFor();
    assert.equal(await page.isHidden("#key-form"), true);
    assert.equal(await page.evaluate("sessionStorage.getItem('chat-worker.api-key')"), KEY);

    const chatRequests: Request[] = [];
    page.on("request", (request) => {
        if (new URL(request.url()).pathname === "/chat") chatRequests.push(request);
    });
    await page.fill("#max-tokens", "6");
    await page.fill("#message", "hello with a key");
    await page.press("#message", "Enter");
    await page.locator('.message.assistant[data-state="done"]').waitFor();
    assert.equal(chatRequests.length, 1);
    assert.equal(await chatRequests[0].headerValue("authorization"), `Bearer ${KEY}`);

    // A reload keeps the key: no question, the strip fills.
    await page.reload();
    await page.locator("#status-device").filter({hasText: /^[^…]+$/}).waitFor();
    await page.locator("#status-throughput").filter({hasText: /tok\/s|measuring/}).waitFor();
    assert.equal(await page.isHidden("#key-form"), true);
    assertOnly401s(opened);

    // The docs page in the same tab reads the key from session storage.
    await page.goto(`${server.url}/docs`);
    await page.locator(".opblock-summary-path", {hasText: /^\/chat$/}).waitFor();
    assertOnly401s(opened);
    await page.close();
});

test("the docs page in a fresh tab asks for the key, then shows the API", async () => {
    const opened = await browser.open("about:blank");
    const {page} = opened;
    page.once("dialog", (dialog) => {
        assert.match(dialog.message(), /API key/);
        void dialog.accept(KEY);
    });
    await page.goto(`${server.url}/docs`);
    await page.locator(".opblock-summary-path", {hasText: /^\/chat$/}).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('chat-worker.api-key')"), KEY);
    assertOnly401s(opened);
    await page.close();
});
