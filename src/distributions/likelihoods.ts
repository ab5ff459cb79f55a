/**
 * Decoder likelihoods beyond Bernoulli and Gaussian, over the last (event) axis.
 * Same conventions as index.ts: methods borrow the distribution's parameters, consume arguments.
 */
import { nn, np, random, softplus, toHost, logSigmoid, type Array } from "../engine/index.js";
import { VaekitError } from "../errors.js";
import type { Distribution } from "./index.js";

/** nats per example → bits per dimension (the unit image models report). */
export function bitsPerDim(natsPerExample: number, dims: number): number {
  return natsPerExample / (dims * Math.LN2);
}

// Below this |η| the closed forms of the continuous Bernoulli cancel catastrophically;
// their Taylor series (error O(η⁶)) take over.
const CB_SERIES_BELOW = 0.1;

/**
 * log C(η) of the continuous Bernoulli with logit η (λ = σ(η)), elementwise:
 * C = 2·artanh(1 − 2λ)/(1 − 2λ) = η / tanh(η/2), even in η, C(0) = 2.
 * Series near 0: log 2 + η²/12 − 7η⁴/1440. Elsewhere, with a = |η| and
 * tanh(a/2) = (1 − e^{−a})/(1 + e^{−a}): log C = log1p(e^{−a}) − log(−expm1(−a)/a),
 * free of cancellation (the ratio (1 − e^{−a})/a stays near 1 for small a) and of overflow.
 */
export function continuousBernoulliLogNorm(eta: Array): Array {
  const a = np.abs(eta);
  const small = a.ref.less(CB_SERIES_BELOW);
  const safe = np.where(small.ref, 1, a.ref); // keeps the unused branch (and its gradient) finite
  const ratio = np.negative(np.expm1(np.negative(safe.ref))).div(safe.ref);
  const exact = np.log1p(np.exp(np.negative(safe))).sub(np.log(ratio));
  const a2 = a.ref.mul(a);
  const series = a2.ref.mul(1 / 12).sub(a2.ref.mul(a2).mul(7 / 1440)).add(Math.LN2);
  return np.where(small, series, exact);
}

/**
 * E[x] of the continuous Bernoulli: ½ + ½(coth(η/2) − 2/η), a Langevin function; for |η| < 1
 * its series ½ + η/12 − η³/720 + η⁵/30240 (error < 10⁻⁶) avoids the 1/η cancellation.
 */
export function continuousBernoulliMean(eta: Array): Array {
  const small = np.abs(eta.ref).less(1);
  const safe = np.where(small.ref, 1, eta.ref);
  const exact = np.reciprocal(np.tanh(safe.ref.mul(0.5))).sub(np.reciprocal(safe).mul(2)).mul(0.5).add(0.5);
  const e2 = eta.ref.mul(eta.ref);
  const series = eta.mul(e2.ref.mul(e2.ref).mul(1 / 30240).sub(e2.mul(1 / 720)).add(1 / 12)).add(0.5);
  return np.where(small, series, exact);
}

/**
 * Continuous Bernoulli on [0,1] with logits η: p(x) = C(λ) λ^x (1−λ)^{1−x}, a proper density
 * (unlike Bernoulli cross-entropy applied to grey levels).
 */
export class ContinuousBernoulli implements Distribution {
  constructor(readonly logits: Array) {}
  logProb(x: Array): Array {
    const l = this.logits;
    return x.mul(l.ref).sub(softplus(l.ref)).add(continuousBernoulliLogNorm(l.ref)).sum(-1);
  }
  /**
   * Inverse CDF. For η < 0: x = log1p(u·expm1(η))/η; for η > 0 use 1 − X ~ CB(−η);
   * near 0 the distribution is uniform to O(η), so x = u there.
   */
  sample(key: Array): Array {
    const eta = this.logits;
    const u = random.uniform(key, eta.shape);
    const small = np.abs(eta.ref).less(1e-4);
    const neg = np.negative(np.abs(eta.ref));
    const safe = np.where(small.ref, -1, neg);
    const xNeg = np.log1p(u.ref.mul(np.expm1(safe.ref))).div(safe);
    const x = np.where(eta.ref.less(0), xNeg.ref, np.negative(xNeg).add(1));
    return np.clip(np.where(small, u, x), 0, 1);
  }
  mean(): Array {
    return continuousBernoulliMean(this.logits.ref);
  }
}

/** The smallest log-scale allowed (a logistic much narrower than a bin is a point mass anyway). */
const MIN_LOG_SCALE = -8;

