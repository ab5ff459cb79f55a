/**
 * The in-memory image dataset used across vaekit, and pure helpers on it (browser-safe).
 * File loaders (embedded MNIST, Fashion-MNIST, IDX files on disk) are Node-only and live in load.ts.
 */
import { VaekitError } from "../errors.js";
import type { IdxArray } from "./idx.js";
import { Rng } from "./rng.js";

export interface Dataset {
  name: string;
  /** n * (h*w*c) pixel values in [0,1], row-major, NHWC per example (channel last). */
  x: Float32Array;
  /** [h, w, c], e.g. [28, 28, 1]. */
  shape: [number, number, number];
  n: number;
  /** Optional class labels, one per example. */
  labels?: Int32Array;
  classNames?: string[];
}

export type BinarizeMode = "none" | "static";

export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

export const DIGIT_CLASSES: readonly string[] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/** Values per example: h * w * c. */
export function exampleSize(ds: Pick<Dataset, "shape">): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/**
 * Check a dataset built from user-supplied values: consistent sizes, every pixel finite and in [0,1],
 * labels non-negative integers. Throws VaekitError naming `source` and the first bad value.
 */
export function validateDataset(ds: Dataset, source = ds.name): Dataset {
  const [h, w, c] = ds.shape;
  for (const d of ds.shape) {
    if (!Number.isInteger(d) || d <= 0) throw new VaekitError(`${source}: bad example shape [${ds.shape.join(", ")}]`);
  }
  if (!Number.isInteger(ds.n) || ds.n < 0) throw new VaekitError(`${source}: bad example count ${ds.n}`);
  const size = h * w * c;
  if (ds.x.length !== ds.n * size) {
    throw new VaekitError(
      `${source}: ${ds.x.length} pixel values do not fit ${ds.n} examples of shape ${h}×${w}×${c} (${ds.n * size} expected)`,
    );
  }
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i];
    // `!(v >= 0 && v <= 1)` is also true for NaN.
    if (!(v >= 0 && v <= 1)) {
      const example = Math.floor(i / size);
      throw new VaekitError(
        `${source}: pixel value ${v} in example ${example} (index ${i % size}) is ${Number.isNaN(v) ? "NaN" : "outside [0, 1]"}`,
      );
    }
  }
  if (ds.labels) {
    if (ds.labels.length !== ds.n) {
      throw new VaekitError(`${source}: ${ds.labels.length} labels for ${ds.n} examples`);
    }
    for (let i = 0; i < ds.labels.length; i++) {
      if (ds.labels[i] < 0) throw new VaekitError(`${source}: label ${ds.labels[i]} of example ${i} is negative`);
      if (ds.classNames && ds.labels[i] >= ds.classNames.length) {
        throw new VaekitError(
          `${source}: label ${ds.labels[i]} of example ${i} has no class name (${ds.classNames.length} classes)`,
        );
      }
    }
  }
  return ds;
}

/** Build a validated dataset; `n` is inferred from the shape. */
export function createDataset(fields: Omit<Dataset, "n"> & { n?: number }): Dataset {
  const size = exampleSize(fields);
  const n = fields.n ?? Math.floor(fields.x.length / size);
  return validateDataset({ ...fields, n });
}

/** The examples at `indices`, in that order (copied). Labels and class names follow along. */
export function subset(ds: Dataset, indices: Int32Array, name = ds.name): Dataset {
  const size = exampleSize(ds);
  const x = gatherExamples(ds.x, size, indices, ds.n);
  const out: Dataset = { name, x, shape: [...ds.shape], n: indices.length };
  if (ds.labels) {
    const labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) labels[i] = ds.labels[indices[i]];
    out.labels = labels;
  }
  if (ds.classNames) out.classNames = [...ds.classNames];
  return out;
}

/** Copy rows `indices` of a row-major [n, size] array into a new [indices.length, size] array. */
export function gatherExamples(x: Float32Array, size: number, indices: Int32Array, n = x.length / size): Float32Array {
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < n)) throw new VaekitError(`example index ${j} is out of range (0..${n - 1})`);
    out.set(x.subarray(j * size, (j + 1) * size), i * size);
  }
  return out;
}

