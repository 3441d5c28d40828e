import fs from "node:fs";

/**
 * The built-in model that `npm start` serves when MODEL_PATH is not set: the synthetic "tiny" preset,
 * written on first start. The generator is imported only then, so a worker serving a real model never
 * loads it.
 */
export async function ensureBuiltinModel(modelPath: string): Promise<"existed" | "created"> {
    if (fs.existsSync(modelPath))
        return "existed";
    const {writeSyntheticModel} = await import("./syntheticModel.js");
    await writeSyntheticModel({preset: "tiny", out: modelPath});
    return "created";
}
