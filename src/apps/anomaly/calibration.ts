/**
 * Thresholds for a target false-positive rate, fitted on held-out normal data, and where a model
 * keeps them: `extras.anomaly.calibrations` in the model file (browser-safe, pure).
 */
import { VaekitError } from "../../errors.js";
import { Rng } from "../../data/rng.js";
import type { ScoreKind, ScoreOptions } from "./scoring.js";

/** Score options plus, for Bernoulli image models, how images were fed (see detector.ts). */
export type CalibrationOptions = Partial<ScoreOptions> & { binarize?: "none" | "static" };

export interface Calibration {
  score: ScoreKind;
  /** Target false-positive rate. */
  fpr: number;
  /** Flag an input when its score is strictly above this. */
  threshold: number;
  /** Normal examples the threshold was fitted on. */
  n: number;
  /** Fraction of those examples above the threshold (≤ fpr). */
  fitted_fpr: number;
  /** Score options the threshold belongs to (scoring must use the same). */
  options: CalibrationOptions;
  /** For typicality: Ĥ, the mean NLL of the normal data, and the test's batch size. */
  reference?: { entropy: number; batchSize: number; bootstrap: number };
  data?: string;
  created?: string;
}

export interface AnomalyExtras {
  calibrations: Calibration[];
}

/**
 * The threshold t with P(score > t) ≤ fpr for a fresh normal example: the ⌈(n+1)(1−fpr)⌉-th
 * smallest of n normal scores (the split-conformal quantile; exact for exchangeable data, so
 * the realised false-positive rate is at most fpr on average and close to it for large n).
 */
export function thresholdForFpr(scores: ArrayLike<number>, fpr: number): number {
  if (!(fpr > 0 && fpr < 1)) throw new VaekitError(`--fpr must be in (0, 1), got ${fpr}`);
  const n = scores.length;
  const rank = Math.ceil((n + 1) * (1 - fpr));
  if (rank > n) {
    const need = Math.ceil(1 / fpr) - 1;
    throw new VaekitError(`a false-positive rate of ${fpr} needs at least ${need} normal examples to calibrate on; got ${n}`);
  }
  const sorted = Float64Array.from(scores).sort();
  for (const v of sorted) if (Number.isNaN(v)) throw new VaekitError("calibration scores contain NaN");
  return sorted[rank - 1];
}

/** Fraction of scores strictly above the threshold. */
export function flaggedFraction(scores: ArrayLike<number>, threshold: number): number {
  let k = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > threshold) k++;
  return scores.length ? k / scores.length : 0;
}

/**
 * The typicality test's threshold (Nalisnick et al. 2019): draw `bootstrap` batches of `m`
 * normal NLLs with replacement, take ε = |batch mean − Ĥ| for each, and return the (1 − fpr)
 * quantile of those ε, with Ĥ the mean NLL of all normal examples.
 */
export function typicalityThreshold(
  nll: ArrayLike<number>,
  m: number,
  fpr: number,
  bootstrap = 2000,
  seed = 0,
): { entropy: number; threshold: number } {
  const n = nll.length;
  if (n < 2) throw new VaekitError(`the typicality test needs at least 2 normal examples; got ${n}`);
  let acc = 0;
  for (let i = 0; i < n; i++) acc += nll[i];
  const entropy = acc / n;
  if (m === 1) {
    const eps = Float64Array.from({ length: n }, (_, i) => Math.abs(nll[i] - entropy));
    return { entropy, threshold: thresholdForFpr(eps, fpr) };
  }
  const rng = new Rng(seed);
  const eps = new Float64Array(bootstrap);
  for (let b = 0; b < bootstrap; b++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += nll[rng.int(n)];
    eps[b] = Math.abs(s / m - entropy);
  }
  return { entropy, threshold: thresholdForFpr(eps, fpr) };
}

/** The calibrations stored in a model's extras (an empty list when none). */
export function readCalibrations(extras: Record<string, unknown>): Calibration[] {
  const a = extras.anomaly as Partial<AnomalyExtras> | undefined;
  if (!a || !Array.isArray(a.calibrations)) return [];
  return a.calibrations.filter(
    (c): c is Calibration => typeof c === "object" && c !== null && typeof c.score === "string" && Number.isFinite(c.threshold),
  );
}

/** New extras with `cal` added, replacing any calibration of the same score kind and FPR. */
export function withCalibration(extras: Record<string, unknown>, cal: Calibration): Record<string, unknown> {
  const kept = readCalibrations(extras).filter((c) => !(c.score === cal.score && sameFpr(c.fpr, cal.fpr)));
  return { ...extras, anomaly: { ...(extras.anomaly as object | undefined), calibrations: [...kept, cal] } };
}

const sameFpr = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a));

/**
 * The calibration to use for a score kind: the one at `fpr` if given; otherwise the only one
 * of that kind. Returns undefined when the model has none for the kind and no fpr was asked for.
 */
export function pickCalibration(cals: Calibration[], score: ScoreKind, fpr?: number): Calibration | undefined {
  const ofKind = cals.filter((c) => c.score === score);
  if (fpr !== undefined) {
    const hit = ofKind.find((c) => sameFpr(c.fpr, fpr));
    if (!hit) {
      const have = ofKind.length ? `it has FPR ${ofKind.map((c) => c.fpr).join(", ")}` : "it has none for this score";
      throw new VaekitError(`the model has no ${score} threshold calibrated for FPR ${fpr} (${have}); run \`vaekit calibrate --score ${score} --fpr ${fpr}\``);
    }
    return hit;
  }
  if (ofKind.length > 1) {
    throw new VaekitError(`the model has ${score} thresholds for FPR ${ofKind.map((c) => c.fpr).join(", ")}; pick one with --fpr`);
  }
  return ofKind[0];
}

/**
 * Options for scoring with a calibration: the calibration's own, after checking that options
 * the user set explicitly agree with them (a threshold is only valid for the score it was fitted on).
 */
export function optionsForCalibration(cal: Calibration, explicit: CalibrationOptions): CalibrationOptions {
  // recon-error thresholds fitted before the measure was selectable store none: they are squared-error thresholds
  const options: CalibrationOptions = cal.score === "recon-error" ? { reconMeasure: "squared", ...cal.options } : cal.options;
  for (const [k, v] of Object.entries(explicit)) {
    const stored = (options as Record<string, unknown>)[k];
    if (v !== undefined && stored !== undefined && stored !== v) {
      throw new VaekitError(`the ${cal.score} threshold (FPR ${cal.fpr}) was calibrated with ${k}=${stored}, not ${v}; drop the flag or recalibrate`);
    }
  }
  return { ...explicit, ...options };
}
