import { z } from "zod";

export const Binarize = z.enum(["none", "dynamic", "static"]);
export type Binarize = z.infer<typeof Binarize>;

/**
 * What runs the training step. jax: the engine's jitted step on the active device (wasm/webgpu),
 * or, with workers > 1, data-parallel worker threads (wasm). onnx: the traced gradient on ONNX
 * Runtime's native CPU kernels (Node, optional onnxruntime-node) with `workers` intra-op threads.
 */
export const TrainEngine = z.enum(["jax", "onnx"]);
export type TrainEngine = z.infer<typeof TrainEngine>;

/**
 * The onnx engine's graphs run on the CPU and trade host arrays with the engine, which must then be
 * on the wasm device (WebGPU has no synchronous readback in Node, and a GPU gains nothing here).
 */
export const ONNX_NEEDS_WASM = "--engine onnx runs on ONNX Runtime's CPU kernels beside the wasm device; use --device wasm (or auto) with it";

/** Everything that decides a training run besides the model; stored in every checkpoint. */
export const TrainConfig = z.object({
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive().default(128),
  lr: z.number().positive().default(1e-3),
  seed: z.number().int().nonnegative().default(0),
  /** dynamic: a fresh Bernoulli sample of every batch; static: sampled once from the seed. */
  binarize: Binarize.default("dynamic"),
  /** Clip the global gradient norm (0 = off). */
  clipNorm: z.number().nonnegative().default(0),
  /** How steps are computed; it changes speed, not the loss (the noise stream differs for onnx). */
  engine: TrainEngine.default("jax"),
  /** jax: data-parallel worker threads (1 = the main thread); onnx: ONNX Runtime threads. */
  workers: z.number().int().positive().default(1),
  /**
   * jax on one thread: compute each batch's gradient in chunks of this many rows, one after
   * another, and add them up: the same step in less memory (0 = the whole batch at once).
   */
  microBatch: z.number().int().nonnegative().default(0),
});
export type TrainConfig = z.infer<typeof TrainConfig>;
