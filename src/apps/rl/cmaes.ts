/**
 * CMA-ES (covariance matrix adaptation evolution strategy), minimising, with an ask/tell interface
 * (browser-safe). Follows the standard (μ/μ_w, λ) algorithm with cumulative step-size adaptation,
 * rank-one and rank-μ covariance updates (N. Hansen, "The CMA Evolution Strategy: A Tutorial", 2016).
 *
 * covariance "full" keeps an n×n matrix (eigendecomposed every few generations, O(n³));
 * "diagonal" is sep-CMA-ES (Ros & Hansen 2008): only variances, O(n) per sample, with learning rates
 * scaled up by (n+2)/3; better for hundreds of parameters and small budgets.
 */
import { VaekitError } from "../../errors.js";
import { Rng } from "../../data/rng.js";

export interface CmaEsOptions {
  /** Initial mean (the starting point). */
  mean: ArrayLike<number>;
  /** Initial step size (same in every coordinate). */
  sigma: number;
  /** Population size λ; default 4 + floor(3 ln n). */
  populationSize?: number;
  seed: number;
  covariance?: "full" | "diagonal";
}

/**
 * Eigendecomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations.
 * Returns eigenvalues and eigenvectors as the columns of a row-major n×n matrix.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  if (a.length !== n * n) throw new VaekitError(`eigen: ${a.length} values do not form a ${n}×${n} matrix`);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // Rotation angle that zeroes a[p][q]: t = tan(angle), the smaller root of t² + 2θt - 1 = 0.
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // A ← A J (columns p, q)
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // A ← Jᵀ A (rows p, q)
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

function norm(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

export class CmaEs {
  readonly n: number;
  readonly lambda: number;
  readonly mu: number;
  readonly weights: Float64Array;
  readonly muEff: number;
  readonly covariance: "full" | "diagonal";
  mean: Float64Array;
  sigma: number;
  generation = 0;
  /** Best solution told so far and its value. */
  best: { x: Float64Array; value: number } | null = null;

  private readonly cc: number;
  private readonly cs: number;
  private readonly c1: number;
  private readonly cmu: number;
  private readonly damps: number;
  private readonly chiN: number;
  private readonly pc: Float64Array;
  private readonly ps: Float64Array;
  /** Full: C row-major n×n, B eigenvectors (columns), D = sqrt(eigenvalues). Diagonal: C and D only. */
  private readonly C: Float64Array;
  private B: Float64Array | null;
  private D: Float64Array;
  private eigenAt = 0;
  private readonly rng: Rng;
  /** Standard-normal draws of the last ask(), to reuse in tell(). */
  private pending: { x: Float64Array; y: Float64Array }[] = [];

  constructor(options: CmaEsOptions) {
    const n = options.mean.length;
    if (n < 1) throw new VaekitError("CMA-ES: the initial mean is empty");
    if (!(options.sigma > 0) || !Number.isFinite(options.sigma)) throw new VaekitError(`CMA-ES: sigma must be > 0, got ${options.sigma}`);
    this.n = n;
    this.covariance = options.covariance ?? "full";
    this.lambda = options.populationSize ?? 4 + Math.floor(3 * Math.log(n));
    if (!Number.isInteger(this.lambda) || this.lambda < 2) throw new VaekitError(`CMA-ES: population size must be an integer >= 2, got ${this.lambda}`);
    this.mu = Math.floor(this.lambda / 2);
    const raw = Array.from({ length: this.mu }, (_, i) => Math.log((this.lambda + 1) / 2) - Math.log(i + 1));
    const total = raw.reduce((a, b) => a + b, 0);
    this.weights = Float64Array.from(raw, (w) => w / total);
    this.muEff = 1 / this.weights.reduce((a, w) => a + w * w, 0);
    const me = this.muEff;
    this.cc = (4 + me / n) / (n + 4 + (2 * me) / n);
    this.cs = (me + 2) / (n + me + 5);
    let c1 = 2 / ((n + 1.3) ** 2 + me);
    let cmu = Math.min(1 - c1, (2 * (me - 2 + 1 / me)) / ((n + 2) ** 2 + me));
    if (this.covariance === "diagonal") {
      const boost = (n + 2) / 3;
      c1 = Math.min(1, c1 * boost);
      cmu = Math.min(1 - c1, cmu * boost);
    }
    this.c1 = c1;
    this.cmu = cmu;
    this.damps = 1 + 2 * Math.max(0, Math.sqrt((me - 1) / (n + 1)) - 1) + this.cs;
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    this.mean = Float64Array.from(options.mean);
    if (this.mean.some((x) => !Number.isFinite(x))) throw new VaekitError("CMA-ES: the initial mean has non-finite values");
    this.sigma = options.sigma;
    this.pc = new Float64Array(n);
    this.ps = new Float64Array(n);
    this.D = new Float64Array(n).fill(1);
    if (this.covariance === "full") {
      this.C = new Float64Array(n * n);
      this.B = new Float64Array(n * n);
      for (let i = 0; i < n; i++) this.C[i * n + i] = this.B[i * n + i] = 1;
    } else {
      this.C = new Float64Array(n).fill(1);
      this.B = null;
    }
    this.rng = new Rng(options.seed);
  }

  /** Sample λ candidate solutions. */
  ask(): Float64Array[] {
    const { n } = this;
    this.pending = [];
    for (let k = 0; k < this.lambda; k++) {
      const z = Float64Array.from({ length: n }, () => this.rng.normal());
      const y = new Float64Array(n);
      if (this.B === null) {
        for (let i = 0; i < n; i++) y[i] = this.D[i] * z[i];
      } else {
        // y = B D z
        const dz = z.map((zi, i) => this.D[i] * zi);
        for (let i = 0; i < n; i++) {
          let s = 0;
          const row = i * n;
          for (let j = 0; j < n; j++) s += this.B[row + j] * dz[j];
          y[i] = s;
        }
      }
      const x = this.mean.map((m, i) => m + this.sigma * y[i]);
      this.pending.push({ x, y });
    }
    return this.pending.map((p) => p.x);
  }

  /** Update the distribution from the values (lower is better) of the solutions returned by the last ask(). */
  tell(values: readonly number[]): void {
    const { n, mu } = this;
    if (this.pending.length === 0) throw new VaekitError("CMA-ES: tell() called without a preceding ask()");
    if (values.length !== this.pending.length) throw new VaekitError(`CMA-ES: got ${values.length} values for ${this.pending.length} solutions`);
    values.forEach((v, i) => {
      if (Number.isNaN(v)) throw new VaekitError(`CMA-ES: value ${i} is NaN`);
    });
    const order = Array.from(values.keys()).sort((a, b) => values[a] - values[b]);
    if (this.best === null || values[order[0]] < this.best.value) {
      this.best = { x: Float64Array.from(this.pending[order[0]].x), value: values[order[0]] };
    }
    const selected = order.slice(0, mu).map((i) => this.pending[i].y);
    const yw = new Float64Array(n);
    selected.forEach((y, k) => {
      for (let i = 0; i < n; i++) yw[i] += this.weights[k] * y[i];
    });
    for (let i = 0; i < n; i++) this.mean[i] += this.sigma * yw[i];

    // Step-size path uses C^{-1/2} yw = B D^{-1} Bᵀ yw.
    const invSqrtYw = this.invSqrtC(yw);
    const csFactor = Math.sqrt(this.cs * (2 - this.cs) * this.muEff);
    for (let i = 0; i < n; i++) this.ps[i] = (1 - this.cs) * this.ps[i] + csFactor * invSqrtYw[i];
    const psNorm = norm(this.ps);
    const g = this.generation + 1;
    const hsig = psNorm / Math.sqrt(1 - (1 - this.cs) ** (2 * g)) / this.chiN < 1.4 + 2 / (n + 1) ? 1 : 0;
    const ccFactor = Math.sqrt(this.cc * (2 - this.cc) * this.muEff);
    for (let i = 0; i < n; i++) this.pc[i] = (1 - this.cc) * this.pc[i] + hsig * ccFactor * yw[i];

    // Covariance: decay, rank-one (evolution path) and rank-μ (selected steps) updates.
    const decay = 1 - this.c1 - this.cmu + (1 - hsig) * this.c1 * this.cc * (2 - this.cc);
    if (this.B === null) {
      for (let i = 0; i < n; i++) {
        let rankMu = 0;
        selected.forEach((y, k) => (rankMu += this.weights[k] * y[i] * y[i]));
        this.C[i] = decay * this.C[i] + this.c1 * this.pc[i] * this.pc[i] + this.cmu * rankMu;
        this.D[i] = Math.sqrt(Math.max(this.C[i], 1e-300));
      }
    } else {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j <= i; j++) {
          let rankMu = 0;
          selected.forEach((y, k) => (rankMu += this.weights[k] * y[i] * y[j]));
          const cij = decay * this.C[i * n + j] + this.c1 * this.pc[i] * this.pc[j] + this.cmu * rankMu;
          this.C[i * n + j] = this.C[j * n + i] = cij;
        }
      }
    }
    this.sigma *= Math.exp((this.cs / this.damps) * (psNorm / this.chiN - 1));
    if (!Number.isFinite(this.sigma) || this.sigma <= 0) throw new VaekitError(`CMA-ES: step size became ${this.sigma}`);
    this.generation = g;
    this.pending = [];
    // Refresh B and D lazily: the covariance changes slowly, so O(n³) work every generation is wasted.
    if (this.B !== null && g - this.eigenAt >= this.lambda / (this.c1 + this.cmu) / n / 10) this.updateEigen();
  }

  private invSqrtC(x: Float64Array): Float64Array {
    const { n } = this;
    if (this.B === null) return x.map((xi, i) => xi / this.D[i]);
    const B = this.B;
    const t = new Float64Array(n); // Bᵀ x / D
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += B[i * n + j] * x[i];
      t[j] = s / this.D[j];
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += B[i * n + j] * t[j];
      out[i] = s;
    }
    return out;
  }

  private updateEigen(): void {
    const { values, vectors } = symmetricEigen(this.C, this.n);
    this.B = vectors;
    this.D = values.map((v) => Math.sqrt(Math.max(v, 1e-300)));
    this.eigenAt = this.generation;
  }

  /** Current per-coordinate standard deviations of the search distribution (σ·sqrt(diag C)). */
  stdDevs(): Float64Array {
    const { n } = this;
    return Float64Array.from({ length: n }, (_, i) => this.sigma * Math.sqrt(this.B === null ? this.C[i] : this.C[i * n + i]));
  }
}

/** Minimise f from `mean` until `maxEvaluations` or value <= target (convenience for tests and small problems). */
export function cmaMinimize(
  f: (x: Float64Array) => number,
  options: CmaEsOptions & { maxEvaluations: number; target?: number },
): { x: Float64Array; value: number; evaluations: number; es: CmaEs } {
  const es = new CmaEs(options);
  let evaluations = 0;
  while (evaluations < options.maxEvaluations) {
    const xs = es.ask();
    es.tell(xs.map(f));
    evaluations += xs.length;
    if (options.target !== undefined && es.best!.value <= options.target) break;
  }
  return { x: es.best!.x, value: es.best!.value, evaluations, es };
}
