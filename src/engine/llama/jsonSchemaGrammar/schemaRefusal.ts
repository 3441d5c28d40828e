/**
 * A schema the compiler will not turn into a grammar: `path` is where in the schema (".properties.a"),
 * the message says why. The caller turns it into a 400 naming the schema's field.
 */
export class SchemaRefusal extends Error {
    constructor(readonly path: string, message: string) {
        super(message);
    }
}

/** Refuses with `message` at `path`. */
export function refuse(path: string, message: string): never {
    throw new SchemaRefusal(path, message);
}
