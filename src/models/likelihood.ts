/**
 * From decoder outputs to p(x|z). The decoder network emits P numbers per data value,
 * parameter-major ([N, P·D]: all D values of parameter 0, then parameter 1, …), which every
 * likelihood splits the same way; a likelihood may also own learned parameters (dec_logvar).
 */
import { np, type Array } from "../engine/index.js";
import { Bernoulli, DiagGaussian, type Distribution } from "../distributions/index.js";
import { AutoregressiveBernoulli, ContinuousBernoulli, DiscretizedLogisticMixture, causalTaps } from "../distributions/likelihoods.js";
import type { AutoregressiveConfig, LikelihoodConfig } from "./config.js";
import { initConv, type ConvParams } from "./conv.js";
import { initDense, type DenseParams } from "./layers.js";
import type { Slot } from "./networks.js";

export interface LikelihoodHead {
  /** Decoder outputs per data value. */
  paramsPerValue: number;
  /**
   * Randomly initialised layers of the likelihood itself ({w, b} records, one PRNG key each, after
   * the model's own layers; none for most likelihoods, so their models keep their initialisation).
   */
  slots: Slot[];
  /** Learned parameters of the likelihood itself with a fixed start (none, or dec_logvar), for D data values. */
  initParams(D: number): Record<string, Array>;
  /** p(x|z) from decoder outputs `out` [N, P·D] (consumed); borrows `params`. */
  distribution(out: Array, params: Record<string, unknown>): Distribution;
}

/** Split [N, P·D] into P arrays [N, D]. */
function splitParams(out: Array, P: number): Array[] {
  return P === 1 ? [out] : np.split(out, P, -1);
}

/**
 * The autoregressive Bernoulli's layers, PyTorch-style: `dec_ar_conv` a Conv2d 1→C (k×k, type-A
 * masked: stored zeros outside the causal taps), and with a hidden layer `dec_ar_cond` a Linear
 * 1→C (the decoder's logit into the features) and `dec_ar_out` a Linear C→1 (features to logit).
 */
function autoregressiveHead(ar: AutoregressiveConfig, [height, width]: readonly [number, number, number]): LikelihoodHead {
  const k = ar.kernel;
  const C = ar.hidden > 0 ? ar.hidden : 1;
  const causal = causalTaps(k).length; // the first `causal` rows of the row-major kernel
  const maskedConv = (key: Array): ConvParams => {
    const layer = initConv(key, 1, C, k);
    const mask = Float32Array.from({ length: k * k * C }, (_, i) => (Math.floor(i / C) < causal ? 1 : 0));
    return { w: np.where(np.array(mask).reshape([k, k, 1, C]).greater(0.5), layer.w, 0), b: layer.b };
  };
  const slots: Slot[] = [{ name: "dec_ar_conv", init: maskedConv }];
  if (ar.hidden > 0) slots.push({ name: "dec_ar_cond", init: (key) => initDense(key, 1, C) }, { name: "dec_ar_out", init: (key) => initDense(key, C, 1) });
  return {
    paramsPerValue: 1,
    slots,
    initParams: () => ({}),
    distribution: (out, params) => {
      const layer = (name: string) => params[name] as DenseParams;
      const hidden = ar.hidden > 0 ? { cond: layer("dec_ar_cond"), out: layer("dec_ar_out") } : undefined;
      return new AutoregressiveBernoulli(out, { conv: layer("dec_ar_conv"), hidden }, height, width);
    },
  };
}

/** The head of a likelihood for data of shape [h, w, c] (NHWC rows). */
export function likelihoodHead(config: LikelihoodConfig, inputShape: readonly [number, number, number]): LikelihoodHead {
  switch (config.type) {
    case "bernoulli":
      if (config.autoregressive) return autoregressiveHead(config.autoregressive, inputShape);
      return { paramsPerValue: 1, slots: [], initParams: () => ({}), distribution: (out) => new Bernoulli(out) };
    case "continuous-bernoulli":
      return { paramsPerValue: 1, slots: [], initParams: () => ({}), distribution: (out) => new ContinuousBernoulli(out) };
    case "gaussian": {
      const { variance, sigma } = config;
      if (variance === "network") {
        return {
          paramsPerValue: 2,
          slots: [],
          initParams: () => ({}),
          distribution: (out) => {
            const [mean, logVar] = splitParams(out, 2);
            return new DiagGaussian(mean, logVar);
          },
        };
      }
      return {
        paramsPerValue: 1,
        slots: [],
        initParams: (D): Record<string, Array> =>
          variance === "learned" ? { dec_logvar: np.zeros([D]) } : variance === "learned-global" ? { dec_logvar: np.zeros([1]) } : {},
        distribution: (mean, params) => {
          // real-valued data: identity mean, so any value range works
          const logVar =
            variance === "fixed" ? np.full(mean.shape, 2 * Math.log(sigma)) : np.broadcastTo((params.dec_logvar as Array).ref, mean.shape);
          return new DiagGaussian(mean, logVar);
        },
      };
    }
    case "discretized-logistic": {
      const K = config.mixtures;
      const bins = config.bins;
      return {
        paramsPerValue: K === 1 ? 2 : 3 * K,
        slots: [],
        initParams: () => ({}),
        distribution: (out) => {
          const [N, PD] = out.shape;
          const D = PD / (K === 1 ? 2 : 3 * K);
          // locations are offset by ½ so a zero output sits mid-range of [0,1]
          if (K === 1) {
            const [loc, logScale] = splitParams(out, 2);
            const logits = np.zeros([N, 1, D]);
            return new DiscretizedLogisticMixture(logits, loc.reshape([N, 1, D]).add(0.5), logScale.reshape([N, 1, D]), bins);
          }
          const [logits, loc, logScale] = np.split(out.reshape([N, 3, K, D]), 3, 1).map((a) => a.reshape([N, K, D]));
          return new DiscretizedLogisticMixture(logits, loc.add(0.5), logScale, bins);
        },
      };
    }
  }
}
