import type {ErrorBody} from "../../protocol/native.js";
import type {Problem} from "./errorMapping.js";

/** The native error envelope: `{success: false, error, code, param?}`. */
export function nativeErrorBody(problem: Problem): ErrorBody {
    return {
        success: false,
        error: problem.message,
        code: problem.code,
        ...(problem.param != null ? {param: problem.param} : {})
    };
}
