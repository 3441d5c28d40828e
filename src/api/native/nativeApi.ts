import type {FastifyInstance} from "fastify";
import type {Config} from "../../config/config.js";
import type {ChatService} from "../../service/chatService.js";
import type {EnhanceService} from "../../service/enhanceService.js";
import {errorHandler, NATIVE_ENVELOPE, type ErrorEnvelope} from "../../http/errorHandler.js";
import {chatRoutes} from "./chatRoutes.js";
import {enhanceRoutes} from "./enhanceRoutes.js";

export interface NativeApiDeps {
    config: Config;
    chat: ChatService;
    /** Optional so that an app for the chat routes alone (some tests) needs no templates. */
    enhance?: EnhanceService;
}

/**
 * The native envelope, blaming a prompt too long for the context on the field that holds it:
 * `messages` in the messages shape, else the route's (`prompt` on /enhance, `message`).
 */
export const NATIVE_API_ENVELOPE: ErrorEnvelope = {
    ...NATIVE_ENVELOPE,
    promptField: (request) => {
        const body = request.body;
        if (typeof body === "object" && body != null && Array.isArray((body as {messages?: unknown}).messages))
            return "messages";
        return NATIVE_ENVELOPE.promptField(request);
    }
};

/**
 * The native API (/chat, /generate, /chat/debug/system-prompt, /enhance...): an encapsulated
 * plugin whose errors use the native envelope `{success: false, error, code}`. Its routes have no
 * common prefix, so an unknown path falls to the app's not-found handler, which uses the same
 * envelope (Fastify has one not-found handler per prefix).
 */
export async function nativeApi(app: FastifyInstance, {config, chat, enhance}: NativeApiDeps): Promise<void> {
    app.setErrorHandler(errorHandler(NATIVE_API_ENVELOPE));
    await app.register(chatRoutes, {config, chat});
    if (enhance != null)
        await app.register(enhanceRoutes, {config, chat, enhance});
}
