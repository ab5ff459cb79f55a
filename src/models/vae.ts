/**
 * The VAE as pure functions over a parameter tree, composed from a config:
 * encoder network → q(z|x) = DiagGaussian, decoder network → p(x|z) = the configured likelihood,
 * prior p(z) = N(0, I). Every variant is a configuration of this one builder: a VampPrior
 * (vamp.ts), an IAF posterior (flows.ts) and ladder hierarchies (ladder.ts) plug in here.
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
import { AutoregressiveBernoulli } from "../distributions/likelihoods.js";
import { dense, initDense, type DenseParams } from "./layers.js";
import { inputSize, isPlainLatent, latentSizes, type VaeConfig } from "./config.js";
import { likelihoodHead } from "./likelihood.js";
import { decoderNetwork, encoderNetwork, type ParamTree, type Slot } from "./networks.js";
import { iafFlow } from "./flows.js";
import { ladderNetworks } from "./ladder.js";
import { vampPrior } from "./vamp.js";

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
  /**
   * p(z) = N(0, I) of one-layer models without a VampPrior. A VampPrior needs the parameters and
   * a ladder's prior spans several layers: theirs throws; use `importanceTerms` for densities and
   * `samplePrior` for samples.
   */
  prior: StandardNormal;
  /** One layer, diagonal Gaussian q, N(0, I) prior: closed-form KL, `prior` usable. */
  plain: boolean;
  /** Sizes of the stochastic layers, bottom (z₁, what `decode` reads) to top. */
  latentSizes: number[];
  init(key: Array): VaeParams;
  /**
   * q(z₁|x) for a batch x [B, D] (consumed): the posterior the decoder's latent comes from.
   * Flow posterior: the flow's image of the Gaussian mean, with the Gaussian's log-variance (a
   * summary, not the flow density). Ladder: q(z₁|z₂, x) along the path of posterior means.
   */
  encode(params: VaeParams, x: Array): DiagGaussian;
  /** p(x|z) for latents z [N, L] (consumed). */
  decode(params: VaeParams, z: Array): Distribution;
  /** ELBO terms for x [B, D] (consumed) with one reparameterised sample drawn from `key`. */
  elboTerms(params: VaeParams, x: Array, key: Array): ElboTerms;
  /** Importance terms for x [B, D] (consumed) with k reparameterised samples from `key`. */
  importanceTerms(params: VaeParams, x: Array, key: Array, k: number): ImportanceTerms;
  /**
   * n latents z₁ [n, L] from the prior (ancestrally through a ladder), every Gaussian's σ scaled
   * by `temperature`; decode them to get samples. Consumes key.
   */
  samplePrior(params: VaeParams, key: Array, n: number, temperature?: number): Array;
  /**
   * Posterior means of every layer, [B, Σ latentSizes] bottom to top (active-unit counts);
   * for flows and ladders the same summaries as `encode`.
   */
  posteriorMeans(params: VaeParams, x: Array): Array;
}

/** A StandardNormal that refuses to be used: the prior of a model that is not plain. */
class UnavailablePrior extends StandardNormal {
  constructor(dim: number, readonly why: string) {
    super(dim);
  }
  override logProb(z: Array): Array {
    z.dispose();
    throw new Error(`Vae.prior: ${this.why}; use model.importanceTerms or model.samplePrior`);
  }
  override sample(key: Array): Array {
    key.dispose();
    throw new Error(`Vae.prior: ${this.why}; use model.samplePrior`);
  }
}

const disposeGaussian = (g: DiagGaussian) => {
  g.loc.dispose();
  g.logVar.dispose();
};

/** [B, …] → [k·B, …], sample-major (row j·B + b is example b), matching reshape([k, B]). */
function repeatRows(a: Array, k: number): Array {
  if (k === 1) return a;
  const [B, ...rest] = a.shape;
  return np.broadcastTo(a.reshape([1, B, ...rest]), [k, B, ...rest]).reshape([k * B, ...rest]);
}

/**
 * log p(x_b | z_j) of a decoder distribution over k·B sample-major rows, for x [B, D] (consumed):
 * a likelihood that can share work between the k copies (the autoregressive context of x does
 * not depend on z) does; any other sees x repeated.
 */
function logProbRepeated(px: Distribution, x: Array, k: number): Array {
  if (px instanceof AutoregressiveBernoulli) return px.logProbRepeated(x, k);
  return px.logProb(repeatRows(x, k));
}

