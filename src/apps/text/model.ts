/**
 * The sentence VAE of Bowman et al. (2016), browser-safe: a GRU encoder (by default one GRU each
 * way) reads the sentence and gives a diagonal-Gaussian posterior over z (the core library's
 * DiagGaussian); an autoregressive GRU decoder, conditioned on z
 * through its initial state and an input added at every step, predicts each next token.
 * latentDim = 0 gives the same decoder without a latent: the language-model baseline.
 *
 * Engine notes (jax-js 0.1.25 on wasm): the recurrence is unrolled over the fixed number of steps
 * inside `jit` (keep sequences short); embeddings are one-hot matmuls because the gradient of
 * `np.take` fails under jit; data is time-major [T, B] and sliced per step (slicing data is free),
 * while no parameter-dependent value is ever sliced (the gradient of a slice is very slow).
 * Convention as in the core library: functions borrow params and consume data arguments.
 */
import { z } from "zod";
import { np, nn, random, type Array } from "../../engine/index.js";
import { DiagGaussian } from "../../distributions/index.js";
import { dense, initDense, type DenseParams } from "../../models/layers.js";
import { VaekitError } from "../../errors.js";

export const TextVaeConfig = z.object({
  format: z.literal("vaekit.text-vae/1").default("vaekit.text-vae/1"),
  vocabSize: z.number().int().min(5),
  /** Longest sentence in tokens (without BOS/EOS); the recurrence runs maxTokens + 1 steps. */
  maxTokens: z.number().int().positive().max(64),
  embedDim: z.number().int().positive().default(64),
  /** Decoder GRU state size. */
  hiddenDim: z.number().int().positive().default(256),
  /** Encoder GRU state size (0 = same as the decoder's). */
  encoderHiddenDim: z.number().int().nonnegative().default(0),
  /** bidirectional: a second encoder GRU reads the sentence backwards, so z sees its start as clearly as its end. */
  encoderDirections: z.enum(["forward", "bidirectional"]).default("bidirectional"),
  /** 0 = no latent: the decoder alone, a plain language model (the baseline). */
  latentDim: z.number().int().nonnegative().default(16),
});
export type TextVaeConfig = z.infer<typeof TextVaeConfig>;

export function parseTextVaeConfig(json: unknown, source = "text model config"): TextVaeConfig {
  const r = TextVaeConfig.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new VaekitError(`${source}: invalid config at "${issue.path.join(".")}": ${issue.message}`);
  }
  return r.data;
}

/**
 * A GRU layer with separate matrices per gate (r: reset, u: update, n: candidate), stored [in, H]
 * for contiguous matmuls. Separate gates avoid slicing a [B, 3H] pre-activation: under jax-js's
 * jit the gradient of a slice costs far more than the matmuls it saves.
 *   r = σ(x W_r + h U_r + b_r), u = σ(x W_u + h U_u + b_u),
 *   n = tanh(x W_n + b_n + r ⊙ (h U_n + c_n)), h' = n + u ⊙ (h − n)     (PyTorch's GRU)
 */
export interface GruParams {
  wr: Array;
  wu: Array;
  wn: Array;
  ur: Array;
  uu: Array;
  un: Array;
  br: Array;
  bu: Array;
  bn: Array;
  cn: Array;
  [k: string]: Array;
}

/** Per-gate input terms of one step, each [B, H]. */
export interface GateInputs {
  r: Array;
  u: Array;
  n: Array;
}

export interface TextVaeParams {
  embed: Array;
  decoder: GruParams;
  output: DenseParams;
  /** Present only when latentDim > 0 (the backward parts only for a bidirectional encoder). */
  encoder?: GruParams;
  posteriorMean?: DenseParams;
  posteriorLogVar?: DenseParams;
  encoderBackward?: GruParams;
  backwardMean?: DenseParams;
  backwardLogVar?: DenseParams;
  latentToHidden?: DenseParams;
  latentToGates?: { r: DenseParams; u: DenseParams; n: DenseParams };
  [k: string]: unknown;
}

