import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import type {Page, Request} from "playwright-core";
import {parseSse, startTestWorker, until, type TestWorker} from "../helpers/testWorker.js";
import {metricValue} from "../helpers/opsHelpers.js";
import {getJson} from "../helpers/http.js";
import {launchBrowser, screenshot, type Browser, type WatchedPage} from "../helpers/browser.js";

/**
 * The playground in a real browser (Debian's chromium) against a real worker with the synthetic
 * model. Each test opens its own tab, and no tab may log an error (CSP violations included).
 */

const DESKTOP = {width: 1280, height: 800};
const PHONE = {width: 390, height: 844};
/** Long enough (about 3 s here) to be stopped half-way; the context holds it. */
/** Long enough that Stop is pressed while it streams (the tiny model writes 4,000 tokens in about 2 s). */
const LONG_REPLY_TOKENS = "30000";

let server: TestWorker;
let browser: Browser;

before(async () => {
    // One sequence: each turn of a conversation lands where the previous one left its tokens
    // (with more, a short common prefix can lose to an empty sequence, and the turn misses the cache).
    server = await startTestWorker({PARALLEL: "1", CONTEXT_SIZE: "32768", MAX_TOKENS_LIMIT: "30000"});
    browser = await launchBrowser();
});
after(async () => {
    await browser?.close();
    await server?.close();
});

async function openPlayground(viewport = DESKTOP): Promise<WatchedPage> {
    const opened = await browser.open(`${server.url}/`, viewport);
    // The status strip has answered once the model name is in it.
    await opened.page.locator("#status-model").filter({hasText: server.worker.engine.info().modelName}).waitFor();
    return opened;
}

function assertNoProblems({problems}: WatchedPage): void {
    assert.deepEqual(problems, [], "the page logged errors");
}

/** The JSON bodies the page POSTs to `path`, recorded from now on. */
function recordPosts(page: Page, path: string): unknown[] {
    const bodies: unknown[] = [];
    page.on("request", (request: Request) => {
        if (request.method() === "POST" && new URL(request.url()).pathname === path) bodies.push(request.postDataJSON());
    });
    return bodies;
}

async function send(page: Page, text: string): Promise<void> {
    await page.fill("#message", text);
    await page.press("#message", "Enter");
}

const lastReply = (page: Page) => page.locator(".message.assistant").last();

test("the page loads: status strip, one model so no picker, no errors", async () => {
    const opened = await openPlayground();
    const {page} = opened;
    assert.equal(await page.title(), "chat-worker playground");
    await page.locator("#status-state").filter({hasText: /^loaded$/}).waitFor();
    assert.equal(await page.textContent("#status-running"), "0");
    assert.equal(await page.textContent("#status-queued"), "0");
    assert.match(await page.textContent("#status-memory") ?? "", /^\d+\.\d\d GiB RAM$/);
    assert.equal(await page.textContent("#status-device"), (await getJson(`${server.url}/model/info`)).json.device);
    await page.locator("#status-throughput").filter({hasText: /tok\/s/}).waitFor();
    assert.equal(await page.isHidden("#model-field"), true, "one model: no picker");
    assert.equal(await page.isDisabled("#model-load"), true, "a loaded model has nothing to load");
    assertNoProblems(opened);
    await page.close();
});

test("a message streams in token by token; the reply shows tokens/s and cache use; the conversation id is kept", async () => {
    const opened = await openPlayground();
    const {page} = opened;
    const posts = recordPosts(page, "/chat");
    // Every length the reply had while it was still streaming, seen from inside the page.
    await page.evaluate(`(() => {
        window.streamedLengths = [];
        new MutationObserver(() => {
            const reply = document.querySelector(".message.assistant:last-child");
            if (reply && reply.dataset.state === "streaming") window.streamedLengths.push(reply.querySelector(".content").textContent.length);
        }).observe(document.getElementById("messages"), {subtree: true, childList: true, characterData: true});
    })()`);
    await page.fill("#max-tokens", "300");
    await send(page, "first turn");
    await page.locator('.message.assistant[data-state="done"]').waitFor();
    const lengths = await page.evaluate("window.streamedLengths") as number[];
    const growing = new Set(lengths.filter((length) => length > 0));
    assert.ok(growing.size >= 3, `text appeared in pieces before the end: ${JSON.stringify(lengths.slice(0, 20))}`);
    assert.match(await lastReply(page).locator(".meta").textContent() ?? "", /^300 tokens · \d+(\.\d)? tok\/s · cached \d+ of \d+ prompt tokens · finish: length$/);

    const answer = page.waitForResponse((response) => new URL(response.url()).pathname === "/chat");
    await send(page, "second turn");
    await page.locator('.message.assistant[data-state="done"]').nth(1).waitFor();
    const second = await lastReply(page).locator(".meta").textContent() ?? "";
    const done = parseSse(await (await answer).text()).find((event) => event.event === "done");
    const usage = JSON.parse(done!.data).usage;
    assert.ok(usage.cached_tokens > 0, `the second turn reused the conversation's cached prefix: ${JSON.stringify(usage)}`);
    assert.ok(second.includes(`cached ${usage.cached_tokens} of ${usage.prompt_tokens} prompt tokens`), `the page shows the worker's figures: ${second}`);

    assert.equal(posts.length, 2);
    const [one, two] = posts as Array<Record<string, any>>;
    assert.equal(one.stream, true);
    assert.equal(one.max_tokens, 300);
    assert.match(String(one.conversation_id), /^playground-[0-9a-f]{16}$/);
    assert.equal(two.conversation_id, one.conversation_id, "the conversation id is kept");
    assert.deepEqual(two.conversation_history.map((turn: {sender: string}) => turn.sender), ["user", "assistant"]);
    assert.equal(two.conversation_history[1].content, await page.locator(".message.assistant .content").first().textContent());
    for (const unset of ["temperature", "top_p", "seed", "frequency_penalty", "presence_penalty", "repetition_penalty", "model"])
        assert.ok(!(unset in one), `${unset} is not sent when it is not set`);
    assertNoProblems(opened);
    await page.close();
});

