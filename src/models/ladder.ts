/**
 * Ladder (hierarchical) VAE networks with top-down inference (Sønderby et al. 2016), layers
 * z₁ (bottom, read by the decoder) … z_n (top):
 *   generative:  p(z_n) · Π_{i<n} p(z_i|z_{i+1}) · p(x|z₁), each p(z_i|z_{i+1}) a diagonal Gaussian
 *                whose (μ_p, log σ_p²) come from an MLP of z_{i+1} (layers dec_td{i}_*);
 *   inference:   a deterministic bottom-up pass d₁ = encoder(x), d_i = MLP(d_{i−1}) (enc_up{i}_*)
 *                gives (μ̂_i, log σ̂_i²); then, top-down, q(z_n|x) = N(μ̂_n, σ̂_n²) and
 *                q(z_i|z_{i+1}, x) = merge(bottom-up_i, p(z_i|z_{i+1})) — the same top-down
 *                network as the generative model, so inference and generation share it.
 * Everything here is per row; the model (vae.ts) repeats the bottom-up values over k samples.
 */
import { logSigmoid, nn, type Array } from "../engine/index.js";
import { DiagGaussian } from "../distributions/index.js";
import { dense, initDense, type DenseParams } from "./layers.js";
import type { HierarchyConfig } from "./config.js";
import type { ParamTree, Slot } from "./networks.js";

export interface LadderNetworks {
  slots: Slot[];
  /**
   * Bottom-up Gaussians for layers 2…n from the encoder features d₁ [N, F] (consumed);
   * the caller supplies layer 1's own (from enc_mu / enc_logvar). Borrows params.
   */
  bottomUp(params: ParamTree, d1: Array): DiagGaussian[];
  /** p(z_i | z_{i+1}) for i = 1 … n − 1 from z_{i+1} [N, L_{i+1}] (consumed). */
  conditionalPrior(params: ParamTree, i: number, zAbove: Array): DiagGaussian;
  /** q(z_i | ·) from the bottom-up estimate and the top-down prior (both borrowed). */
  merge(bottomUp: DiagGaussian, prior: DiagGaussian): DiagGaussian;
}

const mlpSlots = (prefix: string, dims: number[]): Slot[] =>
  dims.slice(1).map((d, j) => ({ name: `${prefix}_fc${j + 1}`, init: (k: Array) => initDense(k, dims[j], d) }));

function mlp(params: ParamTree, prefix: string, layers: number, h: Array): Array {
  for (let j = 1; j <= layers; j++) h = nn.relu(dense(h, params[`${prefix}_fc${j}`] as DenseParams));
  return h;
}

/** `sizes` = [L₁, …, L_n] (n ≥ 2); `F` = width of the encoder features d₁. */
export function ladderNetworks(cfg: HierarchyConfig, F: number, sizes: number[]): LadderNetworks {
  const n = sizes.length;
  const H = cfg.hidden;
  const top = H[H.length - 1];
  const slots: Slot[] = [];
  for (let i = 2; i <= n; i++) {
    slots.push(...mlpSlots(`enc_up${i}`, [i === 2 ? F : top, ...H]));
    slots.push({ name: `enc_mu${i}`, init: (k) => initDense(k, top, sizes[i - 1]) }, { name: `enc_logvar${i}`, init: (k) => initDense(k, top, sizes[i - 1]) });
  }
  for (let i = 1; i < n; i++) {
    slots.push(...mlpSlots(`dec_td${i}`, [sizes[i], ...H]));
    slots.push({ name: `dec_td${i}_mu`, init: (k) => initDense(k, top, sizes[i - 1]) }, { name: `dec_td${i}_logvar`, init: (k) => initDense(k, top, sizes[i - 1]) });
  }

  return {
    slots,
    bottomUp(params, d1) {
      const out: DiagGaussian[] = [];
      let d = d1;
      for (let i = 2; i <= n; i++) {
        d = mlp(params, `enc_up${i}`, H.length, d);
        out.push(new DiagGaussian(dense(d.ref, params[`enc_mu${i}`] as DenseParams), dense(d.ref, params[`enc_logvar${i}`] as DenseParams)));
      }
      d.dispose();
      return out;
    },
    conditionalPrior(params, i, zAbove) {
      const h = mlp(params, `dec_td${i}`, H.length, zAbove);
      return new DiagGaussian(dense(h.ref, params[`dec_td${i}_mu`] as DenseParams), dense(h, params[`dec_td${i}_logvar`] as DenseParams));
    },
    merge(bu, p) {
      if (cfg.merge === "residual") return new DiagGaussian(p.loc.ref.add(bu.loc.ref), p.logVar.ref.add(bu.logVar.ref));
      // precision weighting: σ_q⁻² = σ̂⁻² + σ_p⁻², μ_q = w μ̂ + (1 − w) μ_p with w = σ_p²/(σ̂² + σ_p²)
      const diff = p.logVar.ref.sub(bu.logVar.ref); // log(σ_p² / σ̂²)
      const w = nn.sigmoid(diff.ref);
      const loc = p.loc.ref.add(w.mul(bu.loc.ref.sub(p.loc.ref)));
      return new DiagGaussian(loc, bu.logVar.ref.add(logSigmoid(diff)));
    },
  };
}
