/** Mini-batches over a dataset, one epoch per call (browser-safe). */
import { VaekitError } from "../errors.js";
import { exampleSize, gatherExamples, type Dataset } from "./datasets.js";
import type { Rng } from "./rng.js";

export interface Batch {
  /** batch * (h*w*c) values, NHWC. */
  x: Float32Array;
  /** Which examples of the dataset are in the batch, in order. */
  indices: Int32Array;
}

export interface BatchOptions {
  /** Skip the final short batch so every batch has exactly `batchSize` examples (default false). */
  dropLast?: boolean;
  /** Shuffle the example order with `rng` (default true); false keeps dataset order. */
  shuffle?: boolean;
}

/**
 * One epoch of mini-batches. The order is a fresh permutation drawn from `rng`, so a run is
 * deterministic from the seed the Rng was made with and consecutive epochs differ.
 */
export function batches(ds: Dataset, batchSize: number, rng: Rng, opts: BatchOptions = {}): Generator<Batch> {
  // Checked here rather than in the generator so a bad size fails at the call, not at the first next().
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new VaekitError(`batch size must be a positive whole number, got ${batchSize}`);
  }
  return epochBatches(ds, batchSize, rng, opts);
}

function* epochBatches(ds: Dataset, batchSize: number, rng: Rng, opts: BatchOptions): Generator<Batch> {
  const order = opts.shuffle === false ? identity(ds.n) : rng.permutation(ds.n);
  const size = exampleSize(ds);
  for (let start = 0; start < ds.n; start += batchSize) {
    const end = Math.min(start + batchSize, ds.n);
    if (end - start < batchSize && opts.dropLast) return;
    const indices = order.slice(start, end);
    yield { x: gatherExamples(ds.x, size, indices, ds.n), indices };
  }
}

/** Number of batches one epoch yields. */
export function batchesPerEpoch(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
