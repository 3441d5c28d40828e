import {Type, type TSchema} from "@sinclair/typebox";

/** Schema builders and limits shared by every API's wire types. */

/** `schema` or null. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A string that is one of `values` (an `enum` in JSON Schema; typed as the union of the values). */
export function StringEnum<const T extends string>(values: readonly T[]) {
    return Type.Unsafe<T>({type: "string", enum: [...values]});
}

/** The settings a request schema's `maximum`s come from. */
export interface GenerationLimits {
    maxTokensLimit: number;
    maxStopSequences: number;
    maxHistoryMessages: number;
}
