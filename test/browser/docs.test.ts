import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {startTestWorker, type TestWorker} from "../helpers/testWorker.js";
import {launchBrowser, screenshot, type Browser} from "../helpers/browser.js";

/** The API docs UI (Swagger UI from @fastify/swagger-ui, assets from the package) in a real browser. */

let server: TestWorker;
let browser: Browser;

before(async () => {
    server = await startTestWorker({PARALLEL: "1"});
    browser = await launchBrowser();
});
after(async () => {
    await browser?.close();
    await server?.close();
});

test("/docs renders every route from /docs/json, /chat with its request schema, with no errors", async () => {
    const opened = await browser.open(`${server.url}/docs`);
    const {page} = opened;
    const chat = page.locator(".opblock-post .opblock-summary-path", {hasText: /^\/chat$/});
    await chat.waitFor();
    const documented = Object.keys((await (await fetch(`${server.url}/docs/json`)).json()).paths);
    const shown = await page.locator(".opblock-summary-path").allTextContents();
    assert.deepEqual(new Set(shown.map((path) => path.replace(/\u200b/g, ""))), new Set(documented), "every documented path is shown");

    await chat.click();
    const operation = page.locator("#operations-default-post_chat");
    await operation.locator(".body-param__example, .model-example").first().waitFor();
    const example = await operation.locator(".body-param__example, .highlight-code").first().textContent() ?? "";
    for (const field of ["message", "system_prompt", "conversation_id", "max_tokens"])
        assert.ok(example.includes(`"${field}"`), `the /chat example shows ${field}`);
    await screenshot(page, "docs");
    // The page loaded its assets from the worker alone.
    const origins = await page.evaluate("[...new Set(performance.getEntriesByType('resource').map((entry) => new URL(entry.name).origin))]");
    assert.deepEqual(origins, [server.url]);
    assert.deepEqual(opened.problems, []);
    await page.close();
});
