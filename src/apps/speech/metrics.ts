/**
 * Distances between magnitude spectrograms (same layout and size, e.g. frames × bins).
 * Browser-safe.
 */
import { VaekitError } from "../../errors.js";

function checkPair(reference: Float32Array, estimate: Float32Array, what: string): void {
  if (reference.length !== estimate.length) {
    throw new VaekitError(`${what}: spectrogram sizes differ (${reference.length} vs ${estimate.length})`);
  }
  if (reference.length === 0) throw new VaekitError(`${what}: empty spectrograms`);
  for (const [name, values] of [["reference", reference], ["estimate", estimate]] as const) {
    const bad = values.findIndex((v) => !Number.isFinite(v) || v < 0);
    if (bad >= 0) throw new VaekitError(`${what}: ${name} magnitude at index ${bad} is ${values[bad]} (need finite, ≥ 0)`);
  }
}

/** ‖ref − est‖_F / ‖ref‖_F on magnitudes: 0 is perfect, 1 is as bad as predicting silence. */
export function spectralConvergence(reference: Float32Array, estimate: Float32Array): number {
  checkPair(reference, estimate, "spectral convergence");
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = reference[i] - estimate[i];
    diff += d * d;
    ref += reference[i] * reference[i];
  }
  if (ref === 0) throw new VaekitError("spectral convergence: reference spectrogram is all zero");
  return Math.sqrt(diff / ref);
}

export interface LsdOptions {
  /**
   * Both magnitudes are floored at max(reference) · 10^(−dynamicRangeDb/20) before the log,
   * so near-silent bins cannot dominate the average with arbitrary huge ratios (default 80 dB).
   */
  dynamicRangeDb?: number;
}

/**
 * Log-spectral distance in dB between magnitude spectrograms with `bins` values per frame:
 * per frame sqrt(mean_k (20·log10(ref/est))²), averaged over frames.
 */
export function logSpectralDistance(reference: Float32Array, estimate: Float32Array, bins: number, options: LsdOptions = {}): number {
  checkPair(reference, estimate, "log-spectral distance");
  if (!Number.isInteger(bins) || bins < 1 || reference.length % bins !== 0) {
    throw new VaekitError(`log-spectral distance: length ${reference.length} is not a multiple of ${bins} bins`);
  }
  let peak = 0;
  for (let i = 0; i < reference.length; i++) peak = Math.max(peak, reference[i]);
  if (peak === 0) throw new VaekitError("log-spectral distance: reference spectrogram is all zero");
  const floor = peak * 10 ** (-(options.dynamicRangeDb ?? 80) / 20);
  const frames = reference.length / bins;
  let total = 0;
  for (let f = 0; f < frames; f++) {
    let sq = 0;
    for (let k = 0; k < bins; k++) {
      const i = f * bins + k;
      const d = 20 * Math.log10(Math.max(reference[i], floor) / Math.max(estimate[i], floor));
      sq += d * d;
    }
    total += Math.sqrt(sq / bins);
  }
  return total / frames;
}
