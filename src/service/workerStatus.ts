import type {Engine, EngineState, EngineStatus, MemoryReport, ModelInfo} from "../engine/types.js";
import type {Scheduler} from "../scheduler/scheduler.js";
import type {ModelLifecycle} from "./modelLifecycle.js";
import type {GpuUtilization} from "./gpuUtilization.js";
import type {MetricTotals, WorkerMetrics} from "./metrics.js";

export type {EngineState, EngineStatus, MemoryReport, ModelInfo} from "../engine/types.js";

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
}

/** Everything the status endpoints report, read from the live objects at the time of the call. */
export class WorkerStatus {
    private readonly startedAt = performance.now();

    constructor(
        private readonly engine: Engine,
        private readonly scheduler: Scheduler,
        private readonly lifecycle: ModelLifecycle,
        private readonly gpu: GpuUtilization,
        private readonly metrics: WorkerMetrics
    ) {}

    jobs(): {running: number; queued: number} {
        return {running: this.scheduler.running, queued: this.scheduler.queued + this.lifecycle.waiting};
    }

    readiness(): Readiness {
        if (this.lifecycle.isShuttingDown)
            return {ready: false, reason: "the worker is shutting down", code: "shutting_down"};
        const status = this.engine.status();
        switch (status.state) {
            case "ready":
                // Still ready while an unload waits: requests meanwhile wait for it and load the model again.
                return this.lifecycle.isUnloading
                    ? {ready: true, reason: "unloading: waiting for running generations; later requests load the model again", code: "unloading"}
                    : {ready: true, reason: null, code: null};
            case "unloaded":
                // Still ready: the next request loads the model again. A probe that failed here would keep
                // the traffic away that is needed to reload it.
                return {ready: true, reason: "model unloaded; the next request loads it again", code: "model_unloaded"};
            case "loading":
                return {
                    ready: false, code: "loading",
                    reason: `loading the model${status.loadProgress != null ? ` (${Math.round(status.loadProgress * 100)}%)` : ""}`
                };
            case "failed":
                return {ready: false, reason: status.reason ?? "the model failed to load", code: status.code ?? "load_failed"};
        }
    }

    async health(): Promise<HealthReport> {
        const status = this.engine.status();
        const readiness = this.readiness();
        const [memory, gpuUtilization, totals] = await Promise.all([this.engine.memory(), this.gpu.read(), this.metrics.totals()]);
        const {running, queued} = this.jobs();
        return {
            status: healthState(status.state, status.code ?? null, this.lifecycle.isShuttingDown),
            reason: readiness.reason,
            reasonCode: readiness.code,
            ready: readiness.ready,
            engineState: status.state,
            modelLoaded: status.state === "ready",
            modelName: this.engine.info().modelName,
            loadProgress: status.loadProgress,
            running,
            queued,
            uptimeSeconds: (performance.now() - this.startedAt) / 1000,
            gpuUtilization,
            memory,
            shuttingDown: this.lifecycle.isShuttingDown,
            totals,
            startedAtMs: performance.timeOrigin + this.startedAt
        };
    }

    memory(): Promise<MemoryReport> {
        return this.engine.memory();
    }

    info(): ModelInfo {
        return this.engine.info();
    }

    engineStatus(): EngineStatus {
        return this.engine.status();
    }

    modelLoaded(): boolean {
        return this.engine.status().state === "ready";
    }
}

/**
 * healthy: serving (an unloaded model counts: it loads on the next request). degraded: up, but the
 * model does not fit the free memory. unhealthy: the model cannot be served (missing or corrupt
 * file, backend failure) or the worker is shutting down.
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
