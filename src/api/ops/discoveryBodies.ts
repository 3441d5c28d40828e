import type {Capabilities, DebugModelBody, WorkerInfoBody} from "./discoverySchemas.js";
import type {ModelPool} from "../../service/modelPool.js";
import type {RouteRecord} from "../../http/routeList.js";
import {isPageRoute} from "../../http/pages.js";
import {packageRoot} from "../../http/packageRoot.js";


/** "METHOD - summary" by path for every API route registered (pages and HEAD left out): the app's own list, never a hand-kept one. */
export function endpointList(routes: readonly RouteRecord[]): Record<string, string> {
    const endpoints: Record<string, string> = {};
    for (const route of routes) {
        if (route.method === "HEAD" || route.method === "OPTIONS" || isPageRoute(route.url) || route.url.startsWith("/docs")) continue;
        const summary = typeof route.schema?.summary === "string" ? route.schema.summary : "";
        const line = `${route.method}${summary !== "" ? ` - ${summary}` : ""}`;
        endpoints[route.url] = endpoints[route.url] != null ? `${endpoints[route.url]}; ${line}` : line;
    }
    return endpoints;
}

export interface CapabilityFacts {
    routes: readonly RouteRecord[];
    models: ModelPool;
    sfwMode: boolean;
    conversationCache: boolean;
}

export function capabilities({routes, models, sfwMode, conversationCache}: CapabilityFacts): Capabilities {
    const has = (url: string) => routes.some((route) => route.url === url && route.method === "POST");
    return {
        chat: has("/chat"),
        generate: has("/generate"),
        enhance: has("/enhance"),
        streaming: true,
        openai_compatible: has("/v1/chat/completions"),
        message_formats: ["messages", "message"],
        sfw_mode: sfwMode,
        models: models.names(),
        model_selection: models.routesByName,
        conversation_cache: conversationCache
    };
}

export function workerInfoBody(models: ModelPool, caps: Capabilities, endpoints: Record<string, string>): WorkerInfoBody {
    const list = models.all.map((served, index) => {
        const info = served.engine.info();
        const state = served.lifecycle.status().state;
        return {
            name: served.name, loaded: state === "ready", state, model_type: info.modelType,
            context_size: info.contextSize, parallel_sequences: info.parallel, default: index === 0
        };
    });
    return {
        worker_type: "chat",
        architecture: "pure_inference_engine",
        version: packageRoot().version,
        message_format: "messages",
        capabilities: caps,
        models: list,
        models_loaded: list.filter((model) => model.loaded).map((model) => model.name),
        endpoints
    };
}

export function debugModelBody(models: ModelPool): DebugModelBody {
    const list = models.all.map((served) => {
        const status = served.lifecycle.status();
        return {name: served.name, state: status.state, model_type: served.engine.info().modelType, reason: status.reason};
    });
    const loaded = (type: string) => list.some((model) => model.state === "ready" && model.model_type === type);
    return {
        active_model: models.default.name,
        loaded: Object.fromEntries(list.map((model) => [model.name, model.state === "ready"])),
        instruct_loaded: loaded("instruct"),
        base_loaded: loaded("base"),
        models: list
    };
}