/**
 * log P(bin of x) for a logistic(μ, s) discretised to `bins` levels on [0,1] (value v ↦ v/(bins−1)):
 * P = σ((x+δ−μ)/s) − σ((x−δ−μ)/s) with half-width δ, the edge bins taking the tails.
 * The difference is computed as σ(a)·σ(−b)·(1 − e^{b−a}), exact in log space for any s.
 */
function discretizedLogisticLogProb(x: Array, loc: Array, logScale: Array, bins: number): Array {
  const half = 0.5 / (bins - 1);
  const invS = np.exp(np.negative(np.maximum(logScale, MIN_LOG_SCALE)));
  const centered = x.ref.sub(loc);
  const plus = centered.ref.add(half).mul(invS.ref); // a
  const minus = centered.sub(half).mul(invS.ref); // b
  const logCdfPlus = logSigmoid(plus.ref);
  const logSfMinus = logSigmoid(np.negative(minus.ref));
  const logWidth = np.log(np.negative(np.expm1(invS.mul(-2 * half)))); // log(1 − e^{b−a})
  const mid = logCdfPlus.ref.add(logSfMinus.ref).add(logWidth);
  plus.dispose();
  minus.dispose();
  const first = x.ref.less(half);
  const last = x.greater(1 - half);
  return np.where(first, logCdfPlus, np.where(last, logSfMinus, mid));
}

/**
 * Discretised logistic mixture per value (PixelCNN++-style likelihood without channel coupling):
 * `logits`, `loc`, `logScale` are [..., K, D]; with K = 1 the mixture weights are ignored.
 * Data must be on the grid v/(bins−1), v = 0 … bins−1 (8-bit images: bins = 256).
 */
export class DiscretizedLogisticMixture implements Distribution {
  constructor(
    readonly logits: Array,
    readonly loc: Array,
    readonly logScale: Array,
    readonly bins = 256,
  ) {}

  get components(): number {
    return this.loc.shape[this.loc.shape.length - 2];
  }

  /** log P(x) per value [..., D], before summing the event axis. */
  logProbPerValue(x: Array): Array {
    const K = this.components;
    const xs = np.expandDims(x, -2); // [..., 1, D]
    const lp = discretizedLogisticLogProb(xs, this.loc.ref, this.logScale.ref, this.bins); // [..., K, D]
    if (K === 1) return np.squeeze(lp, -2);
    return nn.logsumexp(lp.add(nn.logSoftmax(this.logits.ref, -2)), -2);
  }

  logProb(x: Array): Array {
    return this.logProbPerValue(x).sum(-1);
  }

  /**
   * log P(bin | loc = x, s) − log P(bin | loc, s) for a single logistic; a mixture has no one
   * location to move, so it has no deviance.
   */
  deviance(x: Array): Array {
    if (this.components !== 1) throw new VaekitError("a discretised logistic mixture has no deviance (it has no single location); use one component");
    const centred = new DiscretizedLogisticMixture(this.logits.ref, np.expandDims(x.ref, -2), this.logScale.ref, this.bins);
    return centred.logProbPerValue(x.ref).sub(this.logProbPerValue(x));
  }

  /** The mixture mean of the underlying logistics, clipped to [0,1] (a display value). */
  mean(): Array {
    const m = np.clip(this.loc.ref, 0, 1);
    if (this.components === 1) return np.squeeze(m, -2);
    return nn.softmax(this.logits.ref, -2).mul(m).sum(-2);
  }

  /** Component by Gumbel-max, then a logistic draw, rounded to the nearest bin. */
  sample(key: Array): Array {
    const [kc, kx] = np.unstack(random.split(key, 2));
    const K = this.components;
    let loc: Array;
    let logScale: Array;
    if (K === 1) {
      kc.dispose();
      loc = np.squeeze(this.loc.ref, -2);
      logScale = np.squeeze(this.logScale.ref, -2);
    } else {
      const gumbel = random.gumbel(kc, this.logits.shape);
      const pick = nn.oneHot(np.argmax(this.logits.ref.add(gumbel), -2), K); // [..., D, K]
      const pickT = np.moveaxis(pick, -1, -2);
      loc = this.loc.ref.mul(pickT.ref).sum(-2);
      logScale = this.logScale.ref.mul(pickT).sum(-2);
    }
    const u = random.uniform(kx, loc.shape, { minval: 1e-6, maxval: 1 - 1e-6 });
    const logistic = np.log(u.ref).sub(np.log1p(np.negative(u)));
    const x = loc.add(np.exp(np.maximum(logScale, MIN_LOG_SCALE)).mul(logistic));
    const levels = this.bins - 1;
    return np.round(np.clip(x, 0, 1).mul(levels)).div(levels);
  }
}

