/**
 * Per-example anomaly scores of a VAE, batched and jitted (browser-safe). Higher = more anomalous.
 *
 * - neg-elbo: −ELBO = −E_q[log p(x|z)] + KL(q‖p), with `samples` reparameterised samples.
 * - iwae-nll: −log p̂(x), the IWAE bound with k importance samples (float64 log-sum-exp on the host).
 * - recon-error: Σ of the per-value error map through the posterior mean z = μ(x): the squared
 *   error of the decoder's mean, or (measure "deviance") the likelihood's deviance there, which
 *   for a Bernoulli over grey levels is Σ KL(Bern(x_j) ‖ Bern(p_j)) (see Distribution.deviance).
 * - complexity: NLL in bits minus the input's compressed length in bits (Serrà et al. 2020);
 *   the compressor is supplied by the caller (PNG for images).
 * - regret: likelihood regret (Xiao et al. 2020): ELBO after optimising q(z|x) for this input
 *   with Adam for a few steps, minus the ELBO at the encoder's output, both with the same noise.
 *   Scope "posterior" optimises the input's own (μ, log σ²); scope "encoder" (the paper's) a
 *   copy of every encoder parameter (the model's `enc_*` entries) per input, decoder fixed.
 *   Every example of a batch has its own variables and the loss is a sum over examples, so with
 *   Adam acting element-wise the batch is exactly many independent optimisations run at once.
 * - typicality: |mean NLL of a batch of M inputs − Ĥ|, Ĥ the mean NLL of normal data
 *   (Nalisnick et al. 2019); with M = 1 a per-example score.
 *
 * Monte-Carlo noise comes from a host Rng seeded by `seed` and is shared by all examples, so a
 * score is a deterministic function of the input alone (the same in any batch, CLI or service).
 */
import { adamInit, adamUpdate, defaultAdam, grad, jitted, np, toHost, tree, vmap, type AdamState, type Array } from "../../engine/index.js";
import { DiagGaussian } from "../../distributions/index.js";
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { NO_DEVIANCE, type LatentModel } from "./latent-model.js";

export const SCORE_KINDS = ["neg-elbo", "iwae-nll", "recon-error", "complexity", "regret", "typicality"] as const;
export type ScoreKind = (typeof SCORE_KINDS)[number];

/** What likelihood regret re-optimises per input: q's (μ, log σ²), or the whole encoder (Xiao et al.). */
export const REGRET_SCOPES = ["posterior", "encoder"] as const;
export type RegretScope = (typeof REGRET_SCOPES)[number];

/** How recon-error measures the reconstruction's error per value (see Distribution.deviance). */
export const RECON_MEASURES = ["squared", "deviance"] as const;
export type ReconMeasure = (typeof RECON_MEASURES)[number];

export const SCORE_DESCRIPTIONS: Record<ScoreKind, string> = {
  "neg-elbo": "negative ELBO, nats",
  "iwae-nll": "IWAE negative log-likelihood, nats",
  "recon-error": "reconstruction error through μ(x): squared, or the likelihood's deviance (--recon-measure)",
  complexity: "IWAE NLL minus PNG-compressed length, bits (Serrà et al. 2020)",
  regret: "likelihood regret: ELBO gain from optimising q(z|x) for this input, nats (Xiao et al. 2020)",
  typicality: "|batch mean NLL − mean NLL of normal data|, nats (Nalisnick et al. 2019)",
};

/** Options that change a score's value; they are stored with a calibrated threshold. */
export interface ScoreOptions {
  /** Posterior samples per example for the ELBO (neg-elbo, regret). */
  samples: number;
  /** Importance samples for iwae-nll, complexity and typicality. */
  iwaeK: number;
  /** Adam steps, learning rate and posterior samples per step for likelihood regret. */
  regretSteps: number;
  regretLr: number;
  regretSamples: number;
  /** What the regret's Adam steps change (see REGRET_SCOPES). */
  regretScope: RegretScope;
  /** recon-error's per-value measure (squared error of the mean, or the likelihood's deviance). */
  reconMeasure: ReconMeasure;
  /** Inputs per typicality test (consecutive inputs form a batch; each gets its batch's score). */
  typicalityBatch: number;
  seed: number;
}

