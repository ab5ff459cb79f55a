import { np, random, type Array } from "../engine/index.js";

/** A dense layer; `w` is stored [in, out] so the matmul input stays contiguous (fast path). */
export interface DenseParams {
  w: Array;
  b: Array;
  [k: string]: Array;
}

/** PyTorch's default Linear initialisation: U(−1/√fan_in, 1/√fan_in) for weight and bias. */
export function initDense(key: Array, fanIn: number, fanOut: number): DenseParams {
  const bound = 1 / Math.sqrt(fanIn);
  const [kw, kb] = np.unstack(random.split(key, 2));
  return {
    w: random.uniform(kw, [fanIn, fanOut], { minval: -bound, maxval: bound }),
    b: random.uniform(kb, [fanOut], { minval: -bound, maxval: bound }),
  };
}

/** x @ w + b. Consumes x; does not consume the layer. */
export function dense(x: Array, layer: DenseParams): Array {
  return np.matmul(x, layer.w.ref).add(layer.b.ref);
}
