/**
 * Mel filterbank, log-mel conversion and the approximate inverse (mel → linear power).
 * Pure TypeScript, browser-safe.
 *
 * Mel scales:
 *  - "slaney" (default; Auditory Toolbox / librosa default): linear below 1 kHz
 *    (mel = 3·f/200), logarithmic above (mel = 15 + 27·ln(f/1000)/ln 6.4).
 *  - "htk": mel = 2595·log10(1 + f/700).
 * Filters are triangles between nMels + 2 points equally spaced in mel from fMin to fMax.
 * Normalisation "slaney" (default) scales each triangle to unit area (2/(f_hi - f_lo)) so a
 * flat spectrum gives equal energy in every band; "none" keeps peak 1 (the triangles then sum
 * to exactly 1 between the first and last centre frequencies).
 *
 * Layout: filterbank is band-major, weight of FFT bin k in band m at m·bins + k.
 */
import { VaekitError } from "../../errors.js";

export type MelScale = "slaney" | "htk";
export type MelNorm = "slaney" | "none";

export interface MelConfig {
  sampleRate: number;
  nFft: number;
  nMels: number;
  /** Lowest band edge in Hz (default 0). */
  fMin?: number;
  /** Highest band edge in Hz (default sampleRate/2). */
  fMax?: number;
  scale?: MelScale;
  norm?: MelNorm;
}

export interface MelFilterbank {
  nMels: number;
  bins: number;
  /** Band-major weights, nMels × bins, all ≥ 0. */
  weights: Float32Array;
  /** Centre frequency of each band in Hz. */
  centersHz: Float64Array;
  /** Band m is non-zero only for bins binStart[m] ≤ k < binEnd[m] (lets products skip zeros). */
  binStart: Int32Array;
  binEnd: Int32Array;
}

const SLANEY_BREAK_HZ = 1000;
const SLANEY_HZ_PER_MEL = 200 / 3;
const SLANEY_BREAK_MEL = SLANEY_BREAK_HZ / SLANEY_HZ_PER_MEL; // 15
const SLANEY_LOG_STEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: MelScale = "slaney"): number {
  if (scale === "htk") return 2595 * Math.log10(1 + hz / 700);
  if (hz < SLANEY_BREAK_HZ) return hz / SLANEY_HZ_PER_MEL;
  return SLANEY_BREAK_MEL + Math.log(hz / SLANEY_BREAK_HZ) / SLANEY_LOG_STEP;
}

export function melToHz(mel: number, scale: MelScale = "slaney"): number {
  if (scale === "htk") return 700 * (10 ** (mel / 2595) - 1);
  if (mel < SLANEY_BREAK_MEL) return mel * SLANEY_HZ_PER_MEL;
  return SLANEY_BREAK_HZ * Math.exp(SLANEY_LOG_STEP * (mel - SLANEY_BREAK_MEL));
}

/** Build the triangular filterbank. Throws if a band would contain no FFT bin (too many bands). */
export function melFilterbank(config: MelConfig): MelFilterbank {
  const { sampleRate, nFft, nMels } = config;
  const fMin = config.fMin ?? 0;
  const fMax = config.fMax ?? sampleRate / 2;
  const scale = config.scale ?? "slaney";
  const norm = config.norm ?? "slaney";
  if (!(nMels >= 1) || !Number.isInteger(nMels)) throw new VaekitError(`mel: n_mels must be a positive integer, got ${nMels}`);
  if (!(fMin >= 0 && fMin < fMax && fMax <= sampleRate / 2)) {
    throw new VaekitError(`mel: need 0 ≤ f_min < f_max ≤ sample_rate/2, got f_min=${fMin}, f_max=${fMax}, sample_rate=${sampleRate}`);
  }
  const bins = nFft / 2 + 1;
  const melLo = hzToMel(fMin, scale);
  const melHi = hzToMel(fMax, scale);
  const edges = Float64Array.from({ length: nMels + 2 }, (_, i) => melToHz(melLo + ((melHi - melLo) * i) / (nMels + 1), scale));
  const weights = new Float32Array(nMels * bins);
  const binStart = new Int32Array(nMels);
  const binEnd = new Int32Array(nMels);
  for (let m = 0; m < nMels; m++) {
    const lo = edges[m];
    const mid = edges[m + 1];
    const hi = edges[m + 2];
    const gain = norm === "slaney" ? 2 / (hi - lo) : 1;
    let any = false;
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / nFft;
      const w = Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      if (w > 0) {
        weights[m * bins + k] = w * gain;
        if (!any) binStart[m] = k;
        binEnd[m] = k + 1;
        any = true;
      }
    }
    if (!any) {
      throw new VaekitError(
        `mel: band ${m} (${lo.toFixed(1)}–${hi.toFixed(1)} Hz) contains no FFT bin; use fewer mel bands or a larger n_fft`,
      );
    }
  }
  return { nMels, bins, weights, centersHz: edges.slice(1, nMels + 1), binStart, binEnd };
}

