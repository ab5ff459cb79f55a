/**
 * The sentence VAE's objective (browser-safe): the ELBO with the remedies for posterior
 * collapse of Bowman et al. (2016) and Kingma et al. (2016) — KL annealing (a weight on the KL
 * that warms up linearly), free bits (each latent dimension's batch-mean KL counts as at least
 * λ nats, so the optimiser gains nothing by pushing it lower) — plus an IWAE bound.
 * Word dropout acts on the batch (see batch.ts). Functions borrow params and consume data.
 */
import { np, type Array } from "../../engine/index.js";
import { DiagGaussian, StandardNormal } from "../../distributions/index.js";
import { maskedSequenceLogProb } from "./categorical.js";
import { decodeLogits, encode, type TextVaeParams } from "./model.js";

export interface KlAnneal {
  kind: "none" | "linear";
  /** Steps over which the KL weight rises linearly from `start` to 1. */
  warmupSteps: number;
  start: number;
}

/** The KL weight at (0-based) training step `step`. */
export function klWeight(step: number, a: KlAnneal): number {
  if (a.kind === "none" || a.warmupSteps <= 0) return 1;
  return Math.min(1, a.start + (1 - a.start) * (step / a.warmupSteps));
}

/** The data arrays of one batch on the device: [T, B] each. */
export interface BatchArrays {
  targets: Array;
  reversed: Array;
  decoderInputs: Array;
  mask: Array;
}

/** Per-dimension KL(q ‖ N(0, I)): −½(1 + log σ² − μ² − σ²), [B, L]. Borrows q. */
export function klPerDimension(q: DiagGaussian): Array {
  const mu = q.loc.ref;
  return q.logVar.ref.add(1).sub(mu.ref.mul(mu)).sub(np.exp(q.logVar.ref)).mul(-0.5);
}

/**
 * ELBO terms per sentence: recon = −log p(x|z) with one reparameterised z ~ q(z|x), kl [B, L]
 * per dimension. Without a latent, recon = −log p(x) exactly and kl is null.
 */
export function textElboTerms(params: TextVaeParams, batch: BatchArrays, key: Array): { recon: Array; kl: Array | null } {
  if (!params.encoder) {
    key.dispose();
    batch.reversed.dispose();
    const logits = decodeLogits(params, null, batch.decoderInputs);
    return { recon: maskedSequenceLogProb(logits, batch.targets, batch.mask).mul(-1), kl: null };
  }
  const q = encode(params, batch.targets.ref, batch.reversed, batch.mask.ref);
  const z = q.sample(key);
  const logits = decodeLogits(params, z, batch.decoderInputs);
  return { recon: maskedSequenceLogProb(logits, batch.targets, batch.mask).mul(-1), kl: klPerDimension(q) };
}

/**
 * Where free bits apply: to each latent dimension (Kingma et al. 2016: Σ_d max(λ, KL_d)), or to
 * the whole KL of a sentence (max(λ, Σ_d KL_d): a target rate the model may spend on the
 * dimensions that help most). KLs are batch means in both cases.
 */
export type FreeBitsScope = "dimension" | "total";

/**
 * Training loss, averaged over the rows with a sentence: recon + β·KL', where KL' is the plain
 * KL or, with freeBits λ > 0, the KL floored at λ per `scope`. `rowWeight` [B] is 1 for real
 * rows. Returns [loss, {recon, kl}] with the true (unclamped, unweighted) means as aux.
 */
export function textLoss(
  params: TextVaeParams,
  batch: BatchArrays,
  rowWeight: Array,
  key: Array,
  beta: Array,
  freeBits: number,
  scope: FreeBitsScope = "dimension",
): [Array, { recon: Array; kl: Array }] {
  const { recon, kl } = textElboTerms(params, batch, key);
  const rows = rowWeight.ref.sum();
  const meanRecon = recon.mul(rowWeight.ref).sum().div(rows.ref);
  if (kl === null) {
    beta.dispose();
    rowWeight.dispose();
    rows.dispose();
    return [meanRecon.ref, { recon: meanRecon, kl: np.zeros([]) }];
  }
  const klDims = kl.mul(rowWeight.reshape([-1, 1])).sum(0).div(rows); // [L] batch means
  const trueKl = klDims.ref.sum();
  let klTerm: Array;
  if (freeBits <= 0) klTerm = klDims.sum();
  else if (scope === "dimension") klTerm = np.maximum(klDims, freeBits).sum();
  else klTerm = np.maximum(klDims.sum(), freeBits);
  return [meanRecon.ref.add(klTerm.mul(beta)), { recon: meanRecon, kl: trueKl }];
}

/**
 * Importance weights log p(x, z_k) − log q(z_k|x) for k posterior samples: [k, B].
 * Their log-mean-exp over k is the IWAE lower bound on log p(x) (Burda et al. 2016).
 */
export function textIwaeLogWeights(params: TextVaeParams, batch: BatchArrays, key: Array, k: number): Array {
  const [T, B] = batch.targets.shape;
  const q = encode(params, batch.targets.ref, batch.reversed, batch.mask.ref);
  const z = q.sampleN(key, k); // [k, B, L]
  const L = z.shape[2];
  const logQ = q.logProb(z.ref); // [k, B]
  const logPrior = new StandardNormal(L).logProb(z.ref);
  const tile = (a: Array) => np.broadcastTo(a.reshape([T, 1, B]), [T, k, B]).reshape([T, k * B]);
  const logits = decodeLogits(params, z.reshape([k * B, L]), tile(batch.decoderInputs));
  const logLik = maskedSequenceLogProb(logits, tile(batch.targets), tile(batch.mask)).reshape([k, B]);
  return logLik.add(logPrior).sub(logQ);
}
