/**
 * The "V" of World Models on frames (browser-safe): a VAE trained on random-rollout frames, and its
 * encoder mean z = μ(x) as the controller's state features.
 *
 * Frames are grayscale or RGB values in [0,1]; the decoder's likelihood is Bernoulli (cross-entropy
 * on the continuous pixel values, no binarisation), which keeps small bright objects (the ball) from
 * being averaged away as they would be under a unit-variance Gaussian.
 */
import { jitted, np, toHost, tree, type Array } from "../../engine/index.js";
import { VaekitError } from "../../errors.js";
import { trainValidationSplit, type Dataset } from "../../data/datasets.js";
import { inputSize, parseVaeConfig, type VaeConfig } from "../../models/config.js";
import type { ModelBundle } from "../../models/io.js";
import { buildVae, type VaeParams } from "../../models/vae.js";
import { initTrainState, trainVae, type EpochMetrics } from "../../train/trainer.js";
import { TrainConfig } from "../../train/config.js";
import type { BatchFeatureFn } from "./evaluate.js";

export type FrameEncoderKind = "mlp" | "conv";

export interface FrameVaeOptions {
  latentDim: number;
  encoder: FrameEncoderKind;
  /** MLP hidden sizes of the encoder (the decoder mirrors them). */
  hidden: number[];
  /** Conv encoder channels per stride-2 layer (the decoder mirrors them). */
  channels: number[];
  beta: number;
  /**
   * Linear KL warm-up over this many optimiser steps (0: none). Frames are mostly black, so a VAE
   * can settle on the mean frame with KL ≈ 0 (posterior collapse); starting as a plain autoencoder
   * makes it encode ball and paddle first.
   */
  klWarmupSteps: number;
  /** Free bits per latent dimension (0: none). */
  freeBits: number;
}

/**
 * Conv by default: its latents are close to linear in the ball's and paddle's positions (linear
 * regression R² ≈ 0.8–0.9 on held-out frames), which a linear controller needs; an MLP VAE of the
 * same latent size reconstructs as well but encodes the ball's position far less linearly (R² ≈ 0.4).
 */
export const defaultFrameVaeOptions: FrameVaeOptions = {
  latentDim: 8,
  encoder: "conv",
  hidden: [256],
  channels: [8, 16, 16, 32],
  beta: 1,
  klWarmupSteps: 300,
  freeBits: 0,
};

/**
 * The VAE config for frames of `shape`: a conv encoder (stride-2 k4 layers) with a mirrored
 * transposed-conv decoder, or an MLP with mirrored hidden sizes.
 */
export function frameVaeConfig(shape: readonly [number, number, number], options: Partial<FrameVaeOptions> = {}): VaeConfig {
  const o = { ...defaultFrameVaeOptions, ...options };
  const base = {
    format: "vaekit.vae/1",
    inputShape: [...shape],
    latentDim: o.latentDim,
    likelihood: { type: "bernoulli" },
    prior: { type: "standard-normal" },
    beta: o.beta,
    ...(o.klWarmupSteps > 0 || o.freeBits > 0
      ? {
          objective: {
            type: "elbo",
            freeBits: o.freeBits,
            klSchedule: o.klWarmupSteps > 0 ? { type: "linear", warmupSteps: o.klWarmupSteps } : { type: "constant" },
          },
        }
      : {}),
  };
  if (o.encoder === "mlp") {
    return parseVaeConfig(
      { ...base, encoder: { type: "mlp", hidden: o.hidden }, decoder: { type: "mlp", hidden: [...o.hidden].reverse() } },
      "frame VAE config",
    );
  }
  return parseVaeConfig(
    {
      ...base,
      encoder: { type: "conv", channels: o.channels, kernel: 4, stride: 2 },
      decoder: { type: "conv", channels: [...o.channels].reverse(), kernel: 4, stride: 2 },
    },
    "frame VAE config (conv)",
  );
}

export interface FrameVaeTraining {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Frames held out for validation (count ≥ 1 or fraction < 1). */
  validation: number;
}

export const defaultFrameVaeTraining: FrameVaeTraining = { epochs: 10, batchSize: 64, lr: 1e-3, seed: 0, validation: 0.05 };

export interface FrameVaeResult {
  bundle: ModelBundle;
  history: EpochMetrics[];
  seconds: number;
}

