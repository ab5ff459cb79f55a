import { np, tree, type Array, type JsTree } from "./jax.js";

/** Adam with PyTorch semantics (bias-corrected), plus optional clipping by global gradient norm. */
export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Clip the global L2 norm of the gradient to this value before the update (0 = off). */
  clipNorm: number;
}
export const defaultAdam: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 0 };

export interface AdamState<P> {
  m: P;
  v: P;
  /** 1-based step count as a float32 scalar array, so the jitted step is traced once. */
  t: Array;
}

export function adamInit<P extends JsTree<Array>>(params: P): AdamState<P> {
  const zeros = () => tree.map((a: Array) => np.zerosLike(a.ref), params) as P;
  return { m: zeros(), v: zeros(), t: np.array(0, { dtype: np.float32 }) };
}

/** Global L2 norm of a gradient tree. Consumes nothing. */
export function globalNorm(grads: JsTree<Array>): Array {
  const leaves = tree.leaves(grads) as Array[];
  let total: Array | null = null;
  for (const g of leaves) {
    const s = g.ref.mul(g.ref).sum();
    total = total === null ? s : total.add(s);
  }
  return np.sqrt(total ?? np.array(0));
}

/** One Adam update. Consumes params, grads and state; returns new params and state. */
export function adamUpdate<P extends JsTree<Array>>(
  params: P,
  grads: P,
  state: AdamState<P>,
  cfg: AdamConfig,
): [P, AdamState<P>] {
  const { lr, beta1: b1, beta2: b2, eps } = cfg;
  const [pl, def] = tree.flatten(params);
  let [gl] = tree.flatten(grads) as [Array[], unknown];
  if (cfg.clipNorm > 0) {
    const norm = globalNorm(gl);
    const scale = np.minimum(np.reciprocal(norm.add(1e-6)).mul(cfg.clipNorm), 1);
    gl = gl.map((g) => g.mul(scale.ref));
    scale.dispose();
  }
  const [ml] = tree.flatten(state.m);
  const [vl] = tree.flatten(state.v);
  const t = state.t.add(1);
  const bc1 = np.exp(t.ref.mul(Math.log(b1))).mul(-1).add(1); // 1 − β1^t
  const bc2 = np.exp(t.ref.mul(Math.log(b2))).mul(-1).add(1); // 1 − β2^t
  const stepSize = np.reciprocal(bc1).mul(lr);
  const sqrtBc2 = np.sqrt(bc2);
  const newP: Array[] = [];
  const newM: Array[] = [];
  const newV: Array[] = [];
  for (let i = 0; i < pl.length; i++) {
    const g = gl[i];
    const m = (ml[i] as Array).mul(b1).add(g.ref.mul(1 - b1));
    const v = (vl[i] as Array).mul(b2).add(g.ref.mul(g).mul(1 - b2));
    const denom = np.sqrt(v.ref).div(sqrtBc2.ref).add(eps);
    newP.push((pl[i] as Array).sub(m.ref.mul(stepSize.ref).div(denom)));
    newM.push(m);
    newV.push(v);
  }
  stepSize.dispose();
  sqrtBc2.dispose();
  const un = (xs: Array[]) => tree.unflatten(def, xs) as P;
  return [un(newP), { m: un(newM), v: un(newV), t }];
}
