/**
 * The speech VAE: any vaekit VAE config with a Gaussian likelihood, applied to fixed-size log-mel
 * segments (image layout [nMels, frames, 1]), trained with a MASKED ELBO. Browser-safe.
 *
 * Why a mask instead of modelling the padding: words are 23–64 frames long (median 45) inside a
 * 64-frame segment, so a third of every input is padding. Counting that padding as data would let
 * the per-pixel learned variance shrink on columns that are nearly always exactly 0, rewarding the
 * model for a trivial fit and inflating the reported likelihood. The likelihood term therefore sums
 * log N(x; μ(z), σ²) over real frames only; the encoder still sees the zero-padded input, so the
 * utterance length reaches the latent. The decoder's output past the end carries no meaning, so
 * every consumer cuts it at the content length: the input's own length for reconstructions, the
 * interpolated length for morphs, and a linear read-out of the length from z for prior samples
 * (fitted after training and stored with the model).
 */
import { z } from "zod";
import { adamInit, adamUpdate, defaultAdam, jitted, keyFromWords, np, random, toHost, tree, valueAndGrad, type AdamState, type Array } from "../../engine/index.js";
import { DiagGaussian } from "../../distributions/index.js";
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { inputSize, parseVaeConfig, type VaeConfig } from "../../models/config.js";
import { decodeModel, type ModelBundle } from "../../models/io.js";
import { buildVae, type Vae, type VaeParams } from "../../models/vae.js";
import { DEFAULT_SPEECH_FEATURES } from "./features.js";
import type { SegmentFormat } from "./synthesis.js";

const LOG_2PI = Math.log(2 * Math.PI);

// ---------------------------------------------------------------------------------------------
// Configuration

export const SpeechFeatureConfigSchema = z.object({
  sampleRate: z.number().int().positive(),
  nFft: z.number().int().positive(),
  hop: z.number().int().positive(),
  nMels: z.number().int().positive(),
  fMin: z.number().nonnegative(),
  fMax: z.number().positive(),
  melScale: z.enum(["slaney", "htk"]),
  melNorm: z.enum(["slaney", "none"]),
  minDb: z.number(),
  maxDb: z.number(),
});

/** Linear read-out of the content length (frames) from a latent: round(w·z + b), clamped. */
export const LengthModelSchema = z.object({
  weights: z.array(z.number()),
  bias: z.number(),
  min: z.number().int().positive(),
  max: z.number().int().positive(),
  /** Root-mean-square error on the training set, frames. */
  rmse: z.number().nonnegative(),
});
export type LengthModel = z.infer<typeof LengthModelSchema>;

/** What a speech model file keeps beside the VAE config (ModelBundle.extras.speech). */
export const SpeechModelInfoSchema = z.object({
  format: z.literal("vaekit.speech/1"),
  features: SpeechFeatureConfigSchema,
  frames: z.number().int().positive(),
  /** Silence trimming threshold used when cutting segments, dB below the loudest frame. */
  trimDb: z.number().positive(),
  /** Peak level utterances are normalised to before analysis. */
  peak: z.number().positive(),
  length: LengthModelSchema,
  trainVoices: z.array(z.string()).default([]),
  testVoices: z.array(z.string()).default([]),
  words: z.array(z.string()).default([]),
});
export type SpeechModelInfo = z.infer<typeof SpeechModelInfoSchema>;

/** A trained speech model: the VAE bundle and its speech settings. */
export interface SpeechModel {
  bundle: ModelBundle;
  info: SpeechModelInfo;
}

/** A speech model from model-file bytes (browser-safe counterpart of loadSpeechModel in files.ts). */
export function decodeSpeechModel(bytes: Uint8Array, source = "model file"): SpeechModel {
  const bundle = decodeModel(bytes, source);
  return { bundle, info: speechInfoOf(bundle, source) };
}

/** How a model cuts and voices segments (for audioToSegment / segmentToAudio in synthesis.ts). */
export function formatOf(info: SpeechModelInfo): SegmentFormat {
  return { features: info.features, frames: info.frames, trimDb: info.trimDb, peak: info.peak };
}