test("Stop aborts the generation on the worker: the running count returns to 0", async () => {
    const opened = await openPlayground();
    const {page} = opened;
    const abortsBefore = metricValue(await (await fetch(`${server.url}/metrics`)).text(), "chat_worker_generations_total", {finish_reason: "abort"});
    await page.fill("#max-tokens", LONG_REPLY_TOKENS);
    await send(page, "a long answer please");
    // A locator, not waitForFunction: that evaluates strings with eval, which the page's CSP refuses.
    await lastReply(page).locator(".content").filter({hasText: /^.{20}/s}).waitFor();
    assert.equal((await getJson(`${server.url}/health`)).json.running_jobs, 1, "generating when Stop is pressed");
    await page.click("#stop");
    await page.locator('.message.assistant[data-state="stopped"]').waitFor();
    await until(() => server.worker.scheduler.running === 0, 5000, "the running count to return to 0");
    assert.equal((await getJson(`${server.url}/health`)).json.running_jobs, 0);
    const abortsAfter = metricValue(await (await fetch(`${server.url}/metrics`)).text(), "chat_worker_generations_total", {finish_reason: "abort"});
    assert.equal(abortsAfter - abortsBefore, 1, "the worker counted one aborted generation");
    assert.match(await lastReply(page).locator(".meta").textContent() ?? "", /^stopped after/);
    assert.equal(await page.isVisible("#send"), true, "ready for the next message");
    assertNoProblems(opened);
    await page.close();
});

test("Enter sends, Shift+Enter adds a line; settings that are set are sent; API errors are shown", async () => {
    const opened = await openPlayground();
    const {page} = opened;
    const posts = recordPosts(page, "/chat");
    await page.fill("#max-tokens", "5");
    await page.fill("#temperature", "0.5");
    await page.fill("#seed", "42");
    await page.fill("#repetition-penalty", "1.1");
    await page.click("#message");
    await page.keyboard.type("line one");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("line two");
    await page.keyboard.press("Enter");
    await page.locator('.message.assistant[data-state="done"]').waitFor();
    assert.equal(await page.locator(".message.user .content").first().textContent(), "line one\nline two");
    assert.deepEqual(
        (({message, max_tokens, temperature, seed, repetition_penalty}) => ({message, max_tokens, temperature, seed, repetition_penalty}))(posts[0] as any),
        {message: "line one\nline two", max_tokens: 5, temperature: 0.5, seed: 42, repetition_penalty: 1.1});

    // Out of range: the worker's 400 names the field, and the page shows it as it is.
    await page.fill("#max-tokens", "999999");
    await send(page, "too long");
    const error = page.locator(".message.assistant.error");
    await error.waitFor();
    assert.match(await error.textContent() ?? "", /max_tokens/);
    assert.equal(await page.inputValue("#message"), "too long", "the unanswered message is back in the box");
    assert.equal(await page.locator(".message.user.unanswered").count(), 1);
    // The browser logs the 400 response itself; that is the only problem.
    assert.ok(opened.problems.every((problem) => /status of 400/.test(problem)), opened.problems.join("\n"));
    await page.close();
});

