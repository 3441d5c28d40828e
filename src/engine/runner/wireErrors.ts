import {ContextOverflowError, WorkerError} from "../../errors.js";
import type {WireError} from "./protocol.js";

/** An error thrown in the runner, as it crosses to the HTTP process; anything but a WorkerError is internal. */
export function toWire(err: unknown): WireError {
    if (err instanceof ContextOverflowError)
        return {name: err.name, kind: err.kind, code: err.code, message: err.message, details: err.details, facts: err.facts};
    if (err instanceof WorkerError)
        return {name: err.name, kind: err.kind, code: err.code, message: err.message, details: err.details};
    return {name: "Error", kind: "internal", code: "runner_error", message: err instanceof Error ? err.message : String(err), details: {}};
}

/** The WorkerError a wire error stands for, of the same class where callers test for one. */
export function fromWire(wire: WireError): WorkerError {
    if (wire.facts != null)
        return new ContextOverflowError(wire.facts);
    const err = new WorkerError(wire.kind, wire.code, wire.message, wire.details);
    err.name = wire.name;
    return err;
}