/** The speech settings inside a model bundle; a clear error for a model that is not a speech model. */
export function speechInfoOf(bundle: ModelBundle, source = "model"): SpeechModelInfo {
  const raw = bundle.extras?.speech;
  if (raw === undefined) throw new VaekitError(`${source} is not a speech model (no speech settings inside; train one with "vaekit audio train")`);
  const r = SpeechModelInfoSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new VaekitError(`${source}: invalid speech settings at "${issue.path.join(".")}": ${issue.message}`);
  }
  const info = r.data;
  const [h, w, c] = bundle.config.inputShape;
  if (h !== info.features.nMels || w !== info.frames || c !== 1) {
    throw new VaekitError(`${source}: input shape ${h}×${w}×${c} does not match ${info.features.nMels} mel bands × ${info.frames} frames × 1`);
  }
  return info;
}

export interface SpeechArchitecture {
  nMels?: number;
  frames?: number;
  latentDim?: number;
  /** "conv" (default): strided convolutions over (mel, frame); "mlp": dense layers on the flattened segment. */
  network?: "conv" | "mlp";
  /** conv: channels after each stride-2 conv (default 16,32,64); the decoder mirrors them. */
  channels?: number[];
  /** Dense hidden sizes: after the convolutions (conv, default 256) or the whole MLP (default 512,256); mirrored. */
  hidden?: number[];
  beta?: number;
}

/**
 * The default speech VAE: [nMels, frames, 1] log-mel input (an image with mel bands as rows and
 * frames as columns), a convolutional encoder/decoder, and a Gaussian likelihood with one learned
 * variance per mel bin and frame. Any VaeConfig with a Gaussian likelihood and inputShape
 * [nMels, frames, 1] trains the same way (see checkSpeechConfig).
 */
export function speechVaeConfig(a: SpeechArchitecture = {}): VaeConfig {
  const nMels = a.nMels ?? DEFAULT_SPEECH_FEATURES.nMels;
  const frames = a.frames ?? 64;
  const network = a.network ?? "conv";
  const mirror = (xs: number[]) => [...xs].reverse();
  let encoder: VaeConfig["encoder"];
  let decoder: VaeConfig["decoder"];
  if (network === "mlp") {
    const hidden = a.hidden ?? [512, 256];
    encoder = { type: "mlp", hidden };
    decoder = { type: "mlp", hidden: mirror(hidden) };
  } else {
    const channels = a.channels ?? [16, 32, 64];
    const hidden = a.hidden ?? [256];
    const conv = { type: "conv" as const, kernel: 4, stride: 2, residualBlocks: 0 };
    encoder = { ...conv, channels, hidden };
    decoder = { ...conv, channels: mirror(channels), hidden: mirror(hidden) };
  }
  return parseVaeConfig({
    format: "vaekit.vae/1",
    inputShape: [nMels, frames, 1],
    latentDim: a.latentDim ?? 32,
    encoder,
    decoder,
    likelihood: { type: "gaussian", variance: "learned", sigma: 1 },
    prior: { type: "standard-normal" },
    beta: a.beta ?? 1,
  }, "speech model config");
}

/** The config must describe [nMels, frames, 1] inputs with a Gaussian likelihood. */
export function checkSpeechConfig(config: VaeConfig, nMels: number, frames: number): void {
  const [h, w, c] = config.inputShape;
  if (h !== nMels || w !== frames || c !== 1) {
    throw new VaekitError(`speech model config: inputShape must be [${nMels}, ${frames}, 1] (mel bands, frames, 1), got [${config.inputShape}]`);
  }
  if (config.likelihood.type !== "gaussian") {
    throw new VaekitError(`speech model config: log-mel values are continuous, so the likelihood must be "gaussian", got "${config.likelihood.type}"`);
  }
  const o = config.objective;
  if (o && (o.type !== "elbo" || o.freeBits !== 0 || o.klSchedule.type !== "constant")) {
    throw new VaekitError('speech model config: the speech trainer uses the masked ELBO; leave "objective" out (KL warm-up: --kl-warmup)');
  }
}

// ---------------------------------------------------------------------------------------------
// Masked objective (called inside jit)

/** Frame mask [B, F] → element mask [B, nMels·F] in the mel-major segment layout. */
function elementMask(frameMask: Array, nMels: number): Array {
  const [B, F] = frameMask.shape;
  return np.broadcastTo(frameMask.reshape([B, 1, F]), [B, nMels, F]).reshape([B, nMels * F]);
}

/**
 * Per-example ELBO terms with the likelihood summed over real frames only:
 * recon = −Σ_{real frames} log N(x; μ(z), σ²), kl = KL(q(z|x) ‖ N(0, I)). Consumes x and frameMask.
 */
