import {test, before, after} from "node:test";
import assert from "node:assert/strict";
import {getLlama, LlamaGrammarEvaluationState, type Llama, type LlamaModel, type Token} from "node-llama-cpp";
import {testModelPath} from "../helpers/testWorker.js";
import {
    cutAtPhraseBoundary, dropLastPhrase, MAX_WORD_CHARS, MIN_TOKEN_BUDGET, outputGrammar, phraseLimits, PREAMBLE_OPENERS
} from "../../src/service/enhanceOutputFormat.js";

/*
 * The synthetic model never tries to write "Sure! Here is...", so these tests ask llama.cpp's own
 * grammar engine directly whether a text may be generated: token by token, is it allowed next, and
 * may the generation end after it. That goes through node-llama-cpp's internal sampler binding
 * (stable: the package is pinned to 3.21.1 exactly).
 */

let llama: Llama;
let model: LlamaModel;

before(async () => {
    llama = await getLlama({gpu: false, build: "never", maxThreads: 1});
    model = await llama.loadModel({modelPath: await testModelPath()});
});
after(() => llama.dispose());

interface SamplerBinding {
    canBeNextTokenForGrammarEvaluationState(state: unknown, token: Token): boolean;
    acceptGrammarEvaluationStateToken(state: unknown, token: Token): void;
}

/** True when the grammar lets a model generate exactly `text` and then end. */
async function accepts(grammarText: string, text: string): Promise<boolean> {
    const grammar = await llama.createGrammar({grammar: grammarText});
    const state = new LlamaGrammarEvaluationState({model, grammar});
    const sampler = (llama as unknown as {_bindings: {AddonSampler: SamplerBinding}})._bindings.AddonSampler;
    const raw = (state as unknown as {_state: unknown})._state;
    for (const token of model.tokenize(text, false)) {
        if (!sampler.canBeNextTokenForGrammarEvaluationState(raw, token))
            return false;
        sampler.acceptGrammarEvaluationStateToken(raw, token);
    }
    return sampler.canBeNextTokenForGrammarEvaluationState(raw, model.tokens.eos!);
}

const image = outputGrammar("image", 75);
const imageHigh = outputGrammar("image", 120);
const video = outputGrammar("video", 160);

test("the image grammar accepts a clean comma-separated prompt", async () => {
    for (const text of [
        "masterpiece, best quality, ultra-detailed, beautiful woman, professional photography",
        "beautiful woman",
        "Surreal landscape, Okapi in tall grass, Imagine dragons, Illustration, Sureness",
        "8k, 85mm lens, f1"
    ])
        assert.equal(await accepts(image, text), true, text);
});

test("the image grammar refuses preambles, quotes, line breaks, colons and unfinished output", async () => {
    for (const text of [
        "Sure, masterpiece, best quality",
        "SURE, masterpiece",
        "Here is an enhanced prompt, masterpiece",
        "Here is an enhanced prompt: masterpiece",
        "Certainly, beautiful woman",
        "Ok, beautiful woman",
        "I enhanced it, beautiful woman",
        "Enhanced prompt, beautiful woman",
        "\"masterpiece, best quality\"",
        "'masterpiece'",
        "masterpiece,\nbest quality",
        "masterpiece, best quality.",
        "masterpiece, best quality,",
        "masterpiece,, best quality",
        " masterpiece",
        "masterpiece ",
        "",
        "(masterpiece:1.2), best quality",
        "beautiful woman!",
        "belle femme \u00e9l\u00e9gante"
    ])
        assert.equal(await accepts(image, text), false, JSON.stringify(text));
    for (const opener of PREAMBLE_OPENERS)
        assert.equal(await accepts(image, `${opener}, beautiful woman`), false, opener);
});

test("words and phrases are bounded, so the first phrase always fits the budget", async () => {
    const word = "a".repeat(MAX_WORD_CHARS);
    assert.equal(await accepts(image, `${word}, b`), true);
    assert.equal(await accepts(image, `${word}a, b`), false, "a word longer than MAX_WORD_CHARS");
    // Budget 75 leaves room for a first phrase of floor(75 / 17) = 4 longest words; later phrases may have 6.
    assert.equal(await accepts(image, "one two three four, five six seven eight nine ten"), true);
    assert.equal(await accepts(image, "one two three four five, six"), false);
    assert.equal(await accepts(image, "one, two three four five six seven eight"), false, "7 words");
    assert.equal(await accepts(imageHigh, "one two three four five six, x"), true);
    const longestFirst = Array.from({length: 4}, () => word).join(" ");
    assert.ok(longestFirst.length < 75, "the longest first phrase is shorter than the budget in characters");
    assert.throws(() => outputGrammar("image", MIN_TOKEN_BUDGET - 1), RangeError);
});

test("the video grammar accepts fluent sentences ended by a period and refuses the rest", async () => {
    for (const text of [
        "A woman in a red coat walks, the camera tracks her slowly along a rainy street at night. Neon signs flicker.",
        "Waves crash against the cliffs at dawn."
    ])
        assert.equal(await accepts(video, text), true, text);
    for (const text of [
        "A woman walks along the street",
        "Sure. A woman walks.",
        "Here is the video prompt. A woman walks.",
        "A woman walks.\nThe camera pans.",
        "A woman walks; the camera pans.",
        "\"A woman walks.\"",
        "Scene: a woman walks.",
        "A woman walks..",
        "A woman walks. ",
        // Budget 160 bounds the first clause to floor(160 / 17) = 9 words; later clauses may have 16.
        "A woman in a red coat walks along a rainy street."
    ])
        assert.equal(await accepts(video, text), false, JSON.stringify(text));
    assert.deepEqual(phraseLimits("video", 160), {firstPhraseMaxWords: 9, phraseMaxWords: 16});
    assert.deepEqual(phraseLimits("image", 75), {firstPhraseMaxWords: 4, phraseMaxWords: 6});
});

test("a cut output ends at the last phrase boundary, never inside a word", () => {
    assert.equal(cutAtPhraseBoundary("masterpiece, best quality, ultra deta", "image"), "masterpiece, best quality");
    assert.equal(cutAtPhraseBoundary("masterpiece, best quality, ", "image"), "masterpiece, best quality");
    assert.equal(cutAtPhraseBoundary("masterpiece, best quality,", "image"), "masterpiece, best quality");
    assert.equal(cutAtPhraseBoundary("masterpie", "image"), "");
    assert.equal(cutAtPhraseBoundary("A woman walks. The camera pa", "video"), "A woman walks.");
    assert.equal(cutAtPhraseBoundary("A woman walks, the camera pa", "video"), "A woman walks");
    assert.equal(cutAtPhraseBoundary("A woman walks. The camera pans, slow", "video"), "A woman walks. The camera pans");
    assert.equal(cutAtPhraseBoundary("A woman walks", "video"), "");
    assert.equal(dropLastPhrase("a, b c, d", "image"), "a, b c");
    assert.equal(dropLastPhrase("a", "image"), "");
    assert.equal(dropLastPhrase("A b, c d. E f.", "video"), "A b, c d.");
    assert.equal(dropLastPhrase("A b, c d.", "video"), "A b");
});
