/**
 * The VampPrior (Tomczak & Welling 2018): p(z) = (1/K) Σ_k N(z; μ(u_k), σ²(u_k)), the encoder's
 * Gaussian posterior at K learned pseudo-inputs u_k (stored as `prior_pseudo_inputs` [K, D]; the
 * data-space inputs are sigmoid(·) of them, or the values themselves with "identity").
 * The prior has no closed-form KL with q, so the ELBO uses log q(z|x) − log p(z) at the sample.
 */
import { nn, np, random, type Array } from "../engine/index.js";
import type { DiagGaussian } from "../distributions/index.js";
import type { PriorConfig } from "./config.js";
import type { ParamTree } from "./networks.js";

type VampConfig = Extract<PriorConfig, { type: "vamp" }>;

const LOG_2PI = Math.log(2 * Math.PI);
export const PSEUDO_INPUTS = "prior_pseudo_inputs";

export interface VampPrior {
  /** The learned parameter (name → initial value [K, D]). */
  initParams(key: Array): Record<string, Array>;
  /** The K mixture components (borrows params). */
  components(params: ParamTree): DiagGaussian;
  /** log p(z) for z [..., L] (consumed) → [...]. */
  logProb(params: ParamTree, z: Array): Array;
  /** n samples [n, L]: a uniform component, then its Gaussian with σ scaled by `temperature`. */
  sample(params: ParamTree, key: Array, n: number, temperature: number): Array;
}

/**
 * log N(z_n; μ_k, σ_k²) for every pair, [N, K], from z [N, L] (consumed) and components
 * μ, log σ² [K, L] (consumed). The squared distance is expanded into two matmuls (z² · σ⁻² and
 * z · μσ⁻²) so no [N, K, L] array is formed. Both are first centred on the mean of the μ_k
 * (the value is unchanged) to keep the expanded terms small: float32 cancellation then costs
 * ~10⁻³ nats at σ ≈ 0.05 (checked against float64 in the tests).
 */
export function pairwiseGaussianLogProb(z: Array, loc: Array, logVar: Array): Array {
  const L = z.shape[1];
  const center = loc.ref.mean(0).reshape([1, L]);
  z = z.sub(center.ref);
  loc = loc.sub(center);
  const invVar = np.exp(np.negative(logVar.ref)); // [K, L]
  const scaledLoc = loc.ref.mul(invVar.ref);
  const quadZ = np.matmul(z.ref.mul(z.ref), invVar.transpose([1, 0])); // [N, K]
  const cross = np.matmul(z, scaledLoc.ref.transpose([1, 0])); // [N, K]
  const constK = scaledLoc.mul(loc).add(logVar).sum(-1); // [K]: Σ μ²/σ² + log σ²
  return quadZ.sub(cross.mul(2)).add(constK.reshape([1, -1])).add(L * LOG_2PI).mul(-0.5);
}

/** `encodeTop(params, u)` is the encoder's Gaussian (before any flow) at inputs u [K, D] (consumed). */
export function vampPrior(cfg: VampConfig, D: number, encodeTop: (params: ParamTree, u: Array) => DiagGaussian): VampPrior {
  const K = cfg.components;

  function components(params: ParamTree): DiagGaussian {
    const raw = (params[PSEUDO_INPUTS] as Array).ref;
    return encodeTop(params, cfg.pseudoInputs === "sigmoid" ? nn.sigmoid(raw) : raw);
  }

  return {
    initParams(key) {
      // near-black images (pixel ≈ 0.05) as in the paper, or small values around 0 for "identity"
      const [mean, sd] = cfg.pseudoInputs === "sigmoid" ? [Math.log(0.05 / 0.95), 0.2] : [0, 0.1];
      return { [PSEUDO_INPUTS]: random.normal(key, [K, D]).mul(sd).add(mean) };
    },
    components,
    logProb(params, z) {
      const shape = z.shape;
      const L = shape[shape.length - 1];
      const N = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const c = components(params);
      const pair = pairwiseGaussianLogProb(z.reshape([N, L]), c.loc.ref, c.logVar.ref);
      c.loc.dispose();
      c.logVar.dispose();
      return nn.logsumexp(pair, -1).sub(Math.log(K)).reshape(shape.slice(0, -1));
    },
    sample(params, key, n, temperature) {
      const c = components(params);
      const [kc, kz] = np.unstack(random.split(key, 2));
      const idx = np.floor(random.uniform(kc, [n]).mul(K)).astype(np.int32);
      const oneHot = nn.oneHot(np.minimum(idx, K - 1), K).astype(np.float32); // [n, K]
      const loc = np.matmul(oneHot.ref, c.loc);
      const logVar = np.matmul(oneHot, c.logVar);
      const L = loc.shape[1];
      return loc.add(np.exp(logVar.mul(0.5)).mul(random.normal(kz, [n, L])).mul(temperature));
    },
  };
}
