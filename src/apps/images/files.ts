/**
 * Node-side inputs for the image commands: single images fitted to a model's input, labelled
 * data from a dataset spec or a folder of class sub-folders, and re-saving a model in place.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { loadImageFolder, readImage, type LabelledImageFolder } from "../../io/files.js";
import { fitTo, stackImages, type FitMode, type ImageShape } from "../../io/image.js";
import { loadDataset, mnistStyleFiles, type Split } from "../../data/load.js";
import type { Dataset } from "../../data/datasets.js";
import type { VaeConfig } from "../../models/config.js";
import { encodeModel, type ModelBundle } from "../../models/io.js";
import { modelPath, saveModel } from "../../models/files.js";

export interface InputOptions {
  fit?: FitMode;
  /** 1 − v per value: dark-on-light drawings for models trained on light-on-dark digits. */
  invert?: boolean;
}

function modelShape(config: VaeConfig): ImageShape {
  const [h, w, c] = config.inputShape;
  if (c !== 1 && c !== 3) throw new VaekitError(`the model's input has ${c} channels; image files need 1 or 3`);
  return [h, w, c];
}

/** A PNG/JPEG file as one model input row (D values), resized/cropped/padded to the model's shape. */
export function readModelInput(path: string, config: VaeConfig, options: InputOptions = {}): Float32Array {
  const x = fitTo(readImage(path), modelShape(config), { mode: options.fit ?? "resize" }).data;
  return options.invert ? x.map((v) => 1 - v) : x;
}

/** Several files as an n×D batch. */
export function readModelInputs(paths: readonly string[], config: VaeConfig, options: InputOptions = {}): Float32Array {
  const D = config.inputShape[0] * config.inputShape[1] * config.inputShape[2];
  const out = new Float32Array(paths.length * D);
  paths.forEach((p, i) => out.set(readModelInput(p, config, options), i * D));
  return out;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/** A folder of images, or of class sub-folders of images (not an IDX directory). */
function isImageFolder(path: string, split: Split): boolean {
  return isDirectory(path) && !existsSync(mnistStyleFiles(path, split).images);
}

/**
 * Examples in the model's input shape from a dataset spec (see loadDataset) or an image folder;
 * a folder of sub-folders is labelled, one class per sub-folder. At most `limit` examples
 * (the first ones; the embedded and IDX sets are already shuffled or class-interleaved).
 */
export function loadImageData(spec: string, split: Split, config: VaeConfig, limit?: number): Dataset {
  let ds: Dataset;
  if (isImageFolder(spec, split)) {
    const shape = modelShape(config);
    const labelled = readdirSync(spec).some((name) => !name.startsWith(".") && isDirectory(join(spec, name)));
    const folder = labelled ? loadImageFolder(spec, { labels: true, shape }) : loadImageFolder(spec, { shape });
    ds = { name: spec, x: stackImages(folder.images).data, shape: [...shape], n: folder.images.length };
    if (labelled) {
      const { labels, classNames } = folder as LabelledImageFolder;
      ds = { ...ds, labels, classNames };
    }
  } else {
    ds = loadDataset(spec, split);
    const want = config.inputShape.join("×");
    if (ds.shape.join("×") !== want) throw new VaekitError(`${ds.name} has examples of shape ${ds.shape.join("×")} but the model expects ${want}`);
  }
  if (limit !== undefined && limit < ds.n) {
    const D = ds.x.length / ds.n;
    ds = { ...ds, n: limit, x: ds.x.slice(0, limit * D), labels: ds.labels?.slice(0, limit) };
  }
  return ds;
}

/** The dataset spec the model was trained on (kept in its extras by `vaekit train`), else "mnist". */
export function trainingDataSpec(bundle: ModelBundle): string {
  const training = bundle.extras.training as { data?: unknown } | undefined;
  // a run started from the library records the dataset's name, e.g. "mnist:train"
  return typeof training?.data === "string" ? training.data.replace(/:(train|test)$/, "") : "mnist";
}

/** Write the bundle back where it was loaded from, atomically (a directory or a .safetensors file). */
export async function resaveModel(pathOrDir: string, bundle: ModelBundle): Promise<string> {
  if (isDirectory(pathOrDir)) {
    await saveModel(pathOrDir, bundle);
    return modelPath(pathOrDir);
  }
  writeFileAtomic(pathOrDir, await encodeModel(bundle));
  return pathOrDir;
}