export const DEFAULT_SCORE_OPTIONS: ScoreOptions = {
  samples: 8,
  iwaeK: 64,
  regretSteps: 30,
  regretLr: 0.03,
  regretSamples: 1,
  regretScope: "posterior",
  reconMeasure: "squared",
  typicalityBatch: 1,
  seed: 0,
};

export const LN2 = Math.LN2;
export const natsToBits = (nats: number) => nats / LN2;
export const bitsToNats = (bits: number) => bits * LN2;

export function parseScoreKind(v: string): ScoreKind {
  if (!(SCORE_KINDS as readonly string[]).includes(v)) {
    throw new VaekitError(`unknown score "${v}": expected one of ${SCORE_KINDS.join(", ")}`);
  }
  return v as ScoreKind;
}

/** Which options a score kind depends on (what a calibration must match). */
export function relevantOptions(kind: ScoreKind, o: ScoreOptions): Partial<ScoreOptions> {
  switch (kind) {
    case "neg-elbo":
      return { samples: o.samples, seed: o.seed };
    case "iwae-nll":
    case "complexity":
      return { iwaeK: o.iwaeK, seed: o.seed };
    case "recon-error":
      return { reconMeasure: o.reconMeasure };
    case "regret":
      return { samples: o.samples, regretSteps: o.regretSteps, regretLr: o.regretLr, regretSamples: o.regretSamples, regretScope: o.regretScope, seed: o.seed };
    case "typicality":
      return { iwaeK: o.iwaeK, typicalityBatch: o.typicalityBatch, seed: o.seed };
  }
}

