/**
 * The VAE as pure functions over a parameter tree, composed from a config:
 * encoder network → q(z|x) = DiagGaussian, decoder network → p(x|z) = the configured likelihood,
 * prior p(z) = N(0, I). Every variant is a configuration of this one builder.
 *
 * What objectives and evaluation use is the model interface below: per-example ELBO terms and
 * importance-sampling terms. A model whose posterior or prior has no closed-form KL (flows,
 * mixtures, hierarchies) supplies its own terms (KL by Monte Carlo) and the rest of vaekit —
 * training objectives, schedules, free bits, IWAE evaluation — works unchanged.
 *
 * The reference MLP keeps the seed's PyTorch module names (enc_fc1, enc_fc2, enc_mu, enc_logvar,
 * dec_fc1..3) and its exact initialisation, so weights move between the two.
 */
import { np, random, type Array } from "../engine/index.js";
import { DiagGaussian, StandardNormal, type Distribution } from "../distributions/index.js";
import { dense, initDense, type DenseParams } from "./layers.js";
import { inputSize, type VaeConfig } from "./config.js";
import { likelihoodHead } from "./likelihood.js";
import { decoderNetwork, encoderNetwork, type ParamTree, type Slot } from "./networks.js";

export type VaeParams = ParamTree;

/** Per-example ELBO terms in nats for a batch of B examples. */
export interface ElboTerms {
  /** −log p(x|z) per example [B] (one posterior sample). */
  recon: Array;
  /** KL(q(z|x) ‖ p(z)) per example [B]: analytic where possible, else a Monte-Carlo estimate. */
  kl: Array;
  /** The KL split over latent dimensions [B, L], when the model can (free bits need it). */
  klPerDim?: Array;
}

/** log-densities at k posterior samples z_i ~ q(z|x), each [k, B]. */
export interface ImportanceTerms {
  /** log p(x|z_i) */
  logLik: Array;
  /** log p(z_i) */
  logPrior: Array;
  /** log q(z_i|x), including any flow log-determinant */
  logPosterior: Array;
}

export interface Vae {
  config: VaeConfig;
  prior: StandardNormal;
  init(key: Array): VaeParams;
  /** q(z|x) for a batch x [B, D] (consumed). */
  encode(params: VaeParams, x: Array): DiagGaussian;
  /** p(x|z) for latents z [N, L] (consumed). */
  decode(params: VaeParams, z: Array): Distribution;
  /** ELBO terms for x [B, D] (consumed) with one reparameterised sample drawn from `key`. */
  elboTerms(params: VaeParams, x: Array, key: Array): ElboTerms;
  /** Importance terms for x [B, D] (consumed) with k reparameterised samples from `key`. */
  importanceTerms(params: VaeParams, x: Array, key: Array, k: number): ImportanceTerms;
}

export function buildVae(config: VaeConfig): Vae {
  const L = config.latentDim;
  const D = inputSize(config);
  const head = likelihoodHead(config.likelihood);
  const encNet = encoderNetwork(config.encoder, config.inputShape);
  const decNet = decoderNetwork(config.decoder, config.inputShape, L, head.paramsPerValue);
  const F = encNet.outputSize;
  // one PRNG key per slot, in this order (for the MLP: the reference's exact initialisation)
  const slots: Slot[] = [
    ...encNet.slots,
    { name: "enc_mu", init: (k) => initDense(k, F, L) },
    { name: "enc_logvar", init: (k) => initDense(k, F, L) },
    ...decNet.slots,
  ];
  const prior = new StandardNormal(L);

  function init(key: Array): VaeParams {
    const keys = np.unstack(random.split(key, slots.length));
    const p: VaeParams = {};
    slots.forEach((s, i) => (p[s.name] = s.init(keys[i])));
    Object.assign(p, head.initParams(D));
    return p;
  }

  function encode(params: VaeParams, x: Array): DiagGaussian {
    const h = encNet.apply(params, x);
    const mu = dense(h.ref, params.enc_mu as DenseParams);
    const logVar = dense(h, params.enc_logvar as DenseParams);
    return new DiagGaussian(mu, logVar);
  }

  function decode(params: VaeParams, z: Array): Distribution {
    return head.distribution(decNet.apply(params, z), params);
  }

  function elboTerms(params: VaeParams, x: Array, key: Array): ElboTerms {
    const q = encode(params, x.ref);
    const z = q.sample(key);
    const recon = np.negative(decode(params, z).logProb(x));
    return { recon, kl: q.klToStandardNormal(), klPerDim: q.klPerDimToStandardNormal() };
  }

  function importanceTerms(params: VaeParams, x: Array, key: Array, k: number): ImportanceTerms {
    const [B] = x.shape;
    const q = encode(params, x.ref);
    const z = q.sampleN(key, k); // [k, B, L]
    const logPosterior = q.logProb(z.ref); // [k, B]
    const logPrior = prior.logProb(z.ref);
    const px = decode(params, z.reshape([k * B, L]));
    const xs = np.broadcastTo(x.reshape([1, B, D]), [k, B, D]).reshape([k * B, D]);
    const logLik = px.logProb(xs).reshape([k, B]);
    return { logLik, logPrior, logPosterior };
  }

  return { config, prior, init, encode, decode, elboTerms, importanceTerms };
}