/**
 * The taps of a k×k causal ("type A") window in raster order: the rows above the centre, then
 * the centre row left of it: exactly the first (k² − 1)/2 entries of the row-major kernel.
 */
export function causalTaps(kernel: number): [number, number][] {
  const p = (kernel - 1) / 2;
  const taps: [number, number][] = [];
  for (let r = 0; r <= p; r++) for (let c = 0; c < kernel; c++) if (r < p || c < p) taps.push([r, c]);
  return taps;
}

/**
 * Depth of every pixel of an h×w image (row-major) when pixel i's update reads the pixels of its
 * causal k×k window: 1 + the deepest pixel in the window (1 with none). Parallel sweeps
 * x ← f(x) make pixel i exact from its depth's sweep on, whatever the start.
 */
export function causalDepths(h: number, w: number, kernel: number): Int32Array {
  const p = (kernel - 1) / 2;
  const taps = causalTaps(kernel);
  const depth = new Int32Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let d = 0;
      for (const [r, c] of taps) {
        const y = i + r - p, x = j + c - p;
        if (y >= 0 && x >= 0 && x < w) d = Math.max(d, depth[y * w + x]);
      }
      depth[i * w + j] = d + 1;
    }
  }
  return depth;
}

/** Sweeps after which every pixel is exact: the longest chain of window dependencies (109 for 28×28, k = 5). */
export function causalSweeps(h: number, w: number, kernel: number): number {
  return causalDepths(h, w, kernel).reduce((a, b) => Math.max(a, b), 0);
}

/**
 * For sweeps s = 1 … causalSweeps: the rows [first, end) holding a pixel of depth s, the only
 * rows a sweep has to recompute (the rows above are exact already, the rows below not yet
 * readable). Depth grows along a row and down the image, so these rows are contiguous.
 */
function rowsPerSweep(h: number, w: number, kernel: number): [number, number][] {
  const depth = causalDepths(h, w, kernel);
  const sweeps = depth.reduce((a, b) => Math.max(a, b), 0);
  const out: [number, number][] = [];
  for (let s = 1; s <= sweeps; s++) {
    let first = -1, end = -1;
    for (let i = 0; i < h; i++) {
      if (depth[i * w] <= s && s <= depth[i * w + w - 1]) {
        if (first < 0) first = i;
        end = i + 1;
      }
    }
    if (first >= 0) out.push([first, end]);
  }
  return out;
}

/** A dense or conv layer's weights, borrowed. */
interface Affine {
  w: Array;
  b: Array;
}

/**
 * Parameters of the causal context (borrowed). `conv`: the masked convolution over x, HWIO
 * w [k, k, 1, C], b [C]; only the causal taps are read, so the other entries never matter (and
 * get no gradient). `hidden` (a hidden layer of C features): `cond` w [1, C], b [C] feeds the
 * decoder's output into the features, `out` w [C, 1], b [1] mixes them into the logit. Without
 * it the conv has C = 1 output, added to the logit directly.
 */
export interface CausalContext {
  conv: Affine;
  hidden?: { cond: Affine; out: Affine };
}

/**
 * Bernoulli pixels with a local autoregressive context (PixelCNN-style decoder, as in PixelVAE):
 * p(x|z) = Π_i Bernoulli(x_i | σ(ℓ_i)) in raster order, with
 *   ℓ_i = d_i + b + Σ_t w_t x_t(i)                                 (linear: no hidden layer)
 *   ℓ_i = d_i + b' + Σ_c v_c · relu(a_ic + u_c d_i + e_c),  a_ic = b_c + Σ_t w_tc x_t(i)   (hidden)
 * where d = `base` [N, D] is the decoder's output (D = h·w, 1 channel) and x_t(i) is the pixel
 * at causal tap t of i's window (the pixels before i; zero outside the image). Normalised by construction: each factor is a
 * Bernoulli given the earlier pixels only.
 *
 * logProb is one pass over x (teacher forcing). sample and mean solve x = f(x) for a strictly
 * causal f by parallel (Jacobi) sweeps: after `sweeps` sweeps (causalSweeps) every pixel equals
 * the one raster-order sequential evaluation would give, with the same uniforms u_i for sampling
 * (x_i = [u_i < σ(ℓ_i)]). Inside jit this unrolls `sweeps` passes (109 for 28×28, k = 5), each
 * over the ~w/(p+1) rows still settling; makeInference instead runs one jitted full sweep at a
 * time until the iterate stops changing: the same exact answer (the fixed point is unique), in
 * fewer sweeps (25–45 on trained Fashion-MNIST models) and without a long compile.
 *
 * mean() is not E[x] (intractable): it is the sequential mean-field image m_i = σ(ℓ_i(m_{<i})),
 * each pixel's probability fed forward as the input of the later ones: grey levels where the
 * model is unsure, what the image tools show as a decoded picture.
 */
