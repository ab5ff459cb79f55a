/**
 * What the anomaly scores need from a VAE, whatever its data: an encoder giving q(z|x), the
 * decoder's log-likelihood log p(x|z), and the decoder's mean (for reconstruction error).
 * Image VAEs (src/models) and the tabular VAE (./tabular) both provide it.
 * Functions borrow params and consume their data arguments; they are called inside `jit`.
 */
import type { Array } from "../../engine/index.js";
import type { DiagGaussian } from "../../distributions/index.js";
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
}

/** The image VAE of a model file as a LatentModel; reconstruction error is the squared error of the decoder mean. */
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
  };
}
