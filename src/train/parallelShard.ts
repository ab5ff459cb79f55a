/**
 * The pieces of a data-parallel training step, browser-safe (no threads here; see parallel.ts).
 *
 * A batch of B rows is cut into contiguous shards. Each shard computes the gradient of
 *   loss_s = Σ_{i∈shard} loss_i / B      (loss_i = recon_i + w·kl_i, or the IWAE bound of row i)
 * so the shard gradients add up to the gradient of the full-batch mean loss that
 * `makeTrainStep` differentiates. The random numbers are those of `makeTrainStep` for the same
 * key: every shard draws the full batch's binarisation noise and ε and keeps its own rows, so a
 * step on W shards equals the single-process step (up to float32 summation order).
 */
import { adamUpdate, defaultAdam, jitted, nn, np, random, tree, valueAndGrad, type AdamState, type Array } from "../engine/index.js";
import type { Vae, VaeParams } from "../models/vae.js";
import { inputSize, objectiveOf, type VaeConfig } from "../models/config.js";
import { VaekitError } from "../errors.js";
import type { TrainConfig } from "./config.js";

/** Rows [lo, hi) of a batch of B rows that shard `index` of `count` takes (sizes differ by ≤ 1). */
export function shardRange(batch: number, count: number, index: number): [number, number] {
  return [Math.floor((index * batch) / count), Math.floor(((index + 1) * batch) / count)];
}

/** Where each parameter leaf lives in the flat vector: the tree's leaf order, row-major. */
export interface FlatLayout {
  shapes: number[][];
  offsets: number[];
  /** Total number of parameter values. */
  size: number;
}

export function flatLayout(params: VaeParams): FlatLayout {
  const shapes = (tree.leaves(params) as Array[]).map((a) => a.shape.slice());
  const offsets: number[] = [];
  let size = 0;
  for (const s of shapes) {
    offsets.push(size);
    size += s.reduce((a, b) => a * b, 1);
  }
  return { shapes, offsets, size };
}

/** All leaves of a tree in one host vector (borrows the tree). */
export function flattenToHost(t: VaeParams, layout: FlatLayout): Float32Array {
  const out = new Float32Array(layout.size);
  (tree.leaves(t) as Array[]).forEach((a, i) => out.set(a.ref.dataSync() as Float32Array, layout.offsets[i]));
  return out;
}

/** A tree shaped like `like` (borrowed, only its structure is used) with leaves read from `vec`. */
export function unflattenFromHost(like: VaeParams, layout: FlatLayout, vec: Float32Array): VaeParams {
  const [, def] = tree.flatten(like);
  const leaves = layout.shapes.map((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return np.array(vec.slice(layout.offsets[i], layout.offsets[i] + n)).reshape(shape);
  });
  return tree.unflatten(def, leaves) as VaeParams;
}

/** Number of statistics appended to a shard's gradient vector: Σloss/B, Σrecon, Σkl. */
export const SHARD_STATS = 3;

/**
 * Why shardLoss / the ONNX IWAE log-weights do not compute this model's bounds (null when they
 * do): they are written for one stochastic layer with a diagonal Gaussian q(z|x) and p(z) = N(0, I)
 * (closed-form KL), any encoder, decoder and likelihood.
 */
export function plainLatentProblem(config: VaeConfig): string | null {
  if (config.hierarchy) return "a ladder (hierarchical) VAE has several stochastic layers, and this path handles one Gaussian layer";
  if (config.posterior?.type === "iaf") return "an IAF flow posterior has no closed-form KL, and this path handles a plain Gaussian posterior";
  if (config.prior.type !== "standard-normal") return `the ${config.prior.type === "vamp" ? "VampPrior" : "configured prior"} is not the N(0, I) prior this path handles`;
  return null;
}

/**
 * Why a config's training loss cannot be split over examples by shardLoss (null when it can):
 * a model beyond the plain Gaussian-latent family (plainLatentProblem), or free bits, which clamp
 * the batch-mean KL per dimension: not a sum of per-example terms.
 */
export function shardingProblem(config: VaeConfig): string | null {
  const latent = plainLatentProblem(config);
  if (latent) return latent;
  const obj = objectiveOf(config);
  if (obj.freeBits > 0) return "free bits clamp the batch-mean KL, which does not split over examples";
  return null;
}

/** Shape of the reparameterisation noise a step draws for a batch of B: [B, L] or [k, B, L]. */
export function noiseShape(config: VaeConfig, batch: number): number[] {
  const obj = objectiveOf(config);
  return obj.type === "iwae" ? [obj.k, batch, config.latentDim] : [batch, config.latentDim];
}

/**
 * The training loss of rows x [b, D] (consumed) given their noise eps (consumed; [b, L] or
 * [k, b, L]), as a SUM over the rows divided by the full batch size B, with the sums of the
 * reported terms. The same formulas as trainingLoss with buildVae's elboTerms/importanceTerms
 * (Gaussian posterior, reparameterised samples), so Σ over shards = the full-batch loss.
 */
