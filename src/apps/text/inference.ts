/**
 * Using a trained sentence VAE on the host (browser-safe, the API a browser text view calls):
 * encode sentences to posterior means, decode latent vectors to strings (greedy or sampled with
 * a temperature), sample from the prior, reconstruct, and interpolate between two sentences
 * along the line between their codes (the homotopies of Bowman et al. 2016).
 */
import { jitted, np, toHost, toHostAll, tree, type Array as DeviceArray } from "../../engine/index.js";
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { makeBatch } from "./batch.js";
import type { TextModelBundle } from "./io.js";
import { decoderStart, decoderStep, encode, type GateInputs, type TextVaeConfig, type TextVaeParams } from "./model.js";
import { BOS, EOS, PAD, type Tokenizer } from "./tokenizer.js";

export interface DecodeOptions {
  /** Always take the most likely next token (default false: sample). */
  greedy?: boolean;
  /** Sampling temperature: logits are divided by it (default 1; 0 means greedy). */
  temperature?: number;
  seed?: number;
}

export interface Posterior {
  n: number;
  latentDim: number;
  /** n × latentDim, row-major. */
  mu: Float32Array;
  logVar: Float32Array;
  /** Sentences cut to the model's maximum length before encoding. */
  truncated: number;
}

export interface TextInference {
  config: TextVaeConfig;
  tokenizer: Tokenizer;
  hasLatent: boolean;
  encode(sentences: readonly string[]): Promise<Posterior>;
  /** Decode latent vectors (n × latentDim, row-major) to sentences. */
  decode(z: Float32Array, opts?: DecodeOptions): Promise<string[]>;
  /** z ~ N(0, t²·I) (t = priorTemperature, default 1) decoded; for a model without latent, plain LM samples. */
  sample(n: number, opts?: DecodeOptions & { priorTemperature?: number }): Promise<{ z: Float32Array; texts: string[] }>;
  /** Decode the posterior mean of `sentence` (greedy unless opts say otherwise). */
  reconstruct(sentence: string, opts?: DecodeOptions): Promise<string>;
  /** `steps` points from a to b (both included) on the line between their posterior means, each decoded. */
  interpolate(a: string, b: string, steps: number, opts?: DecodeOptions): Promise<{ t: number; text: string }[]>;
}

const encodePass = jitted((params: TextVaeParams, targets: DeviceArray, reversed: DeviceArray, mask: DeviceArray) => {
  const q = encode(params, targets, reversed, mask);
  return { mu: q.loc, logVar: q.logVar };
});
const startPass = jitted((params: TextVaeParams, z: DeviceArray) => {
  const { h, zGates } = decoderStart(params, z, z.shape[0]);
  return { h, zGates: zGates as GateInputs };
});
const stepWithLatent = jitted((params: TextVaeParams, h: DeviceArray, zGates: GateInputs, ids: DeviceArray) => {
  const out = decoderStep(params, h, zGates, ids);
  tree.dispose(zGates as never);
  return out;
});
const stepWithoutLatent = jitted((params: TextVaeParams, h: DeviceArray, ids: DeviceArray) => decoderStep(params, h, null, ids));

/** Tokens a decoder may emit: everything except PAD and BOS, which are never prediction targets. */
const FIRST_EMITTABLE = Math.max(PAD, BOS) + 1;

/** Pick the next token from one row of logits. */
function chooseToken(logits: Float32Array, offset: number, V: number, opts: DecodeOptions, rng: Rng): number {
  const temperature = opts.temperature ?? 1;
  if (opts.greedy || temperature <= 0) {
    let best = FIRST_EMITTABLE;
    for (let v = FIRST_EMITTABLE + 1; v < V; v++) if (logits[offset + v] > logits[offset + best]) best = v;
    return best;
  }
  let max = -Infinity;
  for (let v = FIRST_EMITTABLE; v < V; v++) max = Math.max(max, logits[offset + v]);
  const p = new Float64Array(V);
  let sum = 0;
  for (let v = FIRST_EMITTABLE; v < V; v++) sum += p[v] = Math.exp((logits[offset + v] - max) / temperature);
  let u = rng.uniform() * sum;
  for (let v = 0; v < V; v++) if ((u -= p[v]) <= 0) return v;
  return V - 1;
}