test("the debug tab shows the last turn's rendered prompt with the system prompt verbatim", async () => {
    const opened = await openPlayground();
    const {page} = opened;
    const system = "You are <b>terse</b> & exact.\n  Second line keeps its indent; <|im_start|> is text here.";
    await page.fill("#system-prompt", system);
    await page.fill("#max-tokens", "8");
    await send(page, "hello debug");
    await page.locator('.message.assistant[data-state="done"]').waitFor();
    await page.click("#tab-debug");
    await page.locator("#debug-result").waitFor();
    const rendered = await page.textContent("#rendered-prompt") ?? "";
    assert.ok(rendered.includes(system), `the rendered prompt holds the system prompt verbatim:\n${rendered}`);
    assert.ok(rendered.includes("hello debug"));
    assert.equal(await page.textContent("#system-prompt-used"), system);
    assert.equal(await page.getAttribute("#debug-verdict", "data-ok"), "true");
    assert.match(await page.textContent("#debug-verdict") ?? "", /No override detected/);
    assert.match(await page.textContent("#debug-tokens") ?? "", /^\d+$/);
    assert.equal(await page.locator("#rendered-prompt b").count(), 0, "the prompt is shown as text, never as HTML");

    // A next message renders the next turn, with the conversation so far.
    await page.fill("#debug-message", "the next one");
    await page.click("#debug-run");
    await page.locator("#debug-what").filter({hasText: "next turn"}).waitFor();
    await page.locator("#rendered-prompt").filter({hasText: "the next one"}).waitFor();
    const next = await page.textContent("#rendered-prompt") ?? "";
    assert.ok(next.includes("hello debug") && next.includes("the next one"), next);

    // An empty System prompt box sends none: said neutrally, not as an override.
    await page.click("#tab-chat");
    await page.fill("#system-prompt", "");
    await page.click("#tab-debug");
    await page.fill("#debug-message", "no system prompt");
    await page.click("#debug-run");
    await page.locator("#debug-verdict").filter({hasText: "No system prompt sent"}).waitFor();
    assert.equal(await page.getAttribute("#debug-verdict", "data-ok"), "none");
    assert.doesNotMatch(await page.textContent("#debug-verdict") ?? "", /Override detected/);
    assert.equal(await page.getAttribute("#system-prompt", "placeholder"), null, "no placeholder that looks like a prompt");
    assertNoProblems(opened);
    await page.close();
});

test("an enhancement: original beside the enhanced prompt, copied to the clipboard", async () => {
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], {origin: server.url});
    const opened = await openPlayground();
    const {page} = opened;
    await page.click("#tab-enhance");
    const jobTypes = await page.locator("#job-type option").evaluateAll((options) => options.map((option) => (option as HTMLOptionElement).value));
    assert.ok(jobTypes.includes("sdxl_image_fast"), JSON.stringify(jobTypes));
    await page.selectOption("#job-type", "sdxl_image_fast");
    await page.fill("#enhance-prompt", "a cat on a windowsill");
    await page.click("#enhance-run");
    await page.locator("#enhance-result").waitFor();
    assert.equal(await page.textContent("#enhance-original"), "a cat on a windowsill");
    const enhanced = await page.textContent("#enhance-output") ?? "";
    assert.ok(enhanced.length > 0 && !enhanced.includes("\n"), enhanced);
    assert.match(await page.textContent("#enhance-meta") ?? "", /^sdxl_image_fast · fast · \d+ tokens/);
    await page.click("#enhance-copy");
    await page.locator("#enhance-copied").waitFor();
    assert.equal(await page.evaluate("navigator.clipboard.readText()"), enhanced);

    // A quality that contradicts the job type: the worker's 400 is shown.
    await page.selectOption("#quality", "high");
    await page.click("#enhance-run");
    await page.locator("#enhance-error").waitFor();
    assert.match(await page.textContent("#enhance-error") ?? "", /quality/);
    assert.ok(opened.problems.every((problem) => /status of 400/.test(problem)), opened.problems.join("\n"));
    await page.close();
});

test("unload and load from the status strip", async () => {
    const opened = await openPlayground();
    const {page} = opened;
    await page.click("#model-unload");
    await page.locator("#status-state").filter({hasText: "unloaded"}).waitFor();
    assert.equal((await getJson(`${server.url}/health`)).json.model_loaded, false);
    assert.equal(await page.isDisabled("#model-unload"), true);
    await page.click("#model-load");
    await page.locator("#status-state").filter({hasText: /^loaded$/}).waitFor();
    assert.equal((await getJson(`${server.url}/health`)).json.model_loaded, true);
    assertNoProblems(opened);
    await page.close();
});

test("screenshots at desktop and phone widths; nothing is wider than a phone", async () => {
    for (const [name, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
        const opened = await openPlayground(viewport);
        const {page} = opened;
        await page.fill("#system-prompt", "You are a concise assistant.");
        await page.fill("#max-tokens", "40");
        await page.fill("#seed", "7");
        await send(page, "Hello! What can you do?");
        await page.locator('.message.assistant[data-state="done"]').waitFor();
        await page.locator("#status-throughput").filter({hasText: /tok\/s/}).waitFor();
        for (const tab of ["chat", "debug", "enhance"]) {
            await page.click(`#tab-${tab}`);
            if (tab === "debug") await page.locator("#debug-result").waitFor();
            const overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth") as number;
            assert.ok(overflow <= 0, `${name} ${tab}: the page is ${overflow}px wider than the window`);
            await screenshot(page, `playground-${name}-${tab}`);
        }
        assertNoProblems(opened);
        await page.close();
    }
});
