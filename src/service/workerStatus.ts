import type {DownloadProgress, EngineState, EngineStatus, MemoryReport, ModelInfo} from "../engine/types.js";
import type {ModelPool, ServedModel} from "./modelPool.js";
import type {GpuUtilization} from "./gpuUtilization.js";
import type {MetricTotals, WorkerMetrics} from "./metrics.js";

export type {DownloadProgress, EngineState, EngineStatus, MemoryReport, ModelInfo} from "../engine/types.js";

export type HealthState = "healthy" | "loading" | "degraded" | "unhealthy";

export interface Readiness {
    /** True when a request sent now would be served (after a lazy reload, if the model was unloaded). */
    ready: boolean;
    reason: string | null;
    code: string | null;
}

export interface HealthReport {
    status: HealthState;
    /** Why the status is not plain healthy; null when there is nothing to say. */
    reason: string | null;
    reasonCode: string | null;
    ready: boolean;
    engineState: EngineState;
    modelLoaded: boolean;
    modelName: string;
    /** 0..1 while loading, else null. */
    loadProgress: number | null;
    /** While the model's files are downloaded (MODEL), how far; else null. */
    download: DownloadProgress | null;
    running: number;
    /** Waiting for a sequence, or for the model to load. */
    queued: number;
    uptimeSeconds: number;
    gpuUtilization: number | null;
    memory: MemoryReport;
    shuttingDown: boolean;
    /** Counters since start, from the metrics registry. */
    totals: MetricTotals;
    /** When this worker started, in milliseconds since the Unix epoch. */
    startedAtMs: number;
    /** Each served model (the default first), as the top-level fields report the default one. */
    models: ModelReport[];
}

/** One served model's state, for /health's `models`. */
export interface ModelReport {
    name: string;
    status: HealthState;
    readiness: Readiness;
    engine: EngineStatus;
    running: number;
    queued: number;
    memory: MemoryReport;
}

/**
 * Everything the status endpoints report, read from the live objects at the time of the call.
 * The top-level figures are the default model's (the only one unless MODELS names several);
 * `model` picks another where a route reports one model.
 */
export class WorkerStatus {
    private readonly startedAt = performance.now();

    constructor(
        readonly models: ModelPool,
        private readonly gpu: GpuUtilization,
        private readonly metrics: WorkerMetrics
    ) {}

    /** Requests generating and waiting, over every model. */
    jobs(): {running: number; queued: number} {
        return {running: this.models.running, queued: this.models.queued};
    }

    readiness(model?: string): Readiness {
        return readinessOf(this.pick(model), this.models.isShuttingDown);
    }

    async health(): Promise<HealthReport> {
        const served = this.models.default;
        const status = served.lifecycle.status();
        const readiness = readinessOf(served, this.models.isShuttingDown);
        const [gpuUtilization, totals, models] = await Promise.all([this.gpu.read(), this.metrics.totals(), this.modelReports()]);
        const memory = combined(models.map((model) => model.memory));
        const {running, queued} = this.jobs();
        let state = healthState(status.state, status.code ?? null, this.models.isShuttingDown);
        let reason = readiness.reason;
        let reasonCode = readiness.code;
        // Another model that cannot be served makes the worker degraded, not silently healthy.
        const failing = models.slice(1).find((model) => model.engine.state === "failed");
        if (state === "healthy" && failing != null) {
            state = "degraded";
            reason = `model ${failing.name}: ${failing.readiness.reason ?? "failed to load"}`;
            reasonCode = failing.readiness.code;
        }
        return {
            status: state, reason, reasonCode,
            ready: readiness.ready,
            engineState: status.state,
            modelLoaded: status.state === "ready",
            modelName: served.name,
            loadProgress: status.loadProgress,
            download: status.download ?? null,
            running,
            queued,
            uptimeSeconds: (performance.now() - this.startedAt) / 1000,
            gpuUtilization,
            memory,
            shuttingDown: this.models.isShuttingDown,
            totals,
            startedAtMs: performance.timeOrigin + this.startedAt,
            models
        };
    }

