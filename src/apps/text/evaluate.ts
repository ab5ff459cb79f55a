/**
 * Evaluation of a sentence VAE or its no-latent baseline (browser-safe), summed on the host in
 * float64: the negative ELBO per sentence and per token, its perplexity bound exp(NLL/token),
 * the KL per sentence, active units (Burda et al.: Cov_x E_q[z_u] > 0.01) and an IWAE bound.
 * Tokens counted are the predicted ones: each word plus the end-of-sentence token.
 * For the baseline (latentDim 0) the "bound" is the exact log-likelihood and KL is 0.
 */
import { jitted, keyFromWords, logMeanExp, np, toHost, toHostAll, tree, type Array as DeviceArray } from "../../engine/index.js";
import { Rng } from "../../data/rng.js";
import { makeBatch, type TextBatch } from "./batch.js";
import { encode, type TextVaeConfig, type TextVaeParams } from "./model.js";
import { textElboTerms, textIwaeLogWeights } from "./objective.js";

export interface TextMetrics {
  sentences: number;
  tokens: number;
  /** −ELBO / predicted tokens, nats (an upper bound on the NLL per token). */
  nll_per_token: number;
  /** exp(nll_per_token): an upper bound on the perplexity. */
  perplexity_bound: number;
  /** Per sentence, nats: neg_elbo = recon + kl. */
  neg_elbo: number;
  recon: number;
  kl: number;
  latent_dim: number;
  active_units: number;
  /** IWAE bound with iwae_k samples (absent when not computed). */
  iwae_k?: number;
  iwae_sentences?: number;
  iwae_nll?: number;
  iwae_nll_per_token?: number;
  iwae_perplexity_bound?: number;
}

export interface TextEvalOptions {
  batchSize?: number;
  seed?: number;
  /** Importance samples for the IWAE bound (0 = skip). */
  iwaeK?: number;
  /** Compute the IWAE bound on the first this many sentences only. */
  iwaeLimit?: number;
  onProgress?: (done: number, total: number) => void;
}

const elboPass = jitted((params: TextVaeParams, targets: DeviceArray, reversed: DeviceArray, decoderInputs: DeviceArray, mask: DeviceArray, key: DeviceArray) => {
  const { recon, kl } = textElboTerms(params, { targets, reversed, decoderInputs, mask }, key);
  return { recon, kl: kl === null ? recon.ref.mul(0) : kl.sum(-1) };
});

const posteriorMeans = jitted((params: TextVaeParams, targets: DeviceArray, reversed: DeviceArray, mask: DeviceArray) => {
  const q = encode(params, targets, reversed, mask);
  q.logVar.dispose();
  return q.loc;
});

const iwaePasses = new Map<number, (p: TextVaeParams, t: DeviceArray, r: DeviceArray, d: DeviceArray, m: DeviceArray, k: DeviceArray) => DeviceArray>();
function iwaePass(k: number) {
  let f = iwaePasses.get(k);
  if (!f) {
    f = jitted((params: TextVaeParams, targets: DeviceArray, reversed: DeviceArray, decoderInputs: DeviceArray, mask: DeviceArray, key: DeviceArray) =>
      textIwaeLogWeights(params, { targets, reversed, decoderInputs, mask }, key, k),
    );
    iwaePasses.set(k, f);
  }
  return f;
}

function deviceBatch(b: TextBatch) {
  const shape = [b.steps, b.size];
  return {
    targets: np.array(b.targets, { dtype: np.int32 }).reshape(shape),
    reversed: np.array(b.reversed, { dtype: np.int32 }).reshape(shape),
    decoderInputs: np.array(b.decoderInputs, { dtype: np.int32 }).reshape(shape),
    mask: np.array(b.mask).reshape(shape),
  };
}