export function makeTextInference(bundle: TextModelBundle): TextInference {
  const { config, params, tokenizer } = bundle;
  const L = config.latentDim;
  const V = config.vocabSize;
  const T = config.maxTokens + 1;
  const hasLatent = L > 0;

  function requireLatent(what: string): void {
    if (!hasLatent) throw new VaekitError(`this model has no latent (a language-model baseline), so it cannot ${what}`);
  }

  /** Autoregressive decoding of n sequences from z (n × L) or, without latent, from nothing. */
  async function generate(n: number, z: Float32Array | null, opts: DecodeOptions): Promise<string[]> {
    const rng = new Rng(opts.seed ?? 0);
    let h: DeviceArray;
    let zGates: GateInputs | null = null;
    if (z) {
      const s = startPass(tree.ref(params), np.array(z).reshape([n, L]));
      h = s.h;
      zGates = s.zGates;
    } else h = np.zeros([n, config.hiddenDim]);
    const tokens: number[][] = Array.from({ length: n }, () => []);
    const done = new Uint8Array(n);
    let ids = new Int32Array(n).fill(BOS);
    for (let t = 0; t < T && done.some((d) => !d); t++) {
      const idsArr = np.array(ids, { dtype: np.int32 });
      const out = zGates ? stepWithLatent(tree.ref(params), h, tree.ref(zGates), idsArr) : stepWithoutLatent(tree.ref(params), h, idsArr);
      h = out.h;
      const logits = await toHost(out.logits);
      const next = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        if (done[i]) {
          next[i] = EOS;
          continue;
        }
        // the last step may only end the sentence: longer outputs than training never happen
        const tok = t === T - 1 ? EOS : chooseToken(logits, i * V, V, opts, rng);
        next[i] = tok;
        if (tok === EOS) done[i] = 1;
        else tokens[i].push(tok);
      }
      ids = next;
    }
    h.dispose();
    if (zGates) tree.dispose(zGates as never);
    return tokens.map((ts) => tokenizer.decode(ts));
  }

  async function encodeSentences(sentences: readonly string[]): Promise<Posterior> {
    requireLatent("encode sentences");
    if (!sentences.length) throw new VaekitError("no sentences to encode");
    let truncated = 0;
    const seqs = sentences.map((s) => {
      const ids = tokenizer.encode(s);
      if (!ids.length) throw new VaekitError(`"${s}" has no tokens this model knows`);
      if (ids.length > config.maxTokens) truncated++;
      return Int32Array.from(ids.slice(0, config.maxTokens));
    });
    const n = seqs.length;
    const batch = makeBatch(seqs, Int32Array.from(seqs.keys()), T);
    const out = encodePass(
      tree.ref(params),
      np.array(batch.targets, { dtype: np.int32 }).reshape([T, n]),
      np.array(batch.reversed, { dtype: np.int32 }).reshape([T, n]),
      np.array(batch.mask).reshape([T, n]),
    );
    const [mu, logVar] = await toHostAll([out.mu, out.logVar]);
    return { n, latentDim: L, mu, logVar, truncated };
  }

  return {
    config,
    tokenizer,
    hasLatent,
    encode: encodeSentences,
    async decode(z, opts = {}) {
      requireLatent("decode latent vectors");
      if (z.length === 0 || z.length % L !== 0) throw new VaekitError(`latent vectors must have ${L} values each, got ${z.length} values`);
      return generate(z.length / L, z, opts);
    },
    async sample(n, opts = {}) {
      if (!hasLatent) return { z: new Float32Array(0), texts: await generate(n, null, opts) };
      const rng = new Rng((opts.seed ?? 0) + 1_000_003);
      const scale = opts.priorTemperature ?? 1;
      const z = Float32Array.from({ length: n * L }, () => rng.normal() * scale);
      return { z, texts: await generate(n, z, opts) };
    },
    async reconstruct(sentence, opts = { greedy: true }) {
      return (await generate(1, (await encodeSentences([sentence])).mu, opts))[0];
    },
    async interpolate(a, b, steps, opts = { greedy: true }) {
      if (!Number.isInteger(steps) || steps < 2) throw new VaekitError(`interpolation needs at least 2 steps, got ${steps}`);
      const { mu } = await encodeSentences([a, b]);
      const z = new Float32Array(steps * L);
      const ts = Array.from({ length: steps }, (_, i) => i / (steps - 1));
      ts.forEach((t, i) => {
        for (let d = 0; d < L; d++) z[i * L + d] = (1 - t) * mu[d] + t * mu[L + d];
      });
      const texts = await generate(steps, z, opts);
      return ts.map((t, i) => ({ t, text: texts[i] }));
    },
  };
}
