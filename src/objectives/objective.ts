/**
 * The training objective a model config asks for (config.objective), as a scalar loss to
 * minimise plus batch means of the reported terms. `klWeight` is β·w(t) as a scalar array
 * (see schedules.ts), so one traced step serves every step of a schedule.
 */
import { nn, np, type Array } from "../engine/index.js";
import { objectiveOf } from "../models/config.js";
import type { Vae, VaeParams } from "../models/vae.js";

/** (a type, not an interface, so it is a valid array tree for valueAndGrad's aux output) */
export type LossReport = {
  /** Batch mean of −log p(x|z). */
  recon: Array;
  /** Batch mean of the KL (for IWAE: of log q(z|x) − log p(z) over the k samples). */
  kl: Array;
};

/**
 * Free bits (Kingma et al. 2016), per latent dimension: Σ_j max(λ, mean_batch KL_j).
 * A dimension whose KL is below λ gets no gradient pushing it further towards the prior.
 */
export function freeBitsKl(klPerDim: Array, lambda: number): Array {
  return np.maximum(klPerDim.mean(0), lambda).sum();
}

/** −mean_b log (1/k) Σ_i exp(log w_ib): the negative IWAE bound for log-weights [k, B]. */
export function iwaeLoss(logWeights: Array): Array {
  const k = logWeights.shape[0];
  return np.negative(nn.logsumexp(logWeights, 0).mean()).add(Math.log(k));
}

/** Loss and report for x [B, D] (consumed), one key (consumed), klWeight (scalar, consumed). */
export function trainingLoss(model: Vae, params: VaeParams, x: Array, key: Array, klWeight: Array): [Array, LossReport] {
  const obj = objectiveOf(model.config);
  if (obj.type === "iwae") {
    const { logLik, logPrior, logPosterior } = model.importanceTerms(params, x, key, obj.k);
    const klSample = logPosterior.sub(logPrior); // [k, B]
    const loss = iwaeLoss(logLik.ref.sub(klSample.ref.mul(klWeight)));
    return [loss, { recon: np.negative(logLik.mean()), kl: klSample.mean() }];
  }
  const { recon, kl, klPerDim } = model.elboTerms(params, x, key);
  let loss: Array;
  if (obj.freeBits > 0) {
    if (!klPerDim) throw new Error("free bits need a model with per-dimension KL terms");
    loss = recon.ref.mean().add(freeBitsKl(klPerDim, obj.freeBits).mul(klWeight));
  } else {
    klPerDim?.dispose();
    loss = recon.ref.add(kl.ref.mul(klWeight)).mean();
  }
  return [loss, { recon: recon.mean(), kl: kl.mean() }];
}
