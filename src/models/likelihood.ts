/**
 * From decoder outputs to p(x|z). The decoder network emits P numbers per data value,
 * parameter-major ([N, P·D]: all D values of parameter 0, then parameter 1, …), which every
 * likelihood splits the same way; a likelihood may also own learned parameters (dec_logvar).
 */
import { np, type Array } from "../engine/index.js";
import { Bernoulli, DiagGaussian, type Distribution } from "../distributions/index.js";
import { ContinuousBernoulli, DiscretizedLogisticMixture } from "../distributions/likelihoods.js";
import type { LikelihoodConfig } from "./config.js";

export interface LikelihoodHead {
  /** Decoder outputs per data value. */
  paramsPerValue: number;
  /** Learned parameters of the likelihood itself (none, or dec_logvar), for D data values. */
  initParams(D: number): Record<string, Array>;
  /** p(x|z) from decoder outputs `out` [N, P·D] (consumed); borrows `params`. */
  distribution(out: Array, params: Record<string, unknown>): Distribution;
}

/** Split [N, P·D] into P arrays [N, D]. */
function splitParams(out: Array, P: number): Array[] {
  return P === 1 ? [out] : np.split(out, P, -1);
}

export function likelihoodHead(config: LikelihoodConfig): LikelihoodHead {
  switch (config.type) {
    case "bernoulli":
      return { paramsPerValue: 1, initParams: () => ({}), distribution: (out) => new Bernoulli(out) };
    case "continuous-bernoulli":
      return { paramsPerValue: 1, initParams: () => ({}), distribution: (out) => new ContinuousBernoulli(out) };
    case "gaussian": {
      const { variance, sigma } = config;
      if (variance === "network") {
        return {
          paramsPerValue: 2,
          initParams: () => ({}),
          distribution: (out) => {
            const [mean, logVar] = splitParams(out, 2);
            return new DiagGaussian(mean, logVar);
          },
        };
      }
      return {
        paramsPerValue: 1,
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
