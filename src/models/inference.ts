/** Jitted inference on a trained model: encode to μ, decode to the likelihood's mean, sample. */
import { jitted, keyFromWords, np, tree, type Array } from "../engine/index.js";
import { inputSize } from "./config.js";
import { buildVae, type VaeParams } from "./vae.js";
import type { ModelBundle } from "./io.js";
import type { VaeConfig } from "./config.js";
import { Rng } from "../data/rng.js";

export interface Inference {
  config: VaeConfig;
  /** Posterior means μ(x) and log σ²(x) for rows of x (n×D), as n×L host arrays. */
  encode(x: Float32Array): { mu: Float32Array; logVar: Float32Array };
  /** Decoder means for latent rows z (n×L) → n×D pixel/value means. */
  decode(z: Float32Array): Float32Array;
  /** n samples from the prior at `temperature` (scales σ of the prior), decoded to means. */
  sample(n: number, seed: number, temperature?: number): { z: Float32Array; x: Float32Array };
  /** Reconstruction through μ(x) (the deterministic path). */
  reconstruct(x: Float32Array): Float32Array;
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

  function chunked(x: Float32Array, inDim: number, outDims: number[], f: (xb: Array) => Array[]): Float32Array[] {
    const n = x.length / inDim;
    const outs = outDims.map((d) => new Float32Array(n * d));
    for (let s = 0; s < n; s += CHUNK) {
      const m = Math.min(CHUNK, n - s);
      const xb = new Float32Array(CHUNK * inDim);
      xb.set(x.subarray(s * inDim, (s + m) * inDim));
      const ys = f(np.array(xb).reshape([CHUNK, inDim]));
      ys.forEach((y, i) => outs[i].set((y.dataSync() as Float32Array).subarray(0, m * outDims[i]), s * outDims[i]));
    }
    return outs;
  }

  const encode = (x: Float32Array) => {
    const [mu, logVar] = chunked(x, D, [L, L], (xb) => enc(tree.ref(params), xb) as Array[]);
    return { mu, logVar };
  };
  const decode = (z: Float32Array) => chunked(z, L, [D], (zb) => [dec(tree.ref(params), zb)])[0];
  return {
    config,
    encode,
    decode,
    sample(n, seed, temperature = 1) {
      const rng = new Rng(seed);
      if (!model.plain) {
        // VampPrior / ladder: the prior needs the parameters (ancestral sampling on the device)
        const draw = jitted((p: VaeParams, key: Array) => model.samplePrior(p, key, n, temperature));
        const z = draw(tree.ref(params), keyFromWords(rng.nextUint32(), rng.nextUint32()));
        const zHost = z.dataSync() as Float32Array;
        return { z: zHost, x: decode(zHost) };
      }
      const z = new Float32Array(n * L);
      for (let i = 0; i < z.length; i++) z[i] = rng.normal() * temperature;
      return { z, x: decode(z) };
    },
    reconstruct: (x) => decode(encode(x).mu),
  };
}