/** PyTorch's GRU initialisation: every weight and bias U(−1/√H, 1/√H). */
function initGru(key: Array, inDim: number, hidden: number): GruParams {
  const bound = 1 / Math.sqrt(hidden);
  const names = ["wr", "wu", "wn", "ur", "uu", "un", "br", "bu", "bn", "cn"] as const;
  const keys = np.unstack(random.split(key, names.length));
  const out: Record<string, Array> = {};
  names.forEach((name, i) => {
    const shape = name[0] === "w" ? [inDim, hidden] : name[0] === "u" ? [hidden, hidden] : [hidden];
    out[name] = random.uniform(keys[i], shape, { minval: -bound, maxval: bound });
  });
  return out as GruParams;
}

export function initTextVae(config: TextVaeConfig, key: Array): TextVaeParams {
  const { vocabSize: V, embedDim: E, hiddenDim: H, latentDim: L } = config;
  const keys = np.unstack(random.split(key, 13));
  const params: TextVaeParams = {
    embed: random.normal(keys[0], [V, E]).mul(0.1),
    decoder: initGru(keys[1], E, H),
    output: initDense(keys[2], H, V),
  };
  if (L > 0) {
    const He = config.encoderHiddenDim || H;
    params.encoder = initGru(keys[3], E, He);
    params.posteriorMean = initDense(keys[4], He, L);
    params.posteriorLogVar = initDense(keys[5], He, L);
    params.latentToHidden = initDense(keys[6], L, H);
    params.latentToGates = { r: initDense(keys[7], L, H), u: initDense(keys[8], L, H), n: initDense(keys[9], L, H) };
    if (config.encoderDirections === "bidirectional") {
      params.encoderBackward = initGru(keys[10], E, He);
      params.backwardMean = initDense(keys[11], He, L);
      params.backwardLogVar = initDense(keys[12], He, L);
    } else keys.slice(10).forEach((k) => k.dispose());
  } else keys.slice(3).forEach((k) => k.dispose());
  return params;
}

/** One-hot codes of integer ids: [...shape] → [...shape, V] float32 (no gather, so grads work under jit). */
export function oneHot(ids: Array, V: number): Array {
  return np.equal(ids.reshape([...ids.shape, 1]), np.arange(V, undefined, undefined, { dtype: np.int32 })).astype(np.float32);
}

/**
 * Embedding folded into the gates' input weights: one [V, H] table per gate, so a step's input
 * term is oneHot(ids) · table (the embedding is shared by encoder and decoder and still learnt).
 */
function gateTables(params: TextVaeParams, gru: GruParams): GateInputs {
  const t = (w: Array) => np.matmul(params.embed.ref, w.ref);
  return { r: t(gru.wr), u: t(gru.wu), n: t(gru.wn) };
}

/** Input terms for token ids [B] (consumed), plus the optional per-step latent terms (borrowed). */
function stepInputs(tables: GateInputs, ids: Array, extra: GateInputs | null): GateInputs {
  const x = oneHot(ids, tables.r.shape[0]);
  const term = (table: Array, e: Array | undefined) => {
    const v = np.matmul(x.ref, table.ref);
    return e ? v.add(e.ref) : v;
  };
  const out = { r: term(tables.r, extra?.r), u: term(tables.u, extra?.u), n: term(tables.n, extra?.n) };
  x.dispose();
  return out;
}

/**
 * tanh x = 2σ(2x) − 1. On the wasm engine the gradient of `np.tanh` costs about twice that of
 * the sigmoid, and the GRU's activations are a large share of a training step.
 */
export function tanhViaSigmoid(x: Array): Array {
  return nn.sigmoid(x.mul(2)).mul(2).sub(1);
}

/** One GRU step: gate inputs g (consumed), state h [B, H] (consumed) → new state. */
export function gruStep(gru: GruParams, g: GateInputs, h: Array): Array {
  const r = nn.sigmoid(g.r.add(np.matmul(h.ref, gru.ur.ref)).add(gru.br.ref));
  const u = nn.sigmoid(g.u.add(np.matmul(h.ref, gru.uu.ref)).add(gru.bu.ref));
  const n = tanhViaSigmoid(g.n.add(gru.bn.ref).add(r.mul(np.matmul(h.ref, gru.un.ref).add(gru.cn.ref))));
  return n.ref.add(u.mul(h.sub(n)));
}

function disposeGates(g: GateInputs): void {
  g.r.dispose();
  g.u.dispose();
  g.n.dispose();
}

