/**
 * Decoder likelihoods beyond Bernoulli and Gaussian, over the last (event) axis.
 * Same conventions as index.ts: methods borrow the distribution's parameters, consume arguments.
 */
import { nn, np, random, softplus, logSigmoid, type Array } from "../engine/index.js";
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
