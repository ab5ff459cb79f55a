/**
 * Objectives, per example in nats:
 *   negative ELBO = recon + KL, recon = −E_q[log p(x|z)] (one reparameterised sample),
 *   KL = KL(q(z|x) ‖ p(z)) (closed form where the model has one).
 * The training loss is the batch mean of recon + β·KL; see objective.ts for schedules, free bits
 * and the IWAE objective. The terms themselves come from the model (Vae.elboTerms / importanceTerms).
 */
import { np, random, type Array } from "../engine/index.js";
import type { ElboTerms, Vae, VaeParams } from "../models/vae.js";

export type { ElboTerms, ImportanceTerms } from "../models/vae.js";

/** Per-example ELBO terms for a batch x [B, D] (consumed) with one sample from `key`. */
export function elboTerms(model: Vae, params: VaeParams, x: Array, key: Array): ElboTerms {
  return model.elboTerms(params, x, key);
}

/** Scalar training loss mean(recon + β·KL) plus the batch means of both terms (for reporting). */
export function vaeLoss(model: Vae, params: VaeParams, x: Array, key: Array, beta: number): [Array, { recon: Array; kl: Array }] {
  const { recon, kl, klPerDim } = elboTerms(model, params, x, key);
  klPerDim?.dispose();
  const loss = recon.ref.add(kl.ref.mul(beta)).mean();
  return [loss, { recon: recon.mean(), kl: kl.mean() }];
}

/**
 * Importance weights log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x) for k samples z_i ~ q,
 * shape [k, B]. log p̂(x) = logmeanexp_i(log w_i) is the IWAE bound (k = 1: the ELBO).
 */
export function iwaeLogWeights(model: Vae, params: VaeParams, x: Array, key: Array, k: number): Array {
  const { logLik, logPrior, logPosterior } = model.importanceTerms(params, x, key, k);
  return logLik.add(logPrior).sub(logPosterior);
}

/** Split a key into `n` keys (explicit randomness, JAX style). */
export function splitKey(key: Array, n: number): Array[] {
  return np.unstack(random.split(key, n));
}