export function shardLoss(model: Vae, params: VaeParams, x: Array, eps: Array, klWeight: Array, batch: number): [Array, { recon: Array; kl: Array }] {
  const obj = objectiveOf(model.config);
  const q = model.encode(params, x.ref);
  if (obj.type === "iwae") {
    const [k, b, L] = eps.shape;
    const D = x.shape[1];
    const z = q.sampleWithNoise(eps); // [k, b, L]
    const logPosterior = q.logProb(z.ref);
    const logPrior = model.prior.logProb(z.ref);
    const xs = np.broadcastTo(x.reshape([1, b, D]), [k, b, D]).reshape([k * b, D]);
    const logLik = model.decode(params, z.reshape([k * b, L])).logProb(xs).reshape([k, b]);
    const klSample = logPosterior.sub(logPrior);
    const perExample = np.negative(nn.logsumexp(logLik.ref.sub(klSample.ref.mul(klWeight)), 0)).add(Math.log(k)); // [b]
    return [perExample.sum().div(batch), { recon: np.negative(logLik.mean(0)).sum(), kl: klSample.mean(0).sum() }];
  }
  const z = q.sampleWithNoise(eps);
  const recon = np.negative(model.decode(params, z).logProb(x)); // [b]
  const kl = q.klToStandardNormal();
  const loss = recon.ref.add(kl.ref.mul(klWeight)).sum().div(batch);
  return [loss, { recon: recon.sum(), kl: kl.sum() }];
}

/** makeTrainStep's random numbers for a batch from its key: binarisation noise u [batch, D] (dynamic binarisation only) and ε. */
export function batchNoise(config: VaeConfig, tc: TrainConfig, batch: number, key: Array): { u: Array | null; eps: Array } {
  const [kBin, kLoss] = np.unstack(random.split(key, 2));
  const u = tc.binarize === "dynamic" ? random.uniform(kBin, [batch, inputSize(config)]) : (kBin.dispose(), null);
  return { u, eps: random.normal(kLoss, noiseShape(config, batch)) };
}

/** Rows [lo, hi) of a batch's noise (consumed) for the shard's inputs xShard (consumed): binarised inputs and their ε. */
export function shardRows(noise: { u: Array | null; eps: Array }, xShard: Array, lo: number, hi: number): { xb: Array; eps: Array } {
  const xb = noise.u ? noise.u.slice([lo, hi]).less(xShard).astype(np.float32) : xShard;
  const eps = noise.eps.ndim === 2 ? noise.eps.slice([lo, hi]) : noise.eps.slice([], [lo, hi]);
  return { xb, eps };
}

/**
 * The gradient of shardLoss for binarised rows xb and their ε (all consumed; params borrowed) as
 * one vector [layout.size + 3]: the flattened gradient, then Σloss/B, Σrecon, Σkl. One vector
 * means one device→host read per step.
 */
export function shardGradient(model: Vae, params: VaeParams, xb: Array, eps: Array, klWeight: Array, batch: number): Array {
  const lossFn = (p: VaeParams) => shardLoss(model, p, xb, eps, klWeight, batch);
  const [[loss, aux], grads] = valueAndGrad(lossFn, { hasAux: true })(params);
  const flat = (tree.leaves(grads) as Array[]).map((g) => g.reshape([-1]));
  return np.concatenate([...flat, np.stack([loss, aux.recon, aux.kl])]);
}

/**
 * The jitted gradient of one shard: (params borrowed via tree.ref, xShard [hi−lo, D], key,
 * klWeight scalar; all consumed) → shardGradient's vector. The random numbers are
 * makeTrainStep's for the same key: the full batch's noise is drawn and rows [lo, hi) kept.
 */
export function makeShardGradFn(model: Vae, tc: TrainConfig, batch: number, lo: number, hi: number) {
  const problem = shardingProblem(model.config);
  if (problem) throw new VaekitError(`data-parallel training is not possible for this model: ${problem}`);
  return jitted((params: VaeParams, xShard: Array, key: Array, klWeight: Array): Array => {
    const { xb, eps } = shardRows(batchNoise(model.config, tc, batch, key), xShard, lo, hi);
    return shardGradient(model, params, xb, eps, klWeight, batch);
  });
}

/**
 * The jitted Adam update from a summed flat gradient (the first layout.size values of `gvec`).
 * Consumes params, opt and gvec — the same adamUpdate, with the same settings, as makeTrainStep.
 */
export function makeFlatAdamFn(layout: FlatLayout, tc: TrainConfig) {
  const adam = { ...defaultAdam, lr: tc.lr, clipNorm: tc.clipNorm };
  return jitted((params: VaeParams, opt: AdamState<VaeParams>, gvec: Array) => {
    const [, def] = tree.flatten(params);
    const leaves = layout.shapes.map((shape, i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return gvec.ref.slice([layout.offsets[i], layout.offsets[i] + n]).reshape(shape);
    });
    gvec.dispose();
    const grads = tree.unflatten(def, leaves) as VaeParams;
    const [p1, o1] = adamUpdate(params, grads, opt, adam);
    return { params: p1, opt: o1 };
  });
}

/**
 * Add shard vectors in a fixed order (shard 0 first), so every thread that does it gets the
 * same bits. `from`/`to` restrict it to a slice (each worker reduces its own slice).
 */
export function sumShards(parts: Float32Array[], out: Float32Array, from = 0, to = out.length): void {
  const first = parts[0];
  for (let i = from; i < to; i++) out[i] = first[i];
  for (let s = 1; s < parts.length; s++) {
    const p = parts[s];
    for (let i = from; i < to; i++) out[i] += p[i];
  }
}
