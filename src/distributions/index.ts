/**
 * Distributions over the last axis of an array (the event axis); leading axes are batch axes.
 * Convention (as everywhere in vaekit's model code): methods borrow the distribution's own
 * parameters and consume their arguments; call them inside `jit`, where borrowing costs nothing.
 */
import { nn, np, random, softplus, type Array } from "../engine/index.js";

const LOG_2PI = Math.log(2 * Math.PI);

export interface Distribution {
  /** log p(x), summed over the event axis: one value per batch element. */
  logProb(x: Array): Array;
  /** A sample with the distribution's batch and event shape. */
  sample(key: Array): Array;
  /** The mean (what a decoder shows as its reconstruction). */
  mean(): Array;
  /**
   * Per-value deviance at x (no event sum): log p(x_j) under the same distribution with its mean
   * (location) moved onto x_j, spread kept, minus log p(x_j). Zero at a perfect reconstruction and
   * free of what the likelihood charges any input for its own randomness. Only likelihoods with
   * such a location have it.
   */
  deviance?(x: Array): Array;
}

/** N(loc, diag(exp(logVar))) — the encoder's posterior and the Gaussian likelihood. */
export class DiagGaussian implements Distribution {
  constructor(
    readonly loc: Array,
    readonly logVar: Array,
  ) {}

  /** Reparameterised sample z = μ + σ·ε with ε ~ N(0, I) drawn from `key`. */
  sample(key: Array): Array {
    return this.sampleWithNoise(random.normal(key, this.loc.shape));
  }

  /** Reparameterised samples with leading sample axes: shape [...sampleShape, ...batch, event]. */
  sampleN(key: Array, n: number): Array {
    return this.sampleWithNoise(random.normal(key, [n, ...this.loc.shape]));
  }

  sampleWithNoise(eps: Array): Array {
    return this.loc.ref.add(np.exp(this.logVar.ref.mul(0.5)).mul(eps));
  }

  logProb(x: Array): Array {
    const d = x.sub(this.loc.ref);
    const quad = d.ref.mul(d).mul(np.exp(np.negative(this.logVar.ref)));
    return quad.add(this.logVar.ref).add(LOG_2PI).sum(-1).mul(-0.5);
  }

  mean(): Array {
    return this.loc.ref;
  }

  /** ½(x − μ)²/σ². */
  deviance(x: Array): Array {
    const d = x.sub(this.loc.ref);
    return d.ref.mul(d).mul(np.exp(np.negative(this.logVar.ref))).mul(0.5);
  }

  /** KL(q ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²), per batch element. */
  klToStandardNormal(): Array {
    const mu = this.loc.ref;
    return this.logVar.ref.add(1).sub(mu.ref.mul(mu)).sub(np.exp(this.logVar.ref)).sum(-1).mul(-0.5);
  }

  /** The same KL per latent dimension [..., L] (free bits and active-unit counts need it). */
  klPerDimToStandardNormal(): Array {
    const mu = this.loc.ref;
    return this.logVar.ref.add(1).sub(mu.ref.mul(mu)).sub(np.exp(this.logVar.ref)).mul(-0.5);
  }

  /** KL(this ‖ other) between diagonal Gaussians, per batch element. */
  kl(other: DiagGaussian): Array {
    const d = this.loc.ref.sub(other.loc.ref);
    const ratio = np.exp(this.logVar.ref.sub(other.logVar.ref));
    const quad = d.ref.mul(d).mul(np.exp(np.negative(other.logVar.ref)));
    return ratio.add(quad).sub(1).sub(this.logVar.ref).add(other.logVar.ref).sum(-1).mul(0.5);
  }

  /** KL(this ‖ other) per dimension [..., L] (ladder VAEs: free bits and active units per layer). */
  klPerDim(other: DiagGaussian): Array {
    const d = this.loc.ref.sub(other.loc.ref);
    const ratio = np.exp(this.logVar.ref.sub(other.logVar.ref));
    const quad = d.ref.mul(d).mul(np.exp(np.negative(other.logVar.ref)));
    return ratio.add(quad).sub(1).sub(this.logVar.ref).add(other.logVar.ref).mul(0.5);
  }

  entropy(): Array {
    return this.logVar.ref.add(1 + LOG_2PI).sum(-1).mul(0.5);
  }
}

/** The prior p(z) = N(0, I) over `dim` latent dimensions. */
export class StandardNormal implements Distribution {
  constructor(readonly dim: number) {}
  logProb(z: Array): Array {
    return z.ref.mul(z).add(LOG_2PI).sum(-1).mul(-0.5);
  }
  sample(key: Array, batch: number[] = []): Array {
    return random.normal(key, [...batch, this.dim]);
  }
  mean(): Array {
    return np.zeros([this.dim]);
  }
}

/** Bernoulli on logits: log p(x) = x·l − softplus(l), exact for x ∈ [0,1] (cross-entropy form). */
export class Bernoulli implements Distribution {
  constructor(readonly logits: Array) {}
  logProb(x: Array): Array {
    return x.mul(this.logits.ref).sub(softplus(this.logits.ref)).sum(-1);
  }
  sample(key: Array): Array {
    return random.uniform(key, this.logits.shape).less(nn.sigmoid(this.logits.ref)).astype(np.float32);
  }
  mean(): Array {
    return nn.sigmoid(this.logits.ref);
  }
  /**
   * KL(Bern(x) ‖ Bern(p)) = softplus(l) − x·l + x log x + (1−x) log(1−x): the cross-entropy minus
   * the grey level's own entropy (large for textured grey images, it would otherwise dominate).
   */
  deviance(x: Array): Array {
    const oneMinus = np.negative(x.ref).add(1);
    return softplus(this.logits.ref).sub(x.ref.mul(this.logits.ref)).add(xLogX(x)).add(xLogX(oneMinus));
  }
}

/** x·log x with 0·log 0 = 0. */
function xLogX(x: Array): Array {
  const pos = x.ref.greater(0);
  const safe = np.where(pos.ref, x.ref, 1);
  return np.where(pos, x.mul(np.log(safe)), 0);
}

export { ContinuousBernoulli, DiscretizedLogisticMixture, bitsPerDim, continuousBernoulliLogNorm, continuousBernoulliMean } from "./likelihoods.js";
