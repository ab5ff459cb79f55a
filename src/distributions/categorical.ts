/**
 * Categorical likelihoods over the last axis. `Categorical` is one variable with K classes;
 * `CategoricalBlocks` is several independent variables laid side by side in one vector (one
 * block of logits, and of one-hot values, per variable) — what a decoder for table rows with
 * several categorical columns emits. Same conventions as ./index.ts: methods borrow the
 * distribution's parameters and consume their arguments; call them inside `jit`.
 */
import { nn, np, random, type Array } from "../engine/index.js";
import type { Distribution } from "./index.js";

/** One categorical variable with probabilities softmax(logits); values are one-hot vectors. */
export class Categorical implements Distribution {
  constructor(readonly logits: Array) {}

  /** log p(x) = Σ_k x_k · log softmax(logits)_k for one-hot (or probability) vectors x. */
  logProb(x: Array): Array {
    return x.mul(nn.logSoftmax(this.logits.ref, -1)).sum(-1);
  }

  /** A one-hot sample (Gumbel-max). */
  sample(key: Array): Array {
    const g = np.negative(np.log(np.negative(np.log(random.uniform(key, this.logits.shape, { minval: 1e-12, maxval: 1 })))));
    const k = this.logits.shape[this.logits.shape.length - 1];
    return nn.oneHot(np.argmax(this.logits.ref.add(g), -1), k);
  }

  /** The class probabilities (the mean of the one-hot encoding). */
  mean(): Array {
    return nn.softmax(this.logits.ref, -1);
  }
}

/** Independent categorical variables with `sizes[j]` classes each, concatenated on the last axis. */
export class CategoricalBlocks implements Distribution {
  constructor(
    readonly logits: Array,
    readonly sizes: readonly number[],
  ) {}

  private blocks(a: Array): Array[] {
    if (this.sizes.length === 1) return [a];
    const cuts: number[] = [];
    let at = 0;
    for (const s of this.sizes.slice(0, -1)) cuts.push((at += s));
    return np.split(a, cuts, -1);
  }

  /** Per-variable log-probabilities [..., J] for one-hot blocks x [..., Σ sizes]. */
  logProbPerVariable(x: Array): Array {
    const xs = this.blocks(x);
    const ls = this.blocks(this.logits.ref);
    const parts = xs.map((xb, j) => new Categorical(ls[j]).logProb(xb));
    return np.stack(parts, -1);
  }

  logProb(x: Array): Array {
    return this.logProbPerVariable(x).sum(-1);
  }

  sample(key: Array): Array {
    const keys = np.unstack(random.split(key, this.sizes.length));
    const ls = this.blocks(this.logits.ref);
    return np.concatenate(ls.map((l, j) => new Categorical(l).sample(keys[j])), -1);
  }

  mean(): Array {
    const ls = this.blocks(this.logits.ref);
    return np.concatenate(ls.map((l) => nn.softmax(l, -1)), -1);
  }
}
