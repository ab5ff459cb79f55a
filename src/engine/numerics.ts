import { np, type Array } from "./jax.js";

/** softplus(x) = log(1 + e^x), computed without overflow (the engine's own overflows above ~88). */
export function softplus(x: Array): Array {
  return np.maximum(x.ref, 0).add(np.log1p(np.exp(np.negative(np.abs(x)))));
}

/** log σ(x) = −softplus(−x), stable for large |x|. */
export function logSigmoid(x: Array): Array {
  return np.negative(softplus(np.negative(x)));
}

/** Sum over the last axis, reducing in two stages so float32 error stays small for long rows. */
export function sumLastAxis(x: Array): Array {
  const d = x.shape[x.shape.length - 1];
  const block = Math.floor(Math.sqrt(d));
  if (d < 1024 || d % block !== 0) return x.sum(-1);
  return x.reshape([...x.shape.slice(0, -1), d / block, block]).sum(-1).sum(-1);
}

/** Log of the mean of exp over values held in a Float64Array (host-side, exact accumulation). */
export function logMeanExp(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > m) m = values[i];
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += Math.exp(values[i] - m);
  return m + Math.log(s / values.length);
}

/** Mean of a host array in float64 (dataset-level metrics must not use float32 sums). */
export function mean64(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}