const repeatGaussian = (g: DiagGaussian, k: number) => new DiagGaussian(repeatRows(g.loc, k), repeatRows(g.logVar, k));

export function buildVae(config: VaeConfig): Vae {
  const L = config.latentDim;
  const D = inputSize(config);
  const head = likelihoodHead(config.likelihood, config.inputShape);
  const encNet = encoderNetwork(config.encoder, config.inputShape);
  const decNet = decoderNetwork(config.decoder, config.inputShape, L, head.paramsPerValue);
  const F = encNet.outputSize;
  const sizes = latentSizes(config);
  const nLayers = sizes.length;
  const topDim = sizes[nLayers - 1];
  const plain = isPlainLatent(config);
  const flowConfig = config.posterior?.type === "iaf" ? config.posterior : undefined;
  const contextDim = flowConfig?.context ?? 0;
  const flow = flowConfig ? iafFlow(flowConfig, L) : undefined;
  const ladder = config.hierarchy ? ladderNetworks(config.hierarchy, F, sizes) : undefined;
  // one PRNG key per slot, in this order (for the MLP: the reference's exact initialisation)
  const slots: Slot[] = [
    ...encNet.slots,
    { name: "enc_mu", init: (k) => initDense(k, F, L) },
    { name: "enc_logvar", init: (k) => initDense(k, F, L) },
    ...decNet.slots,
    ...(contextDim > 0 ? [{ name: "enc_ctx", init: (k: Array) => initDense(k, F, contextDim) }] : []),
    ...(flow?.slots ?? []),
    ...(ladder?.slots ?? []),
    ...head.slots,
  ];
  const standardTop = new StandardNormal(topDim);
  // (an IAF model's prior is N(0, I) too; only its KL is not closed-form)
  const prior = config.hierarchy
    ? new UnavailablePrior(L, "a ladder VAE's prior spans several layers")
    : config.prior.type === "vamp"
      ? new UnavailablePrior(L, "the VampPrior depends on the parameters")
      : new StandardNormal(L);

  /** Encoder features and the first layer's Gaussian (before any flow or top-down merge). */
  function encodeBase(params: VaeParams, x: Array): { h: Array; q: DiagGaussian } {
    const h = encNet.apply(params, x);
    const mu = dense(h.ref, params.enc_mu as DenseParams);
    const logVar = dense(h.ref, params.enc_logvar as DenseParams);
    return { h, q: new DiagGaussian(mu, logVar) };
  }

  /** Bottom-up Gaussians of every layer, bottom to top (one, for a flat model). */
  function bottomUp(params: VaeParams, x: Array): DiagGaussian[] {
    const { h, q } = encodeBase(params, x);
    if (!ladder) {
      h.dispose();
      return [q];
    }
    return [q, ...ladder.bottomUp(params, h)];
  }

  /** The top layer's q before any flow: what the VampPrior mixes at its pseudo-inputs. */
  function topPosterior(params: VaeParams, u: Array): DiagGaussian {
    const qs = bottomUp(params, u);
    qs.slice(0, -1).forEach(disposeGaussian);
    return qs[qs.length - 1];
  }

  const vamp = config.prior.type === "vamp" ? vampPrior(config.prior, D, topPosterior) : undefined;

  function init(key: Array): VaeParams {
    const keys = np.unstack(random.split(key, slots.length + (vamp ? 1 : 0)));
    const p: VaeParams = {};
    slots.forEach((s, i) => (p[s.name] = s.init(keys[i])));
    Object.assign(p, head.initParams(D));
    if (vamp) Object.assign(p, vamp.initParams(keys[slots.length]));
    return p;
  }

  /** log p(z_top) of the top layer's prior, z [..., topDim] (consumed). */
  const topLogPrior = (params: VaeParams, z: Array) => (vamp ? vamp.logProb(params, z) : standardTop.logProb(z));

  function decode(params: VaeParams, z: Array): Distribution {
    return head.distribution(decNet.apply(params, z), params);
  }

  /** log p(x_b | z) for z [k·B, L] (consumed), x [B, D] (consumed) → [k, B]. */
  function logLikelihood(params: VaeParams, z: Array, x: Array, k: number): Array {
    const [B] = x.shape;
    return logProbRepeated(decode(params, z), x, k).reshape([k, B]);
  }

  // ---- flat models (one layer): Gaussian or IAF posterior, N(0, I) or VampPrior ----

  /**
   * k posterior samples per example of a flat model: z [k·B, L] (sample-major) and
   * log q(z|x) [k·B], the flow's log-det included. Consumes x and key.
   */
  function flatPosteriorSamples(params: VaeParams, x: Array, key: Array, k: number): { z: Array; logQ: Array } {
    const { h, q } = encodeBase(params, x);
    const context = contextDim > 0 ? dense(h, params.enc_ctx as DenseParams) : (h.dispose(), null);
    const rep = repeatGaussian(q, k);
    const z0 = rep.sample(key);
    const logQ0 = rep.logProb(z0.ref);
    disposeGaussian(rep);
    if (!flow) {
      context?.dispose();
      return { z: z0, logQ: logQ0 };
    }
    const { z, logDet } = flow.apply(params, z0, context ? repeatRows(context, k) : null);
    return { z, logQ: logQ0.sub(logDet) };
  }

  function flatEncode(params: VaeParams, x: Array): DiagGaussian {
    const { h, q } = encodeBase(params, x);
    if (!flow) {
      h.dispose();
      return q;
    }
    const context = contextDim > 0 ? dense(h, params.enc_ctx as DenseParams) : (h.dispose(), null);
    const { z, logDet } = flow.apply(params, q.loc, context);
    logDet.dispose();
    return new DiagGaussian(z, q.logVar);
  }

  // ---- ladder models: top-down passes ----

  /** Keys for the n layers. */
  const layerKeys = (key: Array) => np.unstack(random.split(key, nLayers));

  /**
   * One top-down pass with k samples per example from bottom-up Gaussians `bu` (consumed, each
   * [k·B, L_i]): z₁ and, per lower layer, q and p (the caller takes what it needs and disposes).
   */
  function descend(params: VaeParams, bu: DiagGaussian[], zTop: Array, keys: Array[] | null, each: (i: number, q: DiagGaussian, p: DiagGaussian, z: Array) => void): Array {
    let z = zTop;
    for (let i = nLayers - 1; i >= 1; i--) {
      const p = ladder!.conditionalPrior(params, i, z);
      const q = ladder!.merge(bu[i - 1], p);
      disposeGaussian(bu[i - 1]);
      z = keys ? q.sample(keys[i - 1]) : q.loc.ref;
      each(i, q, p, z);
      disposeGaussian(q);
      disposeGaussian(p);
    }
    return z;
  }

  /** Posterior means along the mean path, bottom to top; also q(z₁|·). */
  function ladderMeans(params: VaeParams, x: Array): { means: Array[]; q1: DiagGaussian } {
    const bu = bottomUp(params, x);
    const top = bu[nLayers - 1];
    const means: Array[] = globalThis.Array.from({ length: nLayers });
    means[nLayers - 1] = top.loc.ref;
    let q1: DiagGaussian | null = null;
    const z1 = descend(params, bu, top.loc.ref, null, (i, q, _p, z) => {
      means[i - 1] = z.ref;
      if (i === 1) q1 = new DiagGaussian(q.loc.ref, q.logVar.ref);
    });
    disposeGaussian(top);
    z1.dispose();
    return { means, q1: q1! };
  }

  function encode(params: VaeParams, x: Array): DiagGaussian {
    if (plain) {
      const h = encNet.apply(params, x);
      const mu = dense(h.ref, params.enc_mu as DenseParams);
      const logVar = dense(h, params.enc_logvar as DenseParams);
      return new DiagGaussian(mu, logVar);
    }
    if (!ladder) return flatEncode(params, x);
    const { means, q1 } = ladderMeans(params, x);
    means.forEach((m) => m.dispose());
    return q1;
  }

  function elboTerms(params: VaeParams, x: Array, key: Array): ElboTerms {
    if (plain) {
      const q = encode(params, x.ref);
      const z = q.sample(key);
      const recon = np.negative(decode(params, z).logProb(x));
      return { recon, kl: q.klToStandardNormal(), klPerDim: q.klPerDimToStandardNormal() };
    }
    if (!ladder) {
      // KL by Monte Carlo: log q(z|x) − log p(z) at the sample
      const { z, logQ } = flatPosteriorSamples(params, x.ref, key, 1);
      const kl = logQ.sub(topLogPrior(params, z.ref));
      return { recon: np.negative(decode(params, z).logProb(x)), kl };
    }
    // ladder: closed-form KL(q(z_i|·) ‖ p(z_i|z_{i+1})) per layer given the sampled z_{i+1};
    // the top layer's KL is closed-form against N(0, I), Monte Carlo against a VampPrior
    const bu = bottomUp(params, x.ref);
    const keys = layerKeys(key);
    const top = bu[nLayers - 1];
    const zTop = top.sample(keys[nLayers - 1]);
    let topKl: Array, topKlPerDim: Array | undefined;
    if (vamp) topKl = top.logProb(zTop.ref).sub(vamp.logProb(params, zTop.ref));
    else {
      topKlPerDim = top.klPerDimToStandardNormal();
      topKl = topKlPerDim.ref.sum(-1);
    }
    disposeGaussian(top);
    const perDim: Array[] = globalThis.Array.from({ length: nLayers - 1 });
    const z1 = descend(params, bu, zTop, keys, (i, q, p) => (perDim[i - 1] = q.klPerDim(p)));
    let kl = topKl;
    for (const part of perDim) kl = kl.add(part.ref.sum(-1));
    const klPerDim = topKlPerDim ? np.concatenate([...perDim, topKlPerDim], -1) : (perDim.forEach((a) => a.dispose()), undefined);
    return { recon: np.negative(decode(params, z1).logProb(x)), kl, klPerDim };
  }

  function importanceTerms(params: VaeParams, x: Array, key: Array, k: number): ImportanceTerms {
    const [B] = x.shape;
    if (plain) {
      const q = encode(params, x.ref);
      const z = q.sampleN(key, k); // [k, B, L]
      const logPosterior = q.logProb(z.ref); // [k, B]
      const logPrior = prior.logProb(z.ref);
      const logLik = logLikelihood(params, z.reshape([k * B, L]), x, k);
      return { logLik, logPrior, logPosterior };
    }
    if (!ladder) {
      const { z, logQ } = flatPosteriorSamples(params, x.ref, key, k);
      const logPrior = topLogPrior(params, z.ref).reshape([k, B]);
      return { logLik: logLikelihood(params, z, x, k), logPrior, logPosterior: logQ.reshape([k, B]) };
    }
    const bu = bottomUp(params, x.ref).map((g) => repeatGaussian(g, k));
    const keys = layerKeys(key);
    const top = bu[nLayers - 1];
    const zTop = top.sample(keys[nLayers - 1]);
    let logQ = top.logProb(zTop.ref);
    let logP = topLogPrior(params, zTop.ref);
    disposeGaussian(top);
    const z1 = descend(params, bu, zTop, keys, (_i, q, p, z) => {
      logQ = logQ.add(q.logProb(z.ref));
      logP = logP.add(p.logProb(z.ref));
    });
    return { logLik: logLikelihood(params, z1, x, k), logPrior: logP.reshape([k, B]), logPosterior: logQ.reshape([k, B]) };
  }

  function samplePrior(params: VaeParams, key: Array, n: number, temperature = 1): Array {
    const [kTop, kRest] = np.unstack(random.split(key, 2));
    const zTop = vamp ? vamp.sample(params, kTop, n, temperature) : random.normal(kTop, [n, topDim]).mul(temperature);
    if (!ladder) {
      kRest.dispose();
      return zTop;
    }
    const keys = np.unstack(random.split(kRest, nLayers));
    let z = zTop;
    for (let i = nLayers - 1; i >= 1; i--) {
      const p = ladder.conditionalPrior(params, i, z);
      z = p.loc.add(np.exp(p.logVar.mul(0.5)).mul(random.normal(keys[i - 1], [n, sizes[i - 1]])).mul(temperature));
    }
    keys[nLayers - 1].dispose();
    return z;
  }

  function posteriorMeans(params: VaeParams, x: Array): Array {
    if (!ladder) {
      const q = encode(params, x);
      q.logVar.dispose();
      return q.loc;
    }
    const { means, q1 } = ladderMeans(params, x);
    disposeGaussian(q1);
    return np.concatenate(means, -1);
  }

  return { config, prior, plain, latentSizes: sizes, init, encode, decode, elboTerms, importanceTerms, samplePrior, posteriorMeans };
}