export class AutoregressiveBernoulli implements Distribution {
  /** Sweeps after which sample() and mean() are exact. */
  readonly sweeps: number;

  constructor(
    readonly base: Array,
    readonly context: CausalContext,
    readonly height: number,
    readonly width: number,
  ) {
    if (base.shape[base.shape.length - 1] !== height * width) throw new Error(`AutoregressiveBernoulli: logits [${base.shape}] are not ${height}×${width} images`);
    this.sweeps = causalSweeps(height, width, this.kernel);
  }

  get kernel(): number {
    return this.context.conv.w.shape[0];
  }

  /**
   * The context features of x [M, D] (consumed): the masked conv plus its bias, channel-major
   * [C, M·D] (row c holds channel c of every pixel of every image). Independent of z.
   * Channel-major keeps the per-pixel nonlinearity and the sum over C on long contiguous rows:
   * several times faster on the engine than a small last axis of C (NHWC).
   */
  features(x: Array): Array {
    const [M] = x.shape;
    return this.bandFeatures(x.reshape([M, this.height, this.width]), 0, this.height);
  }

  /** Features [C, M·(end − first)·w] of image rows [first, end) of x [M, h, w] (consumed). */
  private bandFeatures(x: Array, first: number, end: number): Array {
    const [M, H, W] = x.shape;
    const k = this.kernel;
    const p = (k - 1) / 2;
    const C = this.context.conv.w.shape[3];
    const R = end - first;
    // the rows the window reads (first − p … end − 1), zero above the image and left/right of it
    const top = Math.max(0, first - p);
    const rows = top === 0 && end === H ? x : x.slice([], [top, end], []);
    const xp = np.pad(rows, [[0, 0], [p - (first - top), 0], [p, p]]);
    const taps = this.context.conv.w.ref.reshape([k * k, C]).transpose([1, 0]); // [C, k²], column t = tap t
    // one broadcast multiply-add per tap: cheaper here than patches + matmul (Cin = 1)
    let acc: Array | null = null;
    causalTaps(k).forEach(([r, c], t) => {
      const term = xp.ref.slice([], [r, r + R], [c, c + W]).reshape([1, M * R * W]).mul(taps.ref.slice([], [t, t + 1]));
      acc = acc === null ? term : acc.add(term);
    });
    xp.dispose();
    taps.dispose();
    return realised(acc!.add(this.context.conv.b.ref.reshape([C, 1])));
  }

  /** Logits [N, D] from context features a [C, N·D] (consumed) of the same rows. */
  logitsFromFeatures(a: Array): Array {
    return this.logitsWith(a, this.base.ref);
  }

  /** Logits [N, n] from features a [C, N·n] (consumed) and the decoder outputs d [N, n] (consumed) of the same pixels. */
  private logitsWith(a: Array, d: Array): Array {
    const [N, n] = d.shape;
    const hidden = this.context.hidden;
    if (!hidden) return d.add(a.reshape([N, n]));
    const C = a.shape[0];
    const h = nn.relu(a.add(d.ref.reshape([1, N * n]).mul(hidden.cond.w.ref.reshape([C, 1]))).add(hidden.cond.b.ref.reshape([C, 1])));
    return h.mul(hidden.out.w.ref.reshape([C, 1])).sum(0).reshape([N, n]).add(hidden.out.b.ref).add(d);
  }

  /** ℓ [N, D] given x [N, D] (consumed): logit i reads only the pixels before i. */
  logits(x: Array): Array {
    return this.logitsFromFeatures(this.features(x));
  }

  logProb(x: Array): Array {
    return bernoulliLogProb(x.ref, this.logits(x));
  }