/** Apply the filterbank to a frame-major power (or magnitude) spectrogram → frame-major mel. */
export function applyFilterbank(spectrum: Float32Array, fb: MelFilterbank): Float32Array {
  const { nMels, bins, weights, binStart, binEnd } = fb;
  if (spectrum.length % bins !== 0) {
    throw new VaekitError(`mel: spectrogram length ${spectrum.length} is not a multiple of ${bins} bins`);
  }
  const frames = spectrum.length / bins;
  const out = new Float32Array(frames * nMels);
  for (let f = 0; f < frames; f++) {
    for (let m = 0; m < nMels; m++) {
      let acc = 0;
      const row = m * bins;
      for (let k = binStart[m]; k < binEnd[m]; k++) acc += weights[row + k] * spectrum[f * bins + k];
      out[f * nMels + m] = acc;
    }
  }
  return out;
}

/** 10·log10(max(x, amin)): power to decibels with a floor so silence stays finite. */
export function powerToDb(power: Float32Array, amin = 1e-10): Float32Array {
  return Float32Array.from(power, (p) => 10 * Math.log10(Math.max(p, amin)));
}

export function dbToPower(db: Float32Array): Float32Array {
  return Float32Array.from(db, (d) => 10 ** (d / 10));
}

export interface MelInverseOptions {
  /**
   * Multiplicative non-negative least-squares refinements (Lee & Seung) after the
   * interpolating initial guess; 0 (default) keeps the smooth interpolation.
   */
  refineIterations?: number;
}

/**
 * Approximate linear power from mel power, non-negative by construction.
 *
 * Initial guess: each band's level mel[m] / Σ_k W[m,k] (exact for a flat spectrum) is placed
 * at its centre and linearly interpolated across bins by the triangle weights themselves,
 * i.e. p[k] = Σ_m W[m,k]·level[m] / Σ_m W[m,k] — a normalised transpose of the filterbank.
 * Unlike the Moore–Penrose pseudo-inverse it cannot go negative and needs no clipping.
 * Optional refinement minimises ‖mel − W p‖² over p ≥ 0 with p ← p ⊙ (Wᵀmel) / (WᵀW p).
 * Bins outside [fMin, fMax] come back as 0.
 */
export function melToLinearPower(melPower: Float32Array, fb: MelFilterbank, options: MelInverseOptions = {}): Float32Array {
  const { nMels, bins, weights, binStart, binEnd } = fb;
  if (melPower.length % nMels !== 0) {
    throw new VaekitError(`mel inverse: length ${melPower.length} is not a multiple of ${nMels} bands`);
  }
  const frames = melPower.length / nMels;
  const rowSum = new Float64Array(nMels);
  const colSum = new Float64Array(bins);
  for (let m = 0; m < nMels; m++) {
    for (let k = 0; k < bins; k++) {
      rowSum[m] += weights[m * bins + k];
      colSum[k] += weights[m * bins + k];
    }
  }
  const out = new Float32Array(frames * bins);
  const p = new Float64Array(bins);
  const wtMel = new Float64Array(bins);
  const wp = new Float64Array(nMels);
  const denom = new Float64Array(bins);
  const iterations = options.refineIterations ?? 0;
  for (let f = 0; f < frames; f++) {
    const mel = melPower.subarray(f * nMels, (f + 1) * nMels);
    p.fill(0);
    wtMel.fill(0);
    for (let m = 0; m < nMels; m++) {
      const level = Math.max(0, mel[m]) / rowSum[m];
      for (let k = binStart[m]; k < binEnd[m]; k++) {
        const w = weights[m * bins + k];
        p[k] += w * level;
        wtMel[k] += w * Math.max(0, mel[m]);
      }
    }
    for (let k = 0; k < bins; k++) p[k] = colSum[k] > 0 ? p[k] / colSum[k] : 0;
    for (let it = 0; it < iterations; it++) {
      wp.fill(0);
      for (let m = 0; m < nMels; m++) {
        let acc = 0;
        for (let k = binStart[m]; k < binEnd[m]; k++) acc += weights[m * bins + k] * p[k];
        wp[m] = acc;
      }
      denom.fill(0);
      for (let m = 0; m < nMels; m++) {
        for (let k = binStart[m]; k < binEnd[m]; k++) denom[k] += weights[m * bins + k] * wp[m];
      }
      for (let k = 0; k < bins; k++) if (p[k] > 0) p[k] *= wtMel[k] / (denom[k] + 1e-30);
    }
    for (let k = 0; k < bins; k++) out[f * bins + k] = p[k];
  }
  return out;
}
