/**
 * Objectives, per example in nats:
 *   negative ELBO = recon + KL, recon = −E_q[log p(x|z)] (one reparameterised sample),
 *   KL = KL(q(z|x) ‖ p(z)) in closed form.
 * The training loss is the batch mean of recon + β·KL.
 */
import { np, random, type Array } from "../engine/index.js";
import type { Vae, VaeParams } from "../models/vae.js";

export interface ElboTerms {
  /** −log p(x|z) per example [B]. */
  recon: Array;
  /** KL(q ‖ p) per example [B]. */
  kl: Array;
}

/** Per-example ELBO terms for a batch x [B, D] (consumed) with one sample from `key`. */
export function elboTerms(model: Vae, params: VaeParams, x: Array, key: Array): ElboTerms {
  const q = model.encode(params, x.ref);
  const z = q.sample(key);
  const recon = np.negative(model.decode(params, z).logProb(x));
  return { recon, kl: q.klToStandardNormal() };
}

/** Scalar training loss mean(recon + β·KL) plus the batch means of both terms (for reporting). */
export function vaeLoss(model: Vae, params: VaeParams, x: Array, key: Array, beta: number): [Array, { recon: Array; kl: Array }] {
  const { recon, kl } = elboTerms(model, params, x, key);
  const loss = recon.ref.add(kl.ref.mul(beta)).mean();
  return [loss, { recon: recon.mean(), kl: kl.mean() }];
}

/**
 * Importance weights log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x) for k samples z_i ~ q,
 * shape [k, B]. log p̂(x) = logmeanexp_i(log w_i) is the IWAE bound (k = 1: the ELBO).
 */
export function iwaeLogWeights(model: Vae, params: VaeParams, x: Array, key: Array, k: number): Array {
  const [B, D] = x.shape;
  const q = model.encode(params, x.ref);
  const z = q.sampleN(key, k); // [k, B, L]
  const L = z.shape[2];
  const logQ = q.logProb(z.ref); // [k, B]
  const logPz = model.prior.logProb(z.ref);
  const px = model.decode(params, z.reshape([k * B, L]));
  const xs = np.broadcastTo(x.reshape([1, B, D]), [k, B, D]).reshape([k * B, D]);
  const logPx = px.logProb(xs).reshape([k, B]);
  return logPx.add(logPz).sub(logQ);
}

/** Split a key into `n` keys (explicit randomness, JAX style). */
export function splitKey(key: Array, n: number): Array[] {
  return np.unstack(random.split(key, n));
}
