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

/**
 * Running log-mean-exp per example over chunks of importance weights (host, float64), so k can be
 * far larger than one device call holds. `add` takes a chunk laid out [c, B] (B = row stride).
 */
export class RunningLogMeanExp {
  private readonly maxes: Float64Array;
  private readonly sums: Float64Array;
  private count = 0;
  constructor(readonly rows: number) {
    this.maxes = new Float64Array(rows).fill(-Infinity);
    this.sums = new Float64Array(rows);
  }
  add(chunk: ArrayLike<number>, c: number, stride: number): void {
    for (let i = 0; i < this.rows; i++) {
      let mx = this.maxes[i];
      for (let j = 0; j < c; j++) mx = Math.max(mx, chunk[j * stride + i]);
      let acc = this.sums[i] * Math.exp(this.maxes[i] - mx);
      if (!Number.isFinite(acc)) acc = 0;
      for (let j = 0; j < c; j++) acc += Math.exp(chunk[j * stride + i] - mx);
      this.maxes[i] = mx;
      this.sums[i] = acc;
    }
    this.count += c;
  }
  /** log (1/k Σ exp w) for example i. */
  value(i: number): number {
    return this.maxes[i] + Math.log(this.sums[i] / this.count);
  }
}

/** ‖got − want‖ / ‖want‖ over two host vectors of the same length (how results of two engines are compared). */
export function relativeL2Error(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`relativeL2Error: lengths ${got.length} and ${want.length} differ`);
  let num = 0;
  let den = 1e-30;
  for (let i = 0; i < got.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}