/** A GRU's state after the last real step of ids [T, B] (consumed), read with mask [T, B] (borrowed) so padding keeps the state. */
function finalState(params: TextVaeParams, gru: GruParams, ids: Array, mask: Array): Array {
  const [T, B] = ids.shape;
  const tables = gateTables(params, gru);
  let h = np.zeros([B, gru.ur.shape[0]]);
  for (let t = 0; t < T; t++) {
    const next = gruStep(gru, stepInputs(tables, ids.ref.slice(t), null), h.ref);
    h = h.ref.add(mask.ref.slice(t).reshape([B, 1]).mul(next.sub(h))); // h + m·(h' − h)
  }
  ids.dispose();
  disposeGates(tables);
  return h;
}

/**
 * Encoder q(z|x): GRU final states → mean and log-variance. ids [T, B] int32 is the targets row
 * (tokens then EOS), reversed [T, B] the same tokens backwards (for the backward GRU; ignored by
 * a forward-only encoder), mask [T, B]; all consumed. With two directions the posterior's
 * statistics are the sum of a projection of each final state (no concatenation).
 */
export function encode(params: TextVaeParams, ids: Array, reversed: Array, mask: Array): DiagGaussian {
  const enc = params.encoder;
  if (!enc || !params.posteriorMean || !params.posteriorLogVar) throw new Error("encode: this model has no latent (latentDim = 0)");
  const h = finalState(params, enc, ids, mask);
  let mean = dense(h.ref, params.posteriorMean);
  let logVar = dense(h, params.posteriorLogVar);
  if (params.encoderBackward && params.backwardMean && params.backwardLogVar) {
    const hb = finalState(params, params.encoderBackward, reversed, mask);
    mean = mean.add(dense(hb.ref, params.backwardMean));
    logVar = logVar.add(dense(hb, params.backwardLogVar));
  } else reversed.dispose();
  mask.dispose();
  return new DiagGaussian(mean, logVar);
}

/** The decoder's starting state and per-step latent gate terms from z [N, L] (consumed); zeros and null without a latent. */
export function decoderStart(params: TextVaeParams, z: Array | null, n: number): { h: Array; zGates: GateInputs | null } {
  const H = params.decoder.ur.shape[0];
  const toGates = params.latentToGates;
  if (z === null || !params.latentToHidden || !toGates) {
    z?.dispose();
    return { h: np.zeros([n, H]), zGates: null };
  }
  const zGates = { r: dense(z.ref, toGates.r), u: dense(z.ref, toGates.u), n: dense(z.ref, toGates.n) };
  return { h: np.tanh(dense(z, params.latentToHidden)), zGates };
}

/**
 * Teacher-forced decoder: logits for every step, [T·B, V] time-major, from the decoder inputs
 * [T, B] int32 (consumed) and z [B, L] (consumed; null for the language model).
 * z enters as the initial state and as a term added to every step's gate inputs (which is what
 * concatenating z to each input embedding computes).
 */
export function decodeLogits(params: TextVaeParams, z: Array | null, decoderInputs: Array): Array {
  const [T, B] = decoderInputs.shape;
  const dec = params.decoder;
  const tables = gateTables(params, dec);
  let { h, zGates } = decoderStart(params, z, B);
  const hs: Array[] = [];
  for (let t = 0; t < T; t++) {
    h = gruStep(dec, stepInputs(tables, decoderInputs.ref.slice(t), zGates), h);
    hs.push(h.ref);
  }
  decoderInputs.dispose();
  h.dispose();
  disposeGates(tables);
  if (zGates) disposeGates(zGates);
  return dense(np.stack(hs).reshape([T * B, dec.ur.shape[0]]), params.output);
}

/** One generation step: token ids [N] (consumed) and state h [N, H] (consumed) → new state and logits [N, V]. */
export function decoderStep(params: TextVaeParams, h: Array, zGates: GateInputs | null, ids: Array): { h: Array; logits: Array } {
  const tables = gateTables(params, params.decoder);
  const next = gruStep(params.decoder, stepInputs(tables, ids, zGates), h);
  disposeGates(tables);
  return { h: next.ref, logits: dense(next, params.output) };
}

/** Parameter count, for reports. */
export function parameterCount(params: TextVaeParams): number {
  let n = 0;
  const walk = (v: unknown) => {
    if (v && typeof v === "object" && "shape" in v) n += (v as Array).shape.reduce((a, b) => a * b, 1);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(params);
  return n;
}
