/** Node-side model files: a directory with model.safetensors + config.json, or a .safetensors path. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { VaekitError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { decodeModel, encodeModel, type ModelBundle } from "./io.js";

export const MODEL_FILE = "model.safetensors";

export function modelPath(pathOrDir: string): string {
  if (existsSync(pathOrDir) && statSync(pathOrDir).isDirectory()) return join(pathOrDir, MODEL_FILE);
  return pathOrDir;
}

/** Save atomically: the old model stays intact until the new one is complete. */
export async function saveModel(dir: string, bundle: ModelBundle): Promise<void> {
  writeFileAtomic(join(dir, MODEL_FILE), await encodeModel(bundle));
  writeFileAtomic(join(dir, "config.json"), JSON.stringify(bundle.config, null, 2) + "\n");
}

export function loadModel(pathOrDir: string, configOverride?: unknown): ModelBundle {
  const path = modelPath(pathOrDir);
  if (!existsSync(path)) throw new VaekitError(`model not found: ${path}`);
  return decodeModel(new Uint8Array(readFileSync(path)), path, configOverride);
}
