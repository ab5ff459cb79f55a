/**
 * What the anomaly scores need from a VAE, whatever its data: an encoder giving q(z|x), the
 * decoder's log-likelihood log p(x|z), and the decoder's mean (for reconstruction error).
 * Image VAEs (src/models) and the tabular VAE (./tabular) both provide it.
 * Functions borrow params and consume their data arguments; they are called inside `jit`.
 */
import type { Array } from "../../engine/index.js";
import type { DiagGaussian } from "../../distributions/index.js";
import { VaekitError } from "../../errors.js";
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
  /** Per-value deviance at z [N, L] against x [N, D]: [N, D] (Distribution.deviance); absent when the model has none. */
  deviance?(params: P, z: Array, x: Array): Array;
}

/** Why recon-error cannot use the deviance measure (the decoder's distribution has no `deviance`). */
export const NO_DEVIANCE =
  "recon-error with the deviance measure needs an image model with a Bernoulli (not autoregressive), Gaussian or single discretised-logistic likelihood";

/**
 * The image VAE of a model file as a LatentModel; reconstruction error is the squared error of the
 * decoder mean, deviance the decoder distribution's own (Distribution.deviance).
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
    deviance: (p, z, x) => {
      const px = vae.decode(p, z);
      if (!px.deviance) throw new VaekitError(NO_DEVIANCE);
      return px.deviance(x);
    },
  };
}
