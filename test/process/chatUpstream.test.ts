// The /chat and debug contract tests of test/process/chat.test.ts, run against a worker with ENGINE=openai
// that forwards to an embedded worker's /v1: both engines must pass the same tests.
process.env.CHAT_TEST_ENGINE = "openai";
await import("./chat.test.js");
