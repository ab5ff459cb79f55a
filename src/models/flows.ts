/**
 * Inverse autoregressive flow (Kingma et al. 2016) for the posterior: z₀ ~ N(μ(x), σ²(x)), then
 * per step t a MADE network (Germain et al. 2015) reads z and the encoder's context c and gives
 * (m, s) with output i depending only on inputs before i in the step's order; the update
 *   z ← σ ⊙ z + (1 − σ) ⊙ m,  σ = sigmoid(s + 1)
 * has a triangular Jacobian with diagonal σ, so log|det ∂z_T/∂z₀| = Σ_t Σ_i log σ_ti and
 *   log q(z_T|x) = log N(z₀; μ, σ²) − Σ log σ.
 * The order alternates (natural, reversed, natural, …) by reversing the mask degrees, which is
 * the same as permuting z between steps without a gather.
 */
import { nn, np, logSigmoid, type Array } from "../engine/index.js";
import { dense, initDense, type DenseParams } from "./layers.js";
import type { PosteriorConfig } from "./config.js";
import type { ParamTree, Slot } from "./networks.js";

type IafConfig = Extract<PosteriorConfig, { type: "iaf" }>;

/** The gate's constant offset: σ ≈ 0.73 at initialisation, so each step starts near identity. */
const GATE_OFFSET = 1;

/**
 * MADE degrees for `L` variables and hidden `widths`: input/output degree of variable i is its
 * 1-based position in the order (reversed when `reverse`); hidden unit j has degree
 * 1 + (j mod max(1, L − 1)), so every degree 1 … L − 1 is represented.
 */
export function madeDegrees(L: number, widths: number[], reverse: boolean): { io: number[]; hidden: number[][] } {
  const io = globalThis.Array.from({ length: L }, (_, i) => (reverse ? L - i : i + 1));
  const hidden = widths.map((w) => globalThis.Array.from({ length: w }, (_, j) => 1 + (j % Math.max(1, L - 1))));
  return { io, hidden };
}

/** Mask [in, out] (the dense weight layout): 1 where out may see in. */
function mask(inDeg: number[], outDeg: number[], strict: boolean): Float32Array {
  const m = new Float32Array(inDeg.length * outDeg.length);
  for (let i = 0; i < inDeg.length; i++) {
    for (let j = 0; j < outDeg.length; j++) m[i * outDeg.length + j] = (strict ? outDeg[j] > inDeg[i] : outDeg[j] >= inDeg[i]) ? 1 : 0;
  }
  return m;
}

export interface MaskMatrix {
  shape: [number, number];
  /** [in, out] row-major: 1 where the output unit may see the input unit. */
  data: Float32Array;
}

/** The MADE masks of one step: input → hidden₁, hidden_{j−1} → hidden_j, …, last hidden → outputs. */
export function madeMasks(L: number, widths: number[], reverse: boolean): MaskMatrix[] {
  const { io, hidden } = madeDegrees(L, widths, reverse);
  const masks: MaskMatrix[] = [{ shape: [L, widths[0]], data: mask(io, hidden[0], false) }];
  for (let j = 1; j < widths.length; j++) masks.push({ shape: [widths[j - 1], widths[j]], data: mask(hidden[j - 1], hidden[j], false) });
  masks.push({ shape: [widths[widths.length - 1], L], data: mask(hidden[widths.length - 1], io, true) });
  return masks;
}

export interface IafFlow {
  slots: Slot[];
  /**
   * z₀ [N, L] (consumed), context [N, C] (consumed; null when the config has none) →
   * z_T [N, L] and log|det ∂z_T/∂z₀| [N]. Borrows params.
   */
  apply(params: ParamTree, z: Array, context: Array | null): { z: Array; logDet: Array };
}

/** The IAF steps of `cfg` on L latent dimensions; layer names iaf{t}_in, _ctx, _h{j}, _m, _s. */
export function iafFlow(cfg: IafConfig, L: number): IafFlow {
  const H = cfg.hidden;
  const C = cfg.context;
  const slots: Slot[] = [];
  // masks per step: input→h1, h_{j−1}→h_j, h_last→outputs (m and s share one)
  const masks: MaskMatrix[][] = [];
  for (let t = 1; t <= cfg.steps; t++) {
    const stepMasks = madeMasks(L, H, t % 2 === 0);
    masks.push(stepMasks);
    const out = stepMasks[stepMasks.length - 1];
    // masked entries start at zero, so stored weights show the structure
    const masked = (name: string, fanIn: number, fanOut: number, m: Float32Array): Slot => ({
      name,
      init: (k) => {
        const d = initDense(k, fanIn, fanOut);
        return { w: d.w.mul(np.array(m).reshape([fanIn, fanOut])), b: d.b };
      },
    });
    slots.push(masked(`iaf${t}_in`, L, H[0], stepMasks[0].data));
    if (C > 0) slots.push({ name: `iaf${t}_ctx`, init: (k) => initDense(k, C, H[0]) });
    for (let j = 1; j < H.length; j++) slots.push(masked(`iaf${t}_h${j + 1}`, H[j - 1], H[j], stepMasks[j].data));
    slots.push(masked(`iaf${t}_m`, H[H.length - 1], L, out.data), masked(`iaf${t}_s`, H[H.length - 1], L, out.data));
  }

  const maskedDense = (x: Array, layer: DenseParams, m: MaskMatrix) =>
    np.matmul(x, layer.w.ref.mul(np.array(m.data).reshape(m.shape))).add(layer.b.ref);

  function apply(params: ParamTree, z: Array, context: Array | null): { z: Array; logDet: Array } {
    let logDet: Array | null = null;
    for (let t = 1; t <= cfg.steps; t++) {
      const ms = masks[t - 1];
      let h = maskedDense(z.ref, params[`iaf${t}_in`] as DenseParams, ms[0]);
      if (context) h = h.add(dense(context.ref, params[`iaf${t}_ctx`] as DenseParams));
      h = nn.relu(h);
      for (let j = 1; j < H.length; j++) h = nn.relu(maskedDense(h, params[`iaf${t}_h${j + 1}`] as DenseParams, ms[j]));
      const out = ms[ms.length - 1];
      const m = maskedDense(h.ref, params[`iaf${t}_m`] as DenseParams, out);
      const s = maskedDense(h, params[`iaf${t}_s`] as DenseParams, out).add(GATE_OFFSET);
      const gate = nn.sigmoid(s.ref);
      // σ ⊙ z + (1 − σ) ⊙ m = m + σ ⊙ (z − m)
      z = m.ref.add(gate.mul(z.sub(m)));
      const ld = logSigmoid(s).sum(-1);
      logDet = logDet ? logDet.add(ld) : ld;
    }
    context?.dispose();
    return { z, logDet: logDet! };
  }

  return { slots, apply };
}
