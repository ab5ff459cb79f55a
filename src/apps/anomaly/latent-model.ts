/**
 * What the anomaly scores need from a VAE, whatever its data: an encoder giving q(z|x), the
 * decoder's log-likelihood log p(x|z), and the decoder's mean (for reconstruction error).
 * Image VAEs (src/models) and the tabular VAE (./tabular) both provide it.
 * Functions borrow params and consume their data arguments; they are called inside `jit`.
 */
import { np, softplus, type Array } from "../../engine/index.js";
import { Bernoulli, DiagGaussian } from "../../distributions/index.js";
import { DiscretizedLogisticMixture } from "../../distributions/likelihoods.js";
import { buildVae, type VaeParams } from "../../models/vae.js";
import { inputSize, type VaeConfig } from "../../models/config.js";

export interface LatentModel<P = unknown> {
  /** Values per (encoded) example, D. */
  inputDim: number;
  latentDim: number;
  /** q(z|x) for x [B, D]. */
  encode(params: P, x: Array): DiagGaussian;
  /** log p(x|z) per row for z [N, L] and x [N, D]. */
  logLik(params: P, z: Array, x: Array): Array;
  /** Per-value reconstruction error at z [N, L] against x [N, D]: [N, D] (what the error map shows). */
  reconError(params: P, z: Array, x: Array): Array;
  /**
   * Per-value deviance at z [N, L] against x [N, D]: [N, D], or undefined when the likelihood has
   * none (see likelihoodDeviance).
   */
  deviance?(params: P, z: Array, x: Array): Array;
}

/** x·log x with 0·log 0 = 0. */
function xLogX(x: Array): Array {
  const pos = x.ref.greater(0);
  const safe = np.where(pos.ref, x.ref, 1);
  return np.where(pos, x.mul(np.log(safe)), 0);
}

/**
 * Per-value deviance of a decoder distribution at x: log p(x_j) under the same distribution with
 * its mean (location) moved onto x_j, spread kept, minus log p(x_j) under the decoder. Zero for a
 * perfect reconstruction, and free of what the likelihood charges any input for its own
 * randomness: the squared error of a Gaussian is ½(x − μ)²/σ²; a Bernoulli over grey levels gives
 * KL(Bern(x_j) ‖ Bern(p_j)), its cross-entropy minus the grey level's own entropy (the entropy is
 * large for textured grey images and would otherwise dominate); a single discretised logistic,
 * log P(bin | loc = x_j, s) − log P(bin | loc, s). Undefined for other likelihoods.
 */
export function likelihoodDeviance(px: unknown, x: Array): Array | undefined {
  if (px instanceof Bernoulli) {
    const l = px.logits.ref;
    // −log p(x|l) − H(x): softplus(l) − x·l + x log x + (1−x) log(1−x)
    const oneMinus = np.negative(x.ref).add(1);
    return softplus(l.ref).sub(x.ref.mul(l)).add(xLogX(x)).add(xLogX(oneMinus));
  }
  if (px instanceof DiagGaussian) {
    const d = x.sub(px.loc.ref);
    return d.ref.mul(d).mul(np.exp(np.negative(px.logVar.ref))).mul(0.5);
  }
  if (px instanceof DiscretizedLogisticMixture && px.components === 1) {
    const centred = new DiscretizedLogisticMixture(px.logits.ref, np.expandDims(x.ref, -2), px.logScale.ref, px.bins);
    return centred.logProbPerValue(x.ref).sub(px.logProbPerValue(x));
  }
  x.dispose();
  return undefined;
}

/** Whether likelihoodDeviance covers this model's decoder distribution. */
function hasDeviance(config: VaeConfig): boolean {
  const l = config.likelihood;
  return (l.type === "bernoulli" && !l.autoregressive) || l.type === "gaussian" || (l.type === "discretized-logistic" && l.mixtures === 1);
}

/**
 * The image VAE of a model file as a LatentModel; reconstruction error is the squared error of the
 * decoder mean; deviance as likelihoodDeviance (Bernoulli without autoregression, Gaussian, single
 * discretised logistic).
 */
export function imageLatentModel(config: VaeConfig): LatentModel<VaeParams> {
  const vae = buildVae(config);
  return {
    inputDim: inputSize(config),
    latentDim: config.latentDim,
    encode: (p, x) => vae.encode(p, x),
    logLik: (p, z, x) => vae.decode(p, z).logProb(x),
    reconError: (p, z, x) => {
      const d = vae.decode(p, z).mean().sub(x);
      return d.ref.mul(d);
    },
    ...(hasDeviance(config) ? { deviance: (p: VaeParams, z: Array, x: Array) => likelihoodDeviance(vae.decode(p, z), x)! } : {}),
  };
}