/**
 * A dataset from parsed IDX arrays. Images of rank 3 [n, h, w] become [h, w, 1];
 * rank 4 [n, h, w, c] stays channel-last; rank 2 [n, d] becomes [1, d, 1]. Bytes are scaled by 1/255.
 */
export function datasetFromIdx(
  name: string,
  images: IdxArray,
  labels?: IdxArray,
  opts: { imagesSource?: string; labelsSource?: string; classNames?: string[] } = {},
): Dataset {
  const imagesSource = opts.imagesSource ?? `${name} images`;
  const labelsSource = opts.labelsSource ?? `${name} labels`;
  const [n, ...rest] = images.dims;
  let shape: [number, number, number];
  if (rest.length === 2) shape = [rest[0], rest[1], 1];
  else if (rest.length === 3) shape = [rest[0], rest[1], rest[2]];
  else if (rest.length === 1) shape = [1, rest[0], 1];
  else {
    throw new VaekitError(
      `${imagesSource}: images must have 2 to 4 dimensions (n, h, w[, c]); got ${images.dims.length} (${images.dims.join("×")})`,
    );
  }
  if (shape.some((d) => d === 0)) throw new VaekitError(`${imagesSource}: empty image shape ${images.dims.join("×")}`);
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] / 255;
  const ds: Dataset = { name, x, shape, n };
  if (labels) {
    if (labels.dims.length !== 1) {
      throw new VaekitError(`${labelsSource}: labels must have 1 dimension; got ${labels.dims.join("×")}`);
    }
    if (labels.dims[0] !== n) {
      throw new VaekitError(`${labelsSource}: ${labels.dims[0]} labels but ${imagesSource} has ${n} images`);
    }
    ds.labels = Int32Array.from(labels.data);
    if (opts.classNames) {
      const max = ds.labels.reduce((m, v) => Math.max(m, v), 0);
      if (max >= opts.classNames.length) {
        throw new VaekitError(`${labelsSource}: label ${max} has no class name (${opts.classNames.length} classes)`);
      }
      ds.classNames = [...opts.classNames];
    }
  }
  return ds;
}

/**
 * Binarise pixel intensities. "static" samples every pixel once as Bernoulli(p) with a seeded Rng,
 * so the same seed always gives the same binary dataset (the usual fixed binarised-MNIST setup).
 * "none" returns the dataset unchanged.
 */
export function binarize(ds: Dataset, mode: BinarizeMode, seed: number): Dataset {
  if (mode === "none") return ds;
  if (mode !== "static") throw new VaekitError(`unknown binarisation mode "${mode as string}" (expected none or static)`);
  return { ...ds, x: binarizeBatchHost(ds.x, new Rng(seed)) };
}

/** Bernoulli(p) sample of every value of `x` on the host (the device does dynamic binarisation itself). */
export function binarizeBatchHost(x: Float32Array, rng: Rng): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = rng.uniform() < x[i] ? 1 : 0;
  return out;
}

/**
 * Seeded random split into train and validation parts. `validation` below 1 is a fraction of the
 * examples (rounded); 1 or more is an exact count. Each part keeps the original example order.
 */
export function trainValidationSplit(
  ds: Dataset,
  validation: number,
  seed: number,
): { train: Dataset; validation: Dataset } {
  if (!(validation >= 0)) throw new VaekitError(`validation size must be >= 0, got ${validation}`);
  if (validation >= 1 && !Number.isInteger(validation)) {
    throw new VaekitError(`validation count must be a whole number (or a fraction below 1), got ${validation}`);
  }
  const count = validation < 1 ? Math.round(validation * ds.n) : validation;
  if (count > ds.n) throw new VaekitError(`validation count ${count} exceeds the ${ds.n} examples of ${ds.name}`);
  const [validationIdx, trainIdx] = randomPartition(ds.n, count, seed);
  return {
    train: subset(ds, trainIdx),
    validation: subset(ds, validationIdx, `${ds.name} (validation)`),
  };
}

/**
 * Split 0..n-1 at random into a part of `firstCount` indices and the rest, each sorted ascending,
 * from a seeded permutation.
 */
export function randomPartition(n: number, firstCount: number, seed: number): [Int32Array, Int32Array] {
  const perm = new Rng(seed).permutation(n);
  const first = perm.slice(0, firstCount).sort();
  const rest = perm.slice(firstCount).sort();
  return [first, rest];
}