export function maskedElboTerms(model: Vae, params: VaeParams, x: Array, frameMask: Array, key: Array): { recon: Array; kl: Array } {
  const nMels = model.config.inputShape[0];
  const q = model.encode(params, x.ref);
  const zs = q.sample(key);
  const p = model.decode(params, zs);
  if (!(p instanceof DiagGaussian)) throw new VaekitError("speech model: the decoder must have a Gaussian likelihood");
  const d = x.sub(p.loc.ref);
  const perElement = d.ref.mul(d).mul(np.exp(np.negative(p.logVar.ref))).add(p.logVar.ref).add(LOG_2PI);
  const recon = perElement.mul(elementMask(frameMask, nMels)).sum(-1).mul(0.5);
  return { recon, kl: q.klToStandardNormal() };
}

// ---------------------------------------------------------------------------------------------
// Data

/** Segments with their frame masks, as the trainer and evaluator take them. */
export interface SegmentSet {
  count: number;
  /** count × (nMels·frames), mel-major, values in [0, 1]. */
  data: Float32Array;
  /** count × frames, 1 for real frames. */
  mask: Float32Array;
}

/** The segments at `indices`, copied. */
export function selectSegments(set: SegmentSet, indices: ArrayLike<number>): SegmentSet {
  const D = set.data.length / set.count;
  const F = set.mask.length / set.count;
  const n = indices.length;
  const data = new Float32Array(n * D);
  const mask = new Float32Array(n * F);
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < set.count)) throw new VaekitError(`segment index ${j} out of range 0..${set.count - 1}`);
    data.set(set.data.subarray(j * D, (j + 1) * D), i * D);
    mask.set(set.mask.subarray(j * F, (j + 1) * F), i * F);
  }
  return { count: n, data, mask };
}

/** Real frames per segment. */
export function contentLengths(set: SegmentSet): Int32Array {
  const F = set.mask.length / set.count;
  const out = new Int32Array(set.count);
  for (let i = 0; i < set.count; i++) {
    let n = 0;
    for (let f = 0; f < F; f++) n += set.mask[i * F + f] > 0 ? 1 : 0;
    out[i] = n;
  }
  return out;
}

