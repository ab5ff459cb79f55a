/** Jitted inference on a trained model: encode to μ, decode to the likelihood's mean, sample. */
import { jitted, keyFromWords, np, toHost, toHostAll, tree, type Array } from "../engine/index.js";
import { inputSize } from "./config.js";
import { buildVae, type VaeParams } from "./vae.js";
import type { ModelBundle } from "./io.js";
import type { VaeConfig } from "./config.js";
import { Rng } from "../data/rng.js";
import { AutoregressiveBernoulli, causalSweeps, iterateToFixedPoint } from "../distributions/likelihoods.js";
import { likelihoodHead } from "./likelihood.js";

export interface Inference {
  config: VaeConfig;
  /** Posterior means μ(x) and log σ²(x) for rows of x (n×D), as n×L host arrays. */
  encode(x: Float32Array): Promise<{ mu: Float32Array; logVar: Float32Array }>;
  /** Decoder means for latent rows z (n×L) → n×D pixel/value means. */
  decode(z: Float32Array): Promise<Float32Array>;
  /** n samples from the prior at `temperature` (scales σ of the prior), decoded to means. */
  sample(n: number, seed: number, temperature?: number): Promise<{ z: Float32Array; x: Float32Array }>;
  /** Reconstruction through μ(x) (the deterministic path). */
  reconstruct(x: Float32Array): Promise<Float32Array>;
}

const CHUNK = 256; // rows per jitted call; a fixed shape means one compilation

export function makeInference(bundle: ModelBundle): Inference {
  const { config, params } = bundle;
  const model = buildVae(config);
  const D = inputSize(config);
  const L = config.latentDim;
  const enc = jitted((p: VaeParams, x: Array) => {
    const q = model.encode(p, x);
    return [q.loc, q.logVar];
  });
  const dec = jitted((p: VaeParams, z: Array) => model.decode(p, z).mean());
  const autoregressive = config.likelihood.type === "bernoulli" ? config.likelihood.autoregressive : undefined;

  async function chunked(x: Float32Array, inDim: number, outDims: number[], f: (xb: Array) => Array[] | Promise<Array[]>, chunk = CHUNK): Promise<Float32Array[]> {
    const n = x.length / inDim;
    const outs = outDims.map((d) => new Float32Array(n * d));
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      const xb = new Float32Array(chunk * inDim);
      xb.set(x.subarray(s * inDim, (s + m) * inDim));
      const ys = await toHostAll(await f(np.array(xb).reshape([chunk, inDim])));
      ys.forEach((y, i) => outs[i].set(y.subarray(0, m * outDims[i]), s * outDims[i]));
    }
    return outs;
  }

  /**
   * An autoregressive likelihood's mean without unrolling its sweeps in one jit: the decoder runs
   * once, then one jitted sweep per call until the iterate repeats (exact; AutoregressiveBernoulli).
   * Chunks are at most the rows asked for, since every sweep costs a full pass.
   */
  function autoregressiveMeans(kernel: number): (z: Float32Array) => Promise<Float32Array> {
    const head = likelihoodHead(config.likelihood, config.inputShape);
    const base = jitted((p: VaeParams, z: Array) => {
      const px = model.decode(p, z);
      if (!(px instanceof AutoregressiveBernoulli)) throw new Error("makeInference: expected an autoregressive likelihood");
      return px.base;
    });
    const sweep = jitted((p: VaeParams, d: Array, x: Array) => (head.distribution(d, p) as AutoregressiveBernoulli).sweep(x));
    const maxSweeps = causalSweeps(config.inputShape[0], config.inputShape[1], kernel);
    return async (z) => {
      const n = z.length / L;
      const rows = Math.min(CHUNK, Math.max(1, n));
      const [x] = await chunked(z, L, [D], async (zb) => {
        const d = base(tree.ref(params), zb);
        const { x } = await iterateToFixedPoint((xs) => sweep(tree.ref(params), d.ref, xs), np.zeros([rows, D]), maxSweeps);
        d.dispose();
        return [np.array(x).reshape([rows, D])];
      }, rows);
      return x;
    };
  }

  const encode = async (x: Float32Array) => {
    const [mu, logVar] = await chunked(x, D, [L, L], (xb) => enc(tree.ref(params), xb) as Array[]);
    return { mu, logVar };
  };
  const decode = autoregressive
    ? autoregressiveMeans(autoregressive.kernel)
    : async (z: Float32Array) => (await chunked(z, L, [D], (zb) => [dec(tree.ref(params), zb)]))[0];
  return {
    config,
    encode,
    decode,
    async sample(n, seed, temperature = 1) {
      const rng = new Rng(seed);
      if (!model.plain) {
        // VampPrior / ladder: the prior needs the parameters (ancestral sampling on the device)
        const draw = jitted((p: VaeParams, key: Array) => model.samplePrior(p, key, n, temperature));
        const z = draw(tree.ref(params), keyFromWords(rng.nextUint32(), rng.nextUint32()));
        const zHost = await toHost(z);
        return { z: zHost, x: await decode(zHost) };
      }
      const z = new Float32Array(n * L);
      for (let i = 0; i < z.length; i++) z[i] = rng.normal() * temperature;
      return { z, x: await decode(z) };
    },
    reconstruct: async (x) => decode((await encode(x)).mu),
  };
}