/** Host-side standard normal noise [rows, L] from a seeded stream. */
function hostNormal(rng: Rng, rows: number, L: number): Float32Array {
  const out = new Float32Array(rows * L);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/** Largest divisor of k not above cap (every chunk the same jitted shape). */
function chunkOf(k: number, cap: number): number {
  for (let c = Math.min(k, Math.max(1, cap)); c >= 1; c--) if (k % c === 0) return c;
  return 1;
}

export interface Scorer {
  model: LatentModel;
  /** Examples per jitted call (inputs are zero-padded to it). */
  batchSize: number;
  negElbo(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<Float64Array>;
  iwaeNll(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<Float64Array>;
  /** Per-example total and the n×D error map (squared error unless opts.reconMeasure says otherwise). */
  reconError(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<{ scores: Float64Array; maps: Float32Array }>;
  regret(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<Float64Array>;
}

/** Rows per decoder call are kept near this many (examples × samples). */
const ROWS_PER_CALL = 4096;

export function makeScorer<P>(model: LatentModel<P>, params: P, batchSize = 128): Scorer {
  const D = model.inputDim;
  const L = model.latentDim;
  const borrowed = () => tree.ref(params as never) as P;

  /** −ELBO per example for given posterior parameters, averaging log p(x|z) over eps [S, L]. */
  function negElboGiven(p: P, x: Array, mu: Array, logVar: Array, eps: Array): Array {
    const S = eps.shape[0];
    const B = x.shape[0];
    const q = new DiagGaussian(mu, logVar);
    const z = q.sampleWithNoise(eps.reshape([S, 1, L])).reshape([S * B, L]);
    const xs = np.broadcastTo(x.reshape([1, B, D]), [S, B, D]).reshape([S * B, D]);
    const logPx = model.logLik(p, z, xs).reshape([S, B]).mean(0);
    return q.klToStandardNormal().sub(logPx);
  }

  const encodeFn = jitted((p: P, x: Array) => {
    const q = model.encode(p, x);
    return [q.loc, q.logVar];
  });
  const negElboFn = jitted((p: P, x: Array, eps: Array) => {
    const q = model.encode(p, x.ref);
    return negElboGiven(p, x, q.loc, q.logVar, eps);
  });
  const negElboGivenFn = jitted((p: P, x: Array, mu: Array, logVar: Array, eps: Array) => negElboGiven(p, x, mu, logVar, eps));
  const iwaeFn = jitted((p: P, x: Array, eps: Array) => {
    const c = eps.shape[0];
    const B = x.shape[0];
    const q = model.encode(p, x.ref);
    const z = q.sampleWithNoise(eps.reshape([c, 1, L])); // [c, B, L]
    const logQ = q.logProb(z.ref);
    const logPz = z.ref.mul(z.ref).add(Math.log(2 * Math.PI)).sum(-1).mul(-0.5);
    const xs = np.broadcastTo(x.reshape([1, B, D]), [c, B, D]).reshape([c * B, D]);
    const logPx = model.logLik(p, z.reshape([c * B, L]), xs).reshape([c, B]);
    return logPx.add(logPz).sub(logQ); // [c, B]
  });
  /** A per-value error map at the posterior mean z = μ(x), jitted. */
  const atPosteriorMean = (measure: (p: P, z: Array, x: Array) => Array) =>
    jitted((p: P, x: Array) => measure(p, model.encode(p, x.ref).loc, x));
  const reconFns: Record<ReconMeasure, ReturnType<typeof atPosteriorMean> | undefined> = {
    squared: atPosteriorMean(model.reconError),
    deviance: model.deviance && atPosteriorMean(model.deviance),
  };
  type Post = { mu: Array; logVar: Array };
  // One compiled Adam step per learning rate (the rate is a constant of the trace).
  // Engine workaround: differentiating only with respect to the decoder's *input* makes jax-js
  // fuse each layer's elementwise backward (sigmoid, ReLU mask) into the following transposed
  // matmul and recompute it per inner-product term — 30–70× slower. Also taking the gradient of
  // the 1-D parameters (biases) gives every layer's output gradient a second consumer, so it is
  // materialised once; their sum is returned (and discarded) so it is not optimised away.
  const regretSteps = new Map<number, (p: P, x: Array, post: Post, opt: AdamState<Post>, eps: Array) => [Post, AdamState<Post>, Array]>();
  const regretStepFn = (lr: number) => {
    if (!regretSteps.has(lr)) {
      regretSteps.set(
        lr,
        jitted((p: P, x: Array, post: Post, opt: AdamState<Post>, eps: Array) => {
          const loss = (v: Post, pp: P) => negElboGiven(pp, x.ref, v.mu, v.logVar, eps.ref).sum();
          const [g, gp] = (grad(loss, { argnums: [0, 1] }) as (v: Post, pp: P) => [Post, P])(tree.ref(post), tree.ref(p as never) as P);
          x.dispose();
          eps.dispose();
          let keep = np.zeros([]);
          for (const leaf of tree.leaves(gp as never) as Array[]) {
            if (leaf.shape.length === 1) keep = keep.add(leaf.sum());
            else leaf.dispose();
          }
          const [post1, opt1] = adamUpdate(post, g, opt, { ...defaultAdam, lr });
          return [post1, opt1, keep];
        }),
      );
    }
    return regretSteps.get(lr)!;
  };

  // ---- whole-encoder regret: every input gets its own copy of the encoder's parameters ----
  type Params = Record<string, unknown>;
  /** The encoder's parameters (the `enc_*` entries, see LatentModel) and the rest of the model. */
  function splitEncoder(p: P): { enc: Params; rest: Params } {
    const enc: Params = {};
    const rest: Params = {};
    for (const [k, v] of Object.entries(p as Params)) (k.startsWith("enc_") ? enc : rest)[k] = v;
    if (Object.keys(enc).length === 0) throw new VaekitError("regret scope \"encoder\" needs the encoder's parameters, named enc_*; this model has none");
    return { enc, rest };
  }
  /** −ELBO (a scalar) of one example x1 [D] under its own encoder copy `enc`; eps [S, L]. */
  function negElboOne(enc: Params, rest: Params, x1: Array, eps: Array): Array {
    const p = { ...rest, ...enc } as P;
    const x = x1.reshape([1, D]);
    const q = model.encode(p, x.ref);
    return negElboGiven(p, x, q.loc, q.logVar, eps).reshape([]);
  }
  /** (μ, log σ²) [B, L] of each input x [B, D] under its own encoder copy (leaves [B, …]). */
  const encodeCopiesFn = jitted((encB: Params, rest: Params, x: Array) =>
    vmap(
      (e: Params, x1: Array) => {
        const q = model.encode({ ...rest, ...e } as P, x1.reshape([1, D]));
        return [q.loc.reshape([L]), q.logVar.reshape([L])];
      },
      [0, 0],
    )(encB as never, x),
  );
  type EncoderStep = (encB: Params, rest: Params, x: Array, opt: AdamState<Params>, eps: Array) => [Params, AdamState<Params>, Array];
  const encoderSteps = new Map<number, EncoderStep>();
  const encoderStepFn = (lr: number): EncoderStep => {
    if (!encoderSteps.has(lr)) {
      encoderSteps.set(
        lr,
        jitted((encB: Params, rest: Params, x: Array, opt: AdamState<Params>, eps: Array) => {
          // Per-example gradients: each input's loss depends only on its own encoder copy.
          // The rest of the model's 1-D parameters (biases) are differentiated too and their
          // gradients summed into the returned scalar: the engine workaround described above
          // (about 2× faster here); the scalar also lets the caller wait for the step.
          const [leaves, def] = tree.flatten(rest as never) as [Array[], unknown];
          const isBias = leaves.map((a) => a.shape.length === 1);
          const fixed = leaves.filter((_, i) => !isBias[i]);
          const biases = leaves.filter((_, i) => isBias[i]);
          const restWith = (b: Array[]) => {
            let [i, j] = [0, 0];
            return tree.unflatten(def as never, leaves.map((_, k) => (isBias[k] ? b[i++] : fixed[j++]))) as Params;
          };
          const loss = (e: Params, x1: Array, b: Array[]) => negElboOne(e, restWith(b), x1, eps.ref);
          const perExample = vmap(grad(loss, { argnums: [0, 2] }) as never, [0, 0, null]) as unknown as (e: Params, x1: Array, b: Array[]) => [Params, Array[]];
          const [g, gb] = perExample(tree.ref(encB as never) as Params, x, biases);
          eps.dispose();
          let keep = np.zeros([]);
          for (const leaf of gb) keep = keep.add(leaf.sum());
          const [enc1, opt1] = adamUpdate(encB as never, g as never, opt as never, { ...defaultAdam, lr }) as unknown as [Params, AdamState<Params>];
          return [enc1, opt1, keep];
        }),
      );
    }
    return encoderSteps.get(lr)!;
  };
  /**
   * Inputs per whole-encoder batch: each carries ~6 copies of the encoder (weights, Adam m and v,
   * gradient, temporaries). Small batches are also faster per input (the copies stay in cache):
   * 9 ms per input-step at 8 copies of the 400k-value reference encoder, 14 ms at 64.
   */
  const ENCODER_COPY_BUDGET_BYTES = 128 * 2 ** 20;
  function encoderBatch(n: number, encValues: number): number {
    let b = batchFor(n);
    while (b > 1 && b * encValues * 4 * 6 > ENCODER_COPY_BUDGET_BYTES) b /= 2;
    return b;
  }

  /** Rows per jitted call for n inputs: powers of two up to batchSize, so small requests stay cheap and shapes few. */
  function batchFor(n: number): number {
    let b = 8;
    while (b < n && b < batchSize) b *= 2;
    return Math.min(b, batchSize);
  }
  function padded(x: Float32Array, start: number, B: number): Float32Array {
    const out = new Float32Array(B * D);
    out.set(x.subarray(start * D, Math.min(x.length, (start + B) * D)));
    return out;
  }
  function rowsOf(x: Float32Array): number {
    if (x.length % D !== 0) throw new VaekitError(`scoring: ${x.length} values are not whole examples of ${D}`);
    return x.length / D;
  }
  const full = (o?: Partial<ScoreOptions>): ScoreOptions => ({ ...DEFAULT_SCORE_OPTIONS, ...o });
  const xArray = (xb: Float32Array) => np.array(xb).reshape([xb.length / D, D]);

  async function negElbo(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<Float64Array> {
    const o = full(opts);
    const n = rowsOf(x);
    const B = batchFor(n);
    const eps = hostNormal(new Rng(o.seed), o.samples, L);
    const out = new Float64Array(n);
    for (let s = 0; s < n; s += B) {
      const r = await toHost(negElboFn(borrowed(), xArray(padded(x, s, B)), np.array(eps).reshape([o.samples, L])));
      for (let i = 0; i < Math.min(B, n - s); i++) out[s + i] = r[i];
    }
    return out;
  }

  async function iwaeNll(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<Float64Array> {
    const o = full(opts);
    const n = rowsOf(x);
    const B = batchFor(n);
    const k = o.iwaeK;
    const c = chunkOf(k, Math.floor(ROWS_PER_CALL / B));
    const rng = new Rng(o.seed + 1);
    const chunks = globalThis.Array.from({ length: k / c }, () => hostNormal(rng, c, L));
    const out = new Float64Array(n);
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      const maxes = new Float64Array(m).fill(-Infinity);
      const sums = new Float64Array(m);
      const xb = padded(x, s, B);
      for (const eps of chunks) {
        const lw = await toHost(iwaeFn(borrowed(), xArray(xb), np.array(eps).reshape([c, L])));
        for (let i = 0; i < m; i++) {
          let mx = maxes[i];
          for (let j = 0; j < c; j++) mx = Math.max(mx, lw[j * B + i]);
          let acc = mx === maxes[i] ? sums[i] : sums[i] * Math.exp(maxes[i] - mx);
          if (!Number.isFinite(acc)) acc = 0;
          for (let j = 0; j < c; j++) acc += Math.exp(lw[j * B + i] - mx);
          maxes[i] = mx;
          sums[i] = acc;
        }
      }
      for (let i = 0; i < m; i++) out[s + i] = -(maxes[i] + Math.log(sums[i] / k));
    }
    return out;
  }

  async function reconError(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<{ scores: Float64Array; maps: Float32Array }> {
    const { reconMeasure } = full(opts);
    const fn = reconFns[reconMeasure];
    if (!fn) throw new VaekitError(NO_DEVIANCE);
    const n = rowsOf(x);
    const B = batchFor(n);
    const scores = new Float64Array(n);
    const maps = new Float32Array(n * D);
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      const e = await toHost(fn(borrowed(), xArray(padded(x, s, B))));
      maps.set(e.subarray(0, m * D), s * D);
      for (let i = 0; i < m; i++) {
        let acc = 0;
        for (let j = 0; j < D; j++) acc += e[i * D + j];
        scores[s + i] = acc;
      }
    }
    return { scores, maps };
  }

  async function regret(x: Float32Array, opts?: Partial<ScoreOptions>): Promise<Float64Array> {
    const o = full(opts);
    if (o.regretScope === "encoder") return regretEncoder(x, o);
    const n = rowsOf(x);
    const B = batchFor(n);
    const rng = new Rng(o.seed + 2);
    const evalEps = hostNormal(rng, o.samples, L);
    const stepEps = globalThis.Array.from({ length: o.regretSteps }, () => hostNormal(rng, o.regretSamples, L));
    const out = new Float64Array(n);
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      const x0 = xArray(padded(x, s, B));
      const [mu0, lv0] = encodeFn(borrowed(), x0.ref) as Array[];
      const before = await toHost(negElboGivenFn(borrowed(), x0.ref, mu0.ref, lv0.ref, np.array(evalEps).reshape([o.samples, L])));
      let post: Post = { mu: mu0, logVar: lv0 };
      let opt = adamInit(post);
      const step = regretStepFn(o.regretLr);
      for (const e of stepEps) {
        const [post1, opt1, keep] = step(borrowed(), x0.ref, post, opt, np.array(e).reshape([o.regretSamples, L]));
        // wait for the step: otherwise the engine queues every step with its intermediates (memory grows per step)
        await toHost(keep);
        [post, opt] = [post1, opt1];
      }
      tree.dispose(opt as never);
      const after = await toHost(negElboGivenFn(borrowed(), x0, post.mu, post.logVar, np.array(evalEps).reshape([o.samples, L])));
      for (let i = 0; i < m; i++) out[s + i] = before[i] - after[i];
    }
    return out;
  }

  /**
   * Regret with the whole encoder re-optimised per input (decoder fixed). "Before" is the same
   * estimator as the posterior scope's (the shared encoder's q), "after" the ELBO at each input's
   * own optimised encoder, with the same evaluation noise.
   */
  async function regretEncoder(x: Float32Array, o: ScoreOptions): Promise<Float64Array> {
    const n = rowsOf(x);
    const { enc: enc0, rest } = splitEncoder(params);
    const encValues = (tree.leaves(enc0 as never) as Array[]).reduce((acc, a) => acc + a.size, 0);
    const B = encoderBatch(n, encValues);
    const rng = new Rng(o.seed + 2);
    const evalEps = hostNormal(rng, o.samples, L);
    const stepEps = globalThis.Array.from({ length: o.regretSteps }, () => hostNormal(rng, o.regretSamples, L));
    const step = encoderStepFn(o.regretLr);
    const restRef = () => tree.ref(rest as never) as Params;
    const out = new Float64Array(n);
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      const x0 = xArray(padded(x, s, B));
      const before = await toHost(negElboFn(borrowed(), x0.ref, np.array(evalEps).reshape([o.samples, L])));
      let encB = tree.map((a: Array) => np.broadcastTo(a.ref.reshape([1, ...a.shape]), [B, ...a.shape]).add(0), enc0 as never) as Params;
      let opt = adamInit(encB as never) as unknown as AdamState<Params>;
      for (const e of stepEps) {
        const [enc1, opt1, keep] = step(encB, restRef(), x0.ref, opt, np.array(e).reshape([o.regretSamples, L]));
        await toHost(keep); // wait for the step (see regret)
        [encB, opt] = [enc1, opt1];
      }
      tree.dispose(opt as never);
      const [mu, logVar] = encodeCopiesFn(encB, restRef(), x0.ref) as unknown as Array[];
      const after = await toHost(negElboGivenFn(borrowed(), x0, mu, logVar, np.array(evalEps).reshape([o.samples, L])));
      for (let i = 0; i < m; i++) out[s + i] = before[i] - after[i];
    }
    return out;
  }

  return { model: model as LatentModel, batchSize, negElbo, iwaeNll, reconError, regret };
}

/** Consecutive groups of `m` values → each value replaced by |mean of its group − entropy|. */
export function typicalityScores(nll: ArrayLike<number>, entropy: number, m: number): Float64Array {
  if (!Number.isInteger(m) || m < 1) throw new VaekitError(`typicality batch size must be a whole number ≥ 1, got ${m}`);
  const out = new Float64Array(nll.length);
  for (let s = 0; s < nll.length; s += m) {
    const e = Math.min(nll.length, s + m);
    let acc = 0;
    for (let i = s; i < e; i++) acc += nll[i];
    const score = Math.abs(acc / (e - s) - entropy);
    for (let i = s; i < e; i++) out[i] = score;
  }
  return out;
}

/** One score per batch of `m` consecutive values (for batch-level evaluation). */
export function typicalityBatchScores(nll: ArrayLike<number>, entropy: number, m: number): Float64Array {
  const per = typicalityScores(nll, entropy, m);
  const nb = Math.floor(nll.length / m); // whole batches only
  return Float64Array.from({ length: nb }, (_, b) => per[b * m]);
}
