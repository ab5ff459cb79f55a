/**
 * Dataset-level evaluation, per example in nats: negative ELBO with its two terms, and the
 * IWAE estimate of −log p(x) with k importance samples, chunked over k so k = 5000 fits in memory.
 * Sums are taken on the host in float64 (float32 sums drift over 10⁴–10⁷ terms).
 */
import { activeDevice, jitted, np, random, RunningLogMeanExp, toHost, toHostAll, tree, type Array } from "../engine/index.js";
import { elboTerms, iwaeLogWeights } from "../objectives/elbo.js";
import type { Vae, VaeParams } from "../models/vae.js";
import { inputSize } from "../models/config.js";
import { bitsPerDim } from "../distributions/likelihoods.js";
import { VaekitError } from "../errors.js";
import { plainLatentProblem } from "./parallelShard.js";
import { ONNX_NEEDS_WASM } from "./config.js";
import type * as OnnxEvalModule from "./onnxEval.js";

export interface EvalOptions {
  iwaeK?: number; // 0 = skip IWAE
  batchSize?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalResult {
  neg_elbo: number;
  recon: number;
  kl: number;
  iwae_nll?: number;
  iwae_k?: number;
  n: number;
  /** The same bounds in bits per data dimension (nats / (D·ln 2)). */
  neg_elbo_bpd?: number;
  iwae_bpd?: number;
  /** Per-example values (float64) for scoring and plots. */
  perExample: { negElbo: Float64Array; iwaeNll?: Float64Array };
}

/** Largest divisor of k not above cap, so every chunk has the same (jitted) shape. */
export function chunkSize(k: number, cap: number): number {
  for (let c = Math.min(k, cap); c >= 1; c--) if (k % c === 0) return c;
  return 1;
}

/** Copy rows [start, start+B) of x (n×D), zero-padding past n so every batch has the same shape. */
export function paddedBatch(x: Float32Array, D: number, start: number, B: number): Float32Array {
  const out = new Float32Array(B * D);
  out.set(x.subarray(start * D, Math.min(x.length, (start + B) * D)));
  return out;
}

export function makeEvaluator(model: Vae) {
  const elboFn = jitted((params: VaeParams, x: Array, key: Array) => {
    const { recon, kl, klPerDim } = elboTerms(model, params, x, key);
    klPerDim?.dispose();
    return [recon, kl];
  });
  // conv decoders hold far more activations per row than MLPs: fewer rows per call
  const isConv = model.config.encoder.type === "conv" || model.config.decoder.type === "conv";
  const rowsPerCall = isConv ? 512 : 4096;
  const iwaeFns = new Map<number, (params: VaeParams, x: Array, key: Array) => Array>();
  const iwaeFn = (c: number) => {
    if (!iwaeFns.has(c)) iwaeFns.set(c, jitted((p: VaeParams, x: Array, key: Array) => iwaeLogWeights(model, p, x, key, c)));
    return iwaeFns.get(c)!;
  };

  return async function evaluate(params: VaeParams, x: Float32Array, opts: EvalOptions = {}): Promise<EvalResult> {
    const D = inputSize(model.config);
    const n = x.length / D;
    const k = opts.iwaeK ?? 0;
    // rows through the decoder per call ≈ rowsPerCall: examples × samples per chunk
    const B = opts.batchSize ?? (k > 0 ? 32 : 256);
    const c = k > 0 ? chunkSize(k, Math.max(1, Math.floor(rowsPerCall / B))) : 0;
    const negElbo = new Float64Array(n);
    const recon = new Float64Array(n);
    const kl = new Float64Array(n);
    const iwae = k > 0 ? new Float64Array(n) : undefined;
    let key = random.key(opts.seed ?? 0);
    const total = Math.ceil(n / B) * (1 + (k > 0 ? k / c : 0));
    let done = 0;
    for (let start = 0; start < n; start += B) {
      const m = Math.min(B, n - start);
      const xb = paddedBatch(x, D, start, B);
      const keys = np.unstack(random.split(key, 3));
      key = keys[0];
      const [r, kk] = elboFn(tree.ref(params), np.array(xb).reshape([B, D]), keys[1]) as unknown as [Array, Array];
      const [rd, kd] = await toHostAll([r, kk]);
      for (let i = 0; i < m; i++) {
        recon[start + i] = rd[i];
        kl[start + i] = kd[i];
        negElbo[start + i] = rd[i] + kd[i];
      }
      opts.onProgress?.(++done, total);
      if (iwae) {
        const acc = new RunningLogMeanExp(m);
        let ikey = keys[2];
        for (let s = 0; s < k; s += c) {
          const ks = np.unstack(random.split(ikey, 2));
          ikey = ks[0];
          acc.add(await toHost(iwaeFn(c)(tree.ref(params), np.array(xb).reshape([B, D]), ks[1])), c, B); // [c, B]
          opts.onProgress?.(++done, total);
        }
        ikey.dispose();
        for (let i = 0; i < m; i++) iwae[start + i] = -acc.value(i);
      }
    }
    key.dispose();
    const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const result: EvalResult = {
      neg_elbo: mean(negElbo),
      recon: mean(recon),
      kl: mean(kl),
      n,
      neg_elbo_bpd: bitsPerDim(mean(negElbo), D),
      perExample: { negElbo, iwaeNll: iwae },
    };
    if (iwae) {
      result.iwae_nll = mean(iwae);
      result.iwae_k = k;
      result.iwae_bpd = bitsPerDim(result.iwae_nll, D);
    }
    return result;
  };
}

/** What computes the IWAE estimate: the engine (jax) or ONNX Runtime (onnx, Node only). */
export type EvalEngine = "jax" | "onnx";

export interface EngineEvalOptions extends EvalOptions {
  engine?: EvalEngine;
  /** ONNX Runtime intra-op threads (engine onnx). */
  threads?: number;
}

/** Node-only modules load on request; a computed specifier keeps bundlers from pulling them into browser builds. */
const nodeOnly = <T>(path: string): Promise<T> => import(/* @vite-ignore */ path) as Promise<T>;

/**
 * makeEvaluator's evaluation with the IWAE estimate on the chosen engine. onnx: the same estimator
 * (k importance samples, log-mean-exp in float64 on the host) with the log-weights computed by
 * ONNX Runtime from its own samples, so IWAE agrees with the jax engine's within Monte-Carlo
 * error; the ELBO part always runs on the engine and is identical for both.
 */
export async function evaluateWithEngine(model: Vae, params: VaeParams, x: Float32Array, opts: EngineEvalOptions = {}): Promise<EvalResult> {
  const { engine = "jax", threads = 1, ...rest } = opts;
  const k = rest.iwaeK ?? 0;
  if (engine === "jax" || k === 0) return makeEvaluator(model)(params, x, rest);
  if (activeDevice() !== "wasm") throw new VaekitError(ONNX_NEEDS_WASM);
  const problem = plainLatentProblem(model.config);
  if (problem) throw new VaekitError(`--engine onnx cannot evaluate this model: ${problem}; use --engine jax`);
  const mod = await nodeOnly<typeof OnnxEvalModule>("./onnxEval.js");
  const missing = await mod.onnxRuntimeProblem();
  if (missing) throw new VaekitError(`--engine onnx needs onnxruntime-node, which could not be loaded (${missing}); install it or use --engine jax`);
  const D = inputSize(model.config);
  const n = x.length / D;
  // the same batches (and so the same ELBO samples) as makeEvaluator with IWAE on
  const B = rest.batchSize ?? 32;
  const c = chunkSize(k, Math.max(1, Math.floor(4096 / B)));
  const iwaeRuns = Math.ceil(n / B) * (k / c);
  const elbo = await makeEvaluator(model)(params, x, { ...rest, iwaeK: 0, batchSize: B, onProgress: (d, t) => rest.onProgress?.(d, t + iwaeRuns) });
  const elboRuns = Math.ceil(n / B);
  const iwae = await mod.makeOnnxIwae(model, { batch: B, chunk: c, threads, seed: rest.seed ?? 0 });
  try {
    const r = await iwae.evaluate(params, x, k, (d) => rest.onProgress?.(elboRuns + d, elboRuns + iwaeRuns));
    return { ...elbo, iwae_nll: r.iwae_nll, iwae_k: k, iwae_bpd: bitsPerDim(r.iwae_nll, D), perExample: { ...elbo.perExample, iwaeNll: r.perExample } };
  } finally {
    await iwae.close();
  }
}

export interface ActiveUnits {
  /** Units whose posterior mean varies over the data by more than the threshold. */
  active: number;
  total: number;
  /** The same count per stochastic layer, bottom to top. */
  perLayer: number[];
  /** Var_x(E_q[z_u|x]) per unit (float64), bottom layer first. */
  variance: Float64Array;
}

/**
 * Active units (Burda et al. 2016): unit u is active when Var_x(E_q[z_u|x]) > threshold (0.01).
 * Uses Vae.posteriorMeans: every layer of a ladder, and for a flow posterior the flow's image of
 * the Gaussian mean (a summary of the posterior, not its exact mean).
 */
export function makeActiveUnits(model: Vae) {
  const meansFn = jitted((p: VaeParams, x: Array) => model.posteriorMeans(p, x));
  return async function activeUnits(params: VaeParams, x: Float32Array, opts: { threshold?: number; batchSize?: number } = {}): Promise<ActiveUnits> {
    const D = inputSize(model.config);
    const n = x.length / D;
    const B = opts.batchSize ?? 256;
    const U = model.latentSizes.reduce((a, b) => a + b, 0);
    const sum = new Float64Array(U);
    const sumSq = new Float64Array(U);
    for (let start = 0; start < n; start += B) {
      const m = Math.min(B, n - start);
      const mu = await toHost(meansFn(tree.ref(params), np.array(paddedBatch(x, D, start, B)).reshape([B, D])));
      for (let i = 0; i < m; i++) {
        for (let u = 0; u < U; u++) {
          const v = mu[i * U + u];
          sum[u] += v;
          sumSq[u] += v * v;
        }
      }
    }
    const threshold = opts.threshold ?? 0.01;
    const variance = sum.map((s, u) => Math.max(0, sumSq[u] / n - (s / n) ** 2));
    const perLayer: number[] = [];
    let offset = 0;
    for (const size of model.latentSizes) {
      perLayer.push(variance.subarray(offset, offset + size).filter((v) => v > threshold).length);
      offset += size;
    }
    return { active: perLayer.reduce((a, b) => a + b, 0), total: U, perLayer, variance };
  };
}