function checkSet(set: SegmentSet, config: VaeConfig, what: string): void {
  const D = inputSize(config);
  const F = config.inputShape[1];
  if (set.count < 1 || set.data.length !== set.count * D || set.mask.length !== set.count * F) {
    throw new VaekitError(`${what}: expected ${set.count} segments of ${config.inputShape[0]}×${F} values with ${F}-frame masks`);
  }
  for (let i = 0; i < set.data.length; i++) {
    if (!Number.isFinite(set.data[i])) throw new VaekitError(`${what}: segment value ${i} is ${set.data[i]}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export interface SpeechEvalResult {
  /** Negative ELBO per real frame, nats (one frame = nMels normalised log-mel values). */
  negElboPerFrame: number;
  reconPerFrame: number;
  klPerFrame: number;
  /** Negative ELBO per utterance, nats. */
  negElbo: number;
  frames: number;
  n: number;
}

/** A jitted masked-ELBO evaluator: totals are summed on the host in float64. */
export function makeSpeechEvaluator(model: Vae, batchSize = 64) {
  const fn = jitted((params: VaeParams, x: Array, mask: Array, key: Array) => {
    const { recon, kl } = maskedElboTerms(model, params, x, mask, key);
    return np.stack([recon, kl]);
  });
  const D = inputSize(model.config);
  const F = model.config.inputShape[1];
  return async function evaluate(params: VaeParams, set: SegmentSet, seed = 0): Promise<SpeechEvalResult> {
    checkSet(set, model.config, "evaluation data");
    const rng = new Rng(seed);
    const B = Math.min(batchSize, set.count);
    let recon = 0;
    let kl = 0;
    let frames = 0;
    for (let s = 0; s < set.count; s += B) {
      const m = Math.min(B, set.count - s);
      const xb = new Float32Array(B * D);
      const mb = new Float32Array(B * F);
      xb.set(set.data.subarray(s * D, (s + m) * D));
      mb.set(set.mask.subarray(s * F, (s + m) * F));
      const out = fn(tree.ref(params), np.array(xb).reshape([B, D]), np.array(mb).reshape([B, F]), keyFromWords(rng.nextUint32(), rng.nextUint32()));
      const v = await toHost(out);
      for (let i = 0; i < m; i++) {
        recon += v[i];
        kl += v[B + i];
      }
      for (let i = 0; i < m * F; i++) frames += mb[i] > 0 ? 1 : 0;
    }
    return {
      negElboPerFrame: (recon + kl) / frames,
      reconPerFrame: recon / frames,
      klPerFrame: kl / frames,
      negElbo: (recon + kl) / set.count,
      frames,
      n: set.count,
    };
  };
}

// ---------------------------------------------------------------------------------------------
// Training

export interface SpeechTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Clip the global gradient norm (0 = off). */
  clipNorm: number;
  /** Epochs over which the KL weight rises linearly from 0 to the config's β (0 = none). */
  klWarmup: number;
  /**
   * Initial σ of a learned per-value decoder variance. The library starts at σ = 1, which on
   * [0, 1] data makes the reconstruction term so weak that the posterior collapses before the
   * variance has shrunk; starting near the data's residual scale avoids that.
   */
  decoderSigmaInit: number;
}

export const DEFAULT_SPEECH_TRAINING: SpeechTrainOptions = { epochs: 60, batchSize: 32, lr: 1e-3, seed: 0, clipNorm: 0, klWarmup: 10, decoderSigmaInit: 0.1 };

export interface SpeechEpochMetrics {
  epoch: number;
  beta: number;
  train_loss: number;
  train_recon_per_frame: number;
  train_kl_per_frame: number;
  val_neg_elbo_per_frame: number | null;
  seconds: number;
}

export interface SpeechTrainHooks {
  onStep?: (info: { epoch: number; batch: number; batches: number; loss: number }) => void;
  onEpoch?: (params: VaeParams, metrics: SpeechEpochMetrics) => void | Promise<void>;
}

/** KL weight at an epoch (1-based) under linear warm-up. */
export function klWeight(epoch: number, beta: number, warmup: number): number {
  return warmup > 0 ? beta * Math.min(1, epoch / warmup) : beta;
}

/**
 * Train a speech VAE from scratch on `train` segments, evaluating the masked negative ELBO per
 * frame on `validation` (if given) after every epoch. Shuffles and noise derive from the seed.
 */
export async function trainSpeechVae(
  config: VaeConfig,
  options: SpeechTrainOptions,
  data: { train: SegmentSet; validation?: SegmentSet },
  hooks: SpeechTrainHooks = {},
): Promise<{ params: VaeParams; history: SpeechEpochMetrics[] }> {
  checkSpeechConfig(config, config.inputShape[0], config.inputShape[1]);
  checkSet(data.train, config, "training data");
  if (data.validation) checkSet(data.validation, config, "validation data");
  const model = buildVae(config);
  const D = inputSize(config);
  const F = config.inputShape[1];
  const n = data.train.count;
  const B = Math.min(options.batchSize, n);
  const batches = Math.floor(n / B); // whole batches only: one jitted shape
  const adam = { ...defaultAdam, lr: options.lr, clipNorm: options.clipNorm };
  const step = jitted((params: VaeParams, opt: AdamState<VaeParams>, x: Array, mask: Array, key: Array, beta: Array) => {
    const lossFn = (p: VaeParams) => {
      const { recon, kl } = maskedElboTerms(model, p, x, mask, key);
      const loss = recon.ref.add(kl.ref.mul(beta)).mean();
      return [loss, { recon: recon.sum(), kl: kl.sum() }] as [Array, { recon: Array; kl: Array }];
    };
    const [[loss, aux], grads] = valueAndGrad(lossFn, { hasAux: true })(params);
    const [p1, o1] = adamUpdate(params, grads as VaeParams, opt, adam);
    return { params: p1, opt: o1, stats: np.stack([loss, aux.recon, aux.kl]) };
  });
  const evaluate = makeSpeechEvaluator(model);
  let params = model.init(random.key(options.seed));
  const logVar = params.dec_logvar as Array | undefined;
  const lik = config.likelihood;
  if (lik.type === "gaussian" && (lik.variance === "learned" || lik.variance === "learned-global") && logVar) {
    params.dec_logvar = np.full(logVar.shape, 2 * Math.log(options.decoderSigmaInit));
    logVar.dispose();
  }
  let opt = adamInit(params);
  const history: SpeechEpochMetrics[] = [];
  const xb = new Float32Array(B * D);
  const mb = new Float32Array(B * F);
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const rng = new Rng(options.seed * 1_000_003 + epoch);
    const order = rng.permutation(n);
    const beta = klWeight(epoch, config.beta, options.klWarmup);
    const t0 = performance.now();
    let sumLoss = 0, sumRecon = 0, sumKl = 0, frames = 0;
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < B; i++) {
        const j = order[b * B + i];
        xb.set(data.train.data.subarray(j * D, (j + 1) * D), i * D);
        mb.set(data.train.mask.subarray(j * F, (j + 1) * F), i * F);
      }
      for (let i = 0; i < B * F; i++) frames += mb[i] > 0 ? 1 : 0;
      const out = step(params, opt, np.array(xb).reshape([B, D]), np.array(mb).reshape([B, F]), keyFromWords(rng.nextUint32(), rng.nextUint32()), np.array(beta, { dtype: np.float32 }));
      const [loss, recon, kl] = await toHost(out.stats);
      if (!Number.isFinite(loss)) {
        tree.dispose([out.params, out.opt] as never);
        throw new VaekitError(`training diverged: the loss became ${loss} at epoch ${epoch}, batch ${b + 1}; try a lower --lr or --clip-norm`);
      }
      params = out.params;
      opt = out.opt;
      sumLoss += loss;
      sumRecon += recon;
      sumKl += kl;
      hooks.onStep?.({ epoch, batch: b + 1, batches, loss });
      if (b % 8 === 7) await new Promise((r) => setTimeout(r, 0)); // let progress timers run
    }
    const seconds = (performance.now() - t0) / 1000;
    const val = data.validation ? await evaluate(params, data.validation, options.seed) : null;
    const metrics: SpeechEpochMetrics = {
      epoch,
      beta,
      train_loss: sumLoss / batches,
      train_recon_per_frame: sumRecon / frames,
      train_kl_per_frame: sumKl / frames,
      val_neg_elbo_per_frame: val ? val.negElboPerFrame : null,
      seconds,
    };
    if (val && !Number.isFinite(val.negElboPerFrame)) throw new VaekitError(`training diverged: validation loss is ${val.negElboPerFrame} after epoch ${epoch}`);
    history.push(metrics);
    await hooks.onEpoch?.(params, metrics);
  }
  tree.dispose(opt as never);
  return { params, history };
}

// ---------------------------------------------------------------------------------------------
// Length read-out

/** Solve the symmetric positive-definite system A x = b (Cholesky, float64). */
function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
    y[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/** Ridge regression of content length (frames) on latent means z (n × L); the intercept is not penalised. */
export function fitLengthModel(zs: Float32Array, lengths: ArrayLike<number>, latentDim: number, ridge = 1e-2): LengthModel {
  const n = lengths.length;
  if (n < 1 || zs.length !== n * latentDim) throw new VaekitError(`length model: ${zs.length} latent values for ${n} lengths of dimension ${latentDim}`);
  const P = latentDim + 1; // last column is the intercept
  const A = new Float64Array(P * P);
  const b = new Float64Array(P);
  const row = new Float64Array(P);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < latentDim; k++) row[k] = zs[i * latentDim + k];
    row[latentDim] = 1;
    for (let r = 0; r < P; r++) {
      b[r] += row[r] * lengths[i];
      for (let c = 0; c < P; c++) A[r * P + c] += row[r] * row[c];
    }
  }
  for (let k = 0; k < latentDim; k++) A[k * P + k] += ridge * n;
  const w = solveSpd(A, b, P);
  let min = Infinity, max = -Infinity, sq = 0;
  const weights = [...w.subarray(0, latentDim)];
  const model: LengthModel = { weights, bias: w[latentDim], min: 1, max: 1, rmse: 0 };
  for (let i = 0; i < n; i++) {
    min = Math.min(min, lengths[i]);
    max = Math.max(max, lengths[i]);
    const d = linearLength(model, zs.subarray(i * latentDim, (i + 1) * latentDim)) - lengths[i];
    sq += d * d;
  }
  return { ...model, min: Math.max(1, Math.round(min)), max: Math.max(1, Math.round(max)), rmse: Math.sqrt(sq / n) };
}

function linearLength(m: LengthModel, zRow: ArrayLike<number>): number {
  let s = m.bias;
  for (let k = 0; k < m.weights.length; k++) s += m.weights[k] * zRow[k];
  return s;
}

/** Content length in frames predicted for one latent, clamped to the lengths seen in training. */
export function predictLength(m: LengthModel, zRow: ArrayLike<number>): number {
  return Math.min(m.max, Math.max(m.min, Math.round(linearLength(m, zRow))));
}