    async modelReports(): Promise<ModelReport[]> {
        return Promise.all(this.models.all.map(async (served): Promise<ModelReport> => {
            const engine = served.lifecycle.status();
            return {
                name: served.name,
                status: healthState(engine.state, engine.code ?? null, this.models.isShuttingDown),
                readiness: readinessOf(served, this.models.isShuttingDown),
                engine,
                running: served.scheduler.running,
                queued: served.scheduler.queued + served.lifecycle.waiting,
                memory: await served.engine.memory()
            };
        }));
    }

    /**
     * One model's memory; without `model`, the device's figures with every model's share added
     * up (what the original's allocated VRAM meant: all the worker holds).
     */
    async memory(model?: string): Promise<MemoryReport> {
        if (model != null || !this.models.routesByName)
            return this.pick(model).engine.memory();
        return combined(await Promise.all(this.models.all.map((served) => served.engine.memory())));
    }

    info(model?: string): ModelInfo {
        return this.pick(model).engine.info();
    }

    engineStatus(model?: string): EngineStatus {
        return this.pick(model).lifecycle.status();
    }

    modelLoaded(model?: string): boolean {
        return this.pick(model).lifecycle.status().state === "ready";
    }

    private pick(model: string | undefined): ServedModel {
        return model == null ? this.models.default : this.models.resolve(model);
    }
}

/** The device's figures (the first report's), with every model's share added up. */
function combined(reports: MemoryReport[]): MemoryReport {
    if (reports.length === 1) return reports[0];
    const held = reports.map((report) => report.modelBytes).filter((bytes): bytes is number => bytes != null);
    return {...reports[0], modelBytes: held.length === 0 ? null : held.reduce((sum, bytes) => sum + bytes, 0)};
}

function readinessOf(served: ServedModel, shuttingDown: boolean): Readiness {
    if (shuttingDown)
        return {ready: false, reason: "the worker is shutting down", code: "shutting_down"};
    const status = served.lifecycle.status();
    switch (status.state) {
        case "ready":
            // Still ready while an unload waits: requests meanwhile wait for it and load the model again.
            return served.lifecycle.isUnloading
                ? {ready: true, reason: "unloading: waiting for running generations; later requests load the model again", code: "unloading"}
                : {ready: true, reason: null, code: null};
        case "unloaded":
            // Still ready: the next request loads the model again. A probe that failed here would keep
            // the traffic away that is needed to reload it.
            return {ready: true, reason: "model unloaded; the next request loads it again", code: "model_unloaded"};
        case "loading":
            if (status.download != null)
                return {ready: false, code: "downloading", reason: `downloading the model: ${downloadText(status.download)}`};
            return {
                ready: false, code: status.code === "runner_restarting" ? "runner_restarting" : "loading",
                reason: status.reason ?? `loading the model${status.loadProgress != null ? ` (${Math.round(status.loadProgress * 100)}%)` : ""}`
            };
        case "failed": {
            const retry = served.lifecycle.retryInSeconds;
            const reason = status.reason ?? "the model failed to load";
            return {ready: false, reason: retry != null ? `${reason}; trying again in ${retry} s` : reason, code: status.code ?? "load_failed"};
        }
    }
}

/** "42% of 4.36 GiB", or the bytes so far while the size is not known yet. */
function downloadText(download: DownloadProgress): string {
    const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
    return download.totalBytes != null && download.totalBytes > 0
        ? `${Math.floor(download.doneBytes / download.totalBytes * 100)}% of ${gib(download.totalBytes)}`
        : `${gib(download.doneBytes)} so far`;
}

/**
 * healthy: serving (an unloaded model counts: it loads on the next request). degraded: up, but the
 * model does not fit the free memory. unhealthy: the model cannot be served (missing or corrupt
 * file, failed download, backend failure) or the worker is shutting down.
 */
function healthState(state: EngineState, code: string | null, shuttingDown: boolean): HealthState {
    if (shuttingDown) return "unhealthy";
    switch (state) {
        case "ready":
        case "unloaded":
            return "healthy";
        case "loading":
            return "loading";
        case "failed":
            return code === "insufficient_memory" ? "degraded" : "unhealthy";
    }
}
