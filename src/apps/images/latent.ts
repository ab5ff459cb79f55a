/**
 * Latent-space geometry for generating and editing images, on host arrays (browser-safe):
 * interpolation paths, active units, principal directions, traversal and manifold grids.
 * Latent rows are n×L Float32Arrays, as `Inference.encode` returns them.
 */
import { VaekitError } from "../../errors.js";

/** n evenly spaced values from lo to hi inclusive (n = 1 gives lo). */
export function linspace(lo: number, hi: number, n: number): number[] {
  if (n === 1) return [lo];
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

/** Row i of an n×L array (a copy). */
export function row(z: Float32Array, L: number, i: number): Float32Array {
  return z.slice(i * L, (i + 1) * L);
}

export function lerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  return a.map((v, i) => v + (b[i] - v) * t);
}

/**
 * Spherical interpolation (along the great circle between the two vectors, with the norm
 * interpolated too through the usual sin weights); falls back to lerp for near-parallel vectors.
 */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const cos = dot / Math.sqrt(na * nb);
  const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
  if (!(omega > 1e-4) || !(Math.sin(omega) > 1e-6)) return lerp(a, b, t);
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
  const wb = Math.sin(t * omega) / Math.sin(omega);
  return a.map((v, i) => wa * v + wb * b[i]);
}

/** `steps` latents from a to b inclusive, as a steps×L array. */
export function interpolationPath(a: Float32Array, b: Float32Array, steps: number, spherical = false): Float32Array {
  if (!(Number.isInteger(steps) && steps >= 2)) throw new VaekitError(`interpolation needs at least 2 steps, got ${steps}`);
  const L = a.length;
  const out = new Float32Array(steps * L);
  linspace(0, 1, steps).forEach((t, i) => out.set(spherical ? slerp(a, b, t) : lerp(a, b, t), i * L));
  return out;
}

/** Mean of the rows of an n×L array, in float64. */
export function rowMean(z: Float32Array, L: number): Float64Array {
  const n = z.length / L;
  const mean = new Float64Array(L);
  for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) mean[j] += z[i * L + j];
  for (let j = 0; j < L; j++) mean[j] /= n;
  return mean;
}

/**
 * Activity of each latent unit: the variance over the data of its posterior mean E_q[z_u | x]
 * (Burda et al. 2016; a unit counts as active above 0.01).
 */
export function latentActivity(mu: Float32Array, L: number): Float64Array {
  const n = mu.length / L;
  if (n < 2) throw new VaekitError("latent activity needs at least 2 examples");
  const mean = rowMean(mu, L);
  const v = new Float64Array(L);
  for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) v[j] += (mu[i * L + j] - mean[j]) ** 2;
  for (let j = 0; j < L; j++) v[j] /= n;
  return v;
}

export const ACTIVE_UNIT_THRESHOLD = 0.01;

/** Unit indices, most active first (ties keep index order). */
export function unitsByActivity(activity: ArrayLike<number>): number[] {
  return Array.from(activity, (_, i) => i).sort((a, b) => activity[b] - activity[a] || a - b);
}

/** Covariance (L×L, row-major, float64) of the rows of an n×L array. */
export function covariance(z: Float32Array, L: number): { mean: Float64Array; cov: Float64Array } {
  const n = z.length / L;
  const mean = rowMean(z, L);
  const cov = new Float64Array(L * L);
  const d = new Float64Array(L);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) d[j] = z[i * L + j] - mean[j];
    for (let a = 0; a < L; a++) for (let b = a; b < L; b++) cov[a * L + b] += d[a] * d[b];
  }
  for (let a = 0; a < L; a++) {
    for (let b = a; b < L; b++) {
      cov[a * L + b] /= n;
      cov[b * L + a] = cov[a * L + b];
    }
  }
  return { mean, cov };
}

/**
 * The k leading eigenvectors of a symmetric positive semi-definite L×L matrix, by orthogonal
 * (subspace) iteration from a fixed start; returns unit vectors with their eigenvalues, largest first.
 */