/** Train a VAE on frames (a dataset view of rollouts), in memory. */
export async function trainFrameVae(
  frames: Dataset,
  config: VaeConfig,
  training: Partial<FrameVaeTraining> = {},
  onStep?: (info: { epoch: number; batch: number; batches: number; loss: number }) => void,
): Promise<FrameVaeResult> {
  const t = { ...defaultFrameVaeTraining, ...training };
  if (frames.shape.join("×") !== config.inputShape.join("×")) {
    throw new VaekitError(`frames have shape ${frames.shape.join("×")} but the VAE expects ${config.inputShape.join("×")}`);
  }
  const tc = TrainConfig.parse({ epochs: t.epochs, batchSize: t.batchSize, lr: t.lr, seed: t.seed, binarize: "none" });
  const split = trainValidationSplit(frames, t.validation, t.seed);
  const t0 = performance.now();
  const state = await trainVae(config, tc, { train: split.train.x, validation: split.validation.x }, initTrainState(buildVae(config), t.seed), {
    onStep,
  });
  const seconds = (performance.now() - t0) / 1000;
  return { bundle: { config, params: state.params, extras: { training: { ...t, data: frames.name } } }, history: state.history, seconds };
}

/**
 * Padded batch size: a multiple of 4 up to 64 (training runs a fixed number of live episodes, so
 * little padding), then a power of two; at most 16 + 2 distinct shapes, so few compilations.
 */
function bucket(n: number): number {
  if (n <= 64) return Math.ceil(n / 4) * 4;
  let b = 128;
  while (b < n) b *= 2;
  return b;
}

export interface LatentEncoder extends BatchFeatureFn {
  /** Latent dimension (features per frame). */
  readonly dim: number;
  /** Posterior means of `count` frames, count×dim values. */
  batch(obs: Float32Array, count: number): Promise<Float32Array>;
  /** Decoder means of `count` latent rows. */
  decode(z: Float32Array, count: number): Promise<Float32Array>;
  /** Reconstruction through μ(x): decode(encode(x)). */
  reconstruct(obs: Float32Array, count: number): Promise<Float32Array>;
}

/**
 * The encoder mean as a batched feature function for controllers. Batches are zero-padded to a few
 * sizes (max 256 per call), so an evaluation with varying numbers of live episodes compiles a
 * handful of shapes rather than one per count.
 */
export function latentEncoder(bundle: ModelBundle): LatentEncoder {
  const { config, params } = bundle;
  const model = buildVae(config);
  const D = inputSize(config);
  const L = config.latentDim;
  const MAX = 256;
  const enc = jitted((p: VaeParams, x: Array) => model.encode(p, x).loc);
  const dec = jitted((p: VaeParams, z: Array) => model.decode(p, z).mean());

  async function run(x: Float32Array, count: number, inDim: number, outDim: number, f: (p: VaeParams, x: Array) => Array, what: string): Promise<Float32Array> {
    if (x.length !== count * inDim) throw new VaekitError(`${what}: got ${x.length} values for ${count} rows of ${inDim}`);
    const out = new Float32Array(count * outDim);
    for (let s = 0; s < count; s += MAX) {
      const m = Math.min(MAX, count - s);
      const B = bucket(m);
      const xb = new Float32Array(B * inDim);
      xb.set(x.subarray(s * inDim, (s + m) * inDim));
      const y = f(tree.ref(params), np.array(xb).reshape([B, inDim]));
      out.set((await toHost(y)).subarray(0, m * outDim), s * outDim);
    }
    return out;
  }

  const batch = (obs: Float32Array, count: number) => run(obs, count, D, L, enc, "latent encoder");
  const decode = (z: Float32Array, count: number) => run(z, count, L, D, dec, "latent decoder");
  return { dim: L, batch, decode, reconstruct: async (obs, count) => decode(await batch(obs, count), count) };
}

/** Mean squared error per pixel between frames and their reconstructions through μ(x). */
export async function reconstructionMse(encoder: LatentEncoder, frames: Float32Array, count: number): Promise<number> {
  const rec = await encoder.reconstruct(frames, count);
  let s = 0;
  for (let i = 0; i < rec.length; i++) s += (rec[i] - frames[i]) ** 2;
  return s / rec.length;
}
