/** Node-side model files for the anomaly app: load either kind, re-save atomically (e.g. after calibration). */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { MODEL_FILE, saveModel } from "../../models/files.js";
import { decodeAnomalyModel, encodeAnomalyModel, type AnomalyModel } from "./model-file.js";

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** A model directory's model.safetensors, or the path itself. */
export function anomalyModelPath(pathOrDir: string): string {
  return isDir(pathOrDir) ? join(pathOrDir, MODEL_FILE) : pathOrDir;
}

export function loadAnomalyModel(pathOrDir: string): AnomalyModel {
  const path = anomalyModelPath(pathOrDir);
  if (!existsSync(path)) throw new VaekitError(`model not found: ${path}`);
  return decodeAnomalyModel(new Uint8Array(readFileSync(path)), path);
}

/** Write the model where it was loaded from; readers see the old or the new file, never a torn one. */
export async function saveAnomalyModel(pathOrDir: string, model: AnomalyModel): Promise<void> {
  if (isDir(pathOrDir) || !pathOrDir.endsWith(".safetensors")) {
    if (model.type === "image") await saveModel(pathOrDir, model.bundle);
    else {
      writeFileAtomic(join(pathOrDir, MODEL_FILE), await encodeAnomalyModel(model));
      writeFileAtomic(join(pathOrDir, "config.json"), JSON.stringify(model.bundle.config, null, 2) + "\n");
    }
    return;
  }
  writeFileAtomic(pathOrDir, await encodeAnomalyModel(model));
}