  /**
   * log p(x_b | z_j) for x [B, D] (consumed) when this distribution's N = k·B rows are k
   * sample-major copies (row j·B + b belongs to x_b): the z-independent context features are
   * computed once per x_b, not k times. Equals logProb of x repeated k times.
   */
  logProbRepeated(x: Array, k: number): Array {
    if (k === 1) return this.logProb(x);
    const [B, D] = x.shape;
    const a = this.features(x.ref);
    const C = a.shape[0];
    const ak = np.broadcastTo(a.reshape([C, 1, B * D]), [C, k, B * D]).reshape([C, k * B * D]);
    const xk = np.broadcastTo(x.reshape([1, B, D]), [k, B, D]).reshape([k * B, D]);
    return bernoulliLogProb(xk, this.logitsFromFeatures(ak));
  }

  /**
   * One parallel sweep from the iterate x [N, D] (consumed): σ(ℓ(x)) (mean field), or with
   * uniforms u [N, D] (consumed) the binary [u < σ(ℓ(x))] (sampling).
   */
  sweep(x: Array, u: Array | null = null): Array {
    const [N, D] = x.shape;
    const [H, W] = [this.height, this.width];
    return this.bandSweep(x.reshape([N, H, W]), 0, H, u && u.reshape([N, H, W])).reshape([N, D]);
  }

  /** A sweep of image rows [first, end) only: x [N, h, w] and u [N, h, w] consumed → [N, end − first, w]. */
  private bandSweep(x: Array, first: number, end: number, u: Array | null): Array {
    const [N, H, W] = x.shape;
    const R = end - first;
    const band = (a: Array) => (first === 0 && end === H ? a : a.slice([], [first, end], []));
    const d = band(this.base.ref.reshape([N, H, W])).reshape([N, R * W]);
    const prob = nn.sigmoid(this.logitsWith(this.bandFeatures(x, first, end), d)).reshape([N, R, W]);
    return u === null ? prob : band(u).less(prob).astype(np.float32);
  }

  /** sweeps from the all-zero image, each recomputing only the rows still settling (exact). */
  private solve(u: Array | null): Array {
    const [N, D] = this.base.shape;
    const [H, W] = [this.height, this.width];
    const us = u && u.reshape([N, H, W]);
    let x = np.zeros([N, H, W]);
    for (const [first, end] of rowsPerSweep(H, W, this.kernel)) {
      const parts = [this.bandSweep(x.ref, first, end, us && us.ref)];
      if (first > 0) parts.unshift(x.ref.slice([], [0, first], []));
      if (end < H) parts.push(x.ref.slice([], [end, H], []));
      x.dispose();
      x = parts.length === 1 ? parts[0] : np.concatenate(parts, 1);
    }
    us?.dispose();
    return x.reshape([N, D]);
  }

  /** An exact sample: the sweeps with fixed uniforms u_i, x_i = [u_i < σ(ℓ_i)]. */
  sample(key: Array): Array {
    return this.solve(random.uniform(key, this.base.shape));
  }

  /** The sequential mean-field image (see the class comment), exact after the sweeps. */
  mean(): Array {
    return this.solve(null);
  }
}

/**
 * `a` computed once into its own buffer. Inside jit the engine fuses elementwise producers into
 * each consumer, so a broadcast consumer (IWAE's k copies of the features) would recompute the
 * whole tap sum per copy (10× slower), and the backward pass re-reads it several times. A sum
 * over a trailing axis of size 1 is a reduction kernel: a boundary the engine keeps.
 */
function realised(a: Array): Array {
  return a.reshape([...a.shape, 1]).sum(-1);
}

/** Σ x·ℓ − softplus(ℓ) over the last axis; consumes both. */
function bernoulliLogProb(x: Array, logits: Array): Array {
  return x.mul(logits.ref).sub(softplus(logits)).sum(-1);
}

/**
 * Iterate a parallel sweep x ← sweep(x) on the host from x0 (consumed) until an iterate repeats
 * exactly, or `maxSweeps` sweeps. For a strictly causal sweep the repeated iterate is the unique
 * fixed point, i.e. the exact sequential result, and `maxSweeps` = the causal depth guarantees it;
 * usually it repeats far sooner. Returns the final iterate's values and the sweeps run.
 */
export async function iterateToFixedPoint(sweep: (x: Array) => Array, x0: Array, maxSweeps: number): Promise<{ x: Float32Array; sweeps: number }> {
  let x = x0;
  let prev = await toHost(x.ref);
  for (let s = 1; s <= maxSweeps; s++) {
    x = sweep(x);
    const cur = await toHost(x.ref);
    let same = true;
    for (let i = 0; i < cur.length && same; i++) same = cur[i] === prev[i];
    prev = cur;
    if (same) {
      x.dispose();
      return { x: cur, sweeps: s };
    }
  }
  x.dispose();
  return { x: prev, sweeps: maxSweeps };
}