/** Evaluate `params` (borrowed) on `sequences`. */
export async function evaluateText(params: TextVaeParams, config: TextVaeConfig, sequences: readonly Int32Array[], opts: TextEvalOptions = {}): Promise<TextMetrics> {
  const B = opts.batchSize ?? 128;
  const T = config.maxTokens + 1;
  const L = config.latentDim;
  const rng = new Rng((opts.seed ?? 0) * 31 + 5);
  const n = sequences.length;
  const iwaeK = L > 0 ? (opts.iwaeK ?? 0) : 0;
  const iwaeN = iwaeK > 0 ? Math.min(n, opts.iwaeLimit ?? n) : 0;
  const iwaeChunk = Math.max(1, Math.min(iwaeK, Math.floor(2048 / B)));
  const totalWork = Math.ceil(n / B) + Math.ceil(iwaeN / B) * Math.ceil(iwaeK / Math.max(1, iwaeChunk));
  let done = 0;
  let recon = 0, kl = 0, tokens = 0;
  const means: Float32Array[] = [];
  const index = (start: number, end: number) => Int32Array.from({ length: end - start }, (_, i) => start + i);
  for (let start = 0; start < n; start += B) {
    const end = Math.min(n, start + B);
    const batch = makeBatch(sequences, index(start, end), T, B);
    const d = deviceBatch(batch);
    const out = elboPass(tree.ref(params), d.targets.ref, d.reversed.ref, d.decoderInputs, d.mask.ref, keyFromWords(rng.nextUint32(), rng.nextUint32()));
    const mu = L > 0 ? posteriorMeans(tree.ref(params), d.targets, d.reversed, d.mask) : null;
    if (!mu) {
      d.targets.dispose();
      d.reversed.dispose();
      d.mask.dispose();
    }
    const [r, k, m] = await toHostAll(mu ? [out.recon, out.kl, mu] : [out.recon, out.kl]);
    for (let i = 0; i < batch.rows; i++) {
      recon += r[i];
      kl += k[i];
    }
    tokens += batch.tokens;
    if (m) means.push(m.slice(0, batch.rows * L));
    opts.onProgress?.(++done, totalWork);
  }
  const negElbo = recon + kl;
  const metrics: TextMetrics = {
    sentences: n,
    tokens,
    nll_per_token: negElbo / tokens,
    perplexity_bound: Math.exp(negElbo / tokens),
    neg_elbo: negElbo / n,
    recon: recon / n,
    kl: kl / n,
    latent_dim: L,
    active_units: L > 0 ? activeUnits(means, L).count : 0,
  };
  if (iwaeK > 0) {
    let nll = 0, iwaeTokens = 0;
    for (let start = 0; start < iwaeN; start += B) {
      const end = Math.min(iwaeN, start + B);
      const batch = makeBatch(sequences, index(start, end), T, B);
      const weights: Float64Array[] = Array.from({ length: batch.rows }, () => new Float64Array(iwaeK));
      for (let k0 = 0; k0 < iwaeK; k0 += iwaeChunk) {
        const kc = Math.min(iwaeChunk, iwaeK - k0);
        const d = deviceBatch(batch);
        const w = await toHost(iwaePass(kc)(tree.ref(params), d.targets, d.reversed, d.decoderInputs, d.mask, keyFromWords(rng.nextUint32(), rng.nextUint32())));
        for (let j = 0; j < kc; j++) for (let i = 0; i < batch.rows; i++) weights[i][k0 + j] = w[j * B + i];
        opts.onProgress?.(++done, totalWork);
      }
      for (const w of weights) nll -= logMeanExp(w);
      iwaeTokens += batch.tokens;
    }
    Object.assign(metrics, {
      iwae_k: iwaeK,
      iwae_sentences: iwaeN,
      iwae_nll: nll / iwaeN,
      iwae_nll_per_token: nll / iwaeTokens,
      iwae_perplexity_bound: Math.exp(nll / iwaeTokens),
    });
  }
  return metrics;
}

/** Active units: dimensions whose posterior mean varies across sentences with variance > threshold. */
export function activeUnits(means: readonly Float32Array[], L: number, threshold = 0.01): { count: number; variances: number[] } {
  const sum = new Float64Array(L);
  const sq = new Float64Array(L);
  let n = 0;
  for (const m of means) {
    for (let i = 0; i < m.length; i++) {
      sum[i % L] += m[i];
      sq[i % L] += m[i] * m[i];
    }
    n += m.length / L;
  }
  const variances = Array.from(sum, (s, d) => (n > 1 ? (sq[d] - (s * s) / n) / (n - 1) : 0));
  return { count: variances.filter((v) => v > threshold).length, variances };
}