export function leadingEigenvectors(m: Float64Array, L: number, k: number, iterations = 500): { vectors: Float64Array[]; values: number[] } {
  k = Math.min(k, L);
  // deterministic, generic start: not orthogonal to any eigenvector in practice
  let q: Float64Array[] = Array.from({ length: k }, (_, c) => Float64Array.from({ length: L }, (_, i) => Math.cos(1 + i * (c + 1.618)) + (i === c ? 1 : 0)));
  const times = (v: Float64Array): Float64Array => {
    const out = new Float64Array(L);
    for (let i = 0; i < L; i++) {
      let s = 0;
      for (let j = 0; j < L; j++) s += m[i * L + j] * v[j];
      out[i] = s;
    }
    return out;
  };
  const orthonormalise = (vs: Float64Array[]): Float64Array[] => {
    for (let c = 0; c < vs.length; c++) {
      for (let p = 0; p < c; p++) {
        let d = 0;
        for (let i = 0; i < L; i++) d += vs[c][i] * vs[p][i];
        for (let i = 0; i < L; i++) vs[c][i] -= d * vs[p][i];
      }
      let norm = 0;
      for (let i = 0; i < L; i++) norm += vs[c][i] ** 2;
      norm = Math.sqrt(norm);
      if (norm < 1e-300) vs[c] = Float64Array.from({ length: L }, (_, i) => (i === c ? 1 : 0));
      else for (let i = 0; i < L; i++) vs[c][i] /= norm;
    }
    return vs;
  };
  q = orthonormalise(q);
  for (let it = 0; it < iterations; it++) q = orthonormalise(q.map(times));
  const values = q.map((v) => times(v).reduce((s, x, i) => s + x * v[i], 0));
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  return { vectors: order.map((i) => q[i]), values: order.map((i) => values[i]) };
}

/** A 2-D coordinate system in latent space: z = origin + u·axes[0] + v·axes[1]. */
export interface LatentPlane {
  origin: Float64Array;
  /** Two directions, each scaled to one standard deviation of the data along it. */
  axes: [Float64Array, Float64Array];
}

/**
 * For a 2-D latent: the latent coordinates themselves (origin 0, unit axes). Otherwise the
 * plane through the mean of the given latent means spanned by their two principal directions.
 */
export function latentPlane(L: number, mu?: Float32Array): LatentPlane {
  if (L === 2) return { origin: new Float64Array(2), axes: [Float64Array.of(1, 0), Float64Array.of(0, 1)] };
  if (L < 2) throw new VaekitError(`a 2-D map needs at least 2 latent dimensions, the model has ${L}`);
  if (!mu) throw new VaekitError(`a ${L}-D latent needs data to find its principal directions`);
  const { mean, cov } = covariance(mu, L);
  const { vectors, values } = leadingEigenvectors(cov, L, 2);
  const scaled = vectors.map((v, k) => v.map((x) => x * Math.sqrt(Math.max(values[k], 1e-12))));
  return { origin: mean, axes: [scaled[0], scaled[1]] };
}

/** The latent at plane coordinates (u, v). */
export function planePoint(plane: LatentPlane, u: number, v: number): Float32Array {
  return Float32Array.from(plane.origin, (o, i) => o + u * plane.axes[0][i] + v * plane.axes[1][i]);
}

/** Plane coordinates of latent rows (least squares; exact for points in the plane when axes are orthogonal). */
export function projectToPlane(plane: LatentPlane, z: Float32Array): Float32Array {
  const L = plane.origin.length;
  const n = z.length / L;
  const out = new Float32Array(2 * n);
  const [a, b] = plane.axes;
  const aa = a.reduce((s, x) => s + x * x, 0);
  const bb = b.reduce((s, x) => s + x * x, 0);
  for (let i = 0; i < n; i++) {
    let pa = 0;
    let pb = 0;
    for (let j = 0; j < L; j++) {
      const d = z[i * L + j] - plane.origin[j];
      pa += d * a[j];
      pb += d * b[j];
    }
    out[2 * i] = pa / aa;
    out[2 * i + 1] = pb / bb;
  }
  return out;
}

/**
 * Latents for an n×n grid over [−range, range]² in plane coordinates, row by row; the top row
 * has the largest v, so the picture reads like a plot (u to the right, v up).
 */
export function manifoldLatents(plane: LatentPlane, n: number, range: number): Float32Array {
  const L = plane.origin.length;
  const us = linspace(-range, range, n);
  const vs = linspace(range, -range, n);
  const out = new Float32Array(n * n * L);
  vs.forEach((v, r) => us.forEach((u, c) => out.set(planePoint(plane, u, v), (r * n + c) * L)));
  return out;
}

/** For each unit in `units`, one row of latents: `base` with that unit set to each of `values`. */
export function traversalLatents(base: Float32Array, units: readonly number[], values: readonly number[]): Float32Array {
  const L = base.length;
  const out = new Float32Array(units.length * values.length * L);
  units.forEach((u, r) =>
    values.forEach((v, c) => {
      const z = base.slice();
      z[u] = v;
      out.set(z, (r * values.length + c) * L);
    }),
  );
  return out;
}

/** Signed sum of latent vectors: a − b + c for terms [{+1, a}, {−1, b}, {+1, c}]. */
export function latentSum(terms: readonly { sign: 1 | -1; z: Float32Array }[]): Float32Array {
  if (terms.length === 0) throw new VaekitError("latent arithmetic needs at least one term");
  const out = new Float32Array(terms[0].z.length);
  for (const { sign, z } of terms) for (let i = 0; i < out.length; i++) out[i] += sign * z[i];
  return out;
}

/** Euclidean distance between two latent vectors. */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}
