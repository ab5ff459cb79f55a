/**
 * Griffin–Lim phase reconstruction: find a signal whose STFT magnitude matches a target.
 * Uses the "fast" variant with momentum (Perraudin, Balazs & Søndergaard 2013), which reaches
 * in tens of iterations what plain Griffin–Lim (momentum 0) needs hundreds for.
 * Pure TypeScript, browser-safe.
 */
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { frameCount, istft, stft, type ComplexSpectrogram, type StftConfig } from "./stft.js";

export interface GriffinLimOptions {
  /** Projection iterations (default 60). */
  iterations?: number;
  /** Fast Griffin–Lim momentum in [0, 1); 0 is the classic algorithm (default 0.99). */
  momentum?: number;
  /** Output length in samples; pass the original length when known (default (frames-1)·hop, as iSTFT). */
  length?: number;
  /** Initial phase: seeded uniform random (default) or all zero. */
  initialPhase?: "random" | "zero";
  seed?: number;
}

/** Reconstruct a signal from a frame-major magnitude spectrogram (frames × (nFft/2+1)). */
export function griffinLim(magnitude: Float32Array, config: StftConfig, options: GriffinLimOptions = {}): Float32Array {
  const bins = config.nFft / 2 + 1;
  if (magnitude.length === 0 || magnitude.length % bins !== 0) {
    throw new VaekitError(`Griffin-Lim: magnitude length ${magnitude.length} is not a positive multiple of ${bins} bins`);
  }
  for (let i = 0; i < magnitude.length; i++) {
    if (!Number.isFinite(magnitude[i]) || magnitude[i] < 0) {
      throw new VaekitError(`Griffin-Lim: magnitude must be finite and non-negative (index ${i} is ${magnitude[i]})`);
    }
  }
  const iterations = options.iterations ?? 60;
  const momentum = options.momentum ?? 0.99;
  if (!(momentum >= 0 && momentum < 1)) throw new VaekitError(`Griffin-Lim: momentum must be in [0, 1), got ${momentum}`);
  const frames = magnitude.length / bins;
  // Iterate on a signal of the requested length (the original's, when known) so that
  // samples near the end stay free to match the last frames; re-analysis may then yield
  // extra trailing frames, which carry no target and are ignored.
  const center = config.center ?? true;
  const internalLength = options.length ?? (center ? (frames - 1) * config.hop : config.nFft + (frames - 1) * config.hop);
  if (internalLength < 1) throw new VaekitError("Griffin-Lim: need at least 2 frames or an explicit length");
  if (frameCount(internalLength, config) < frames) {
    throw new VaekitError(`Griffin-Lim: length ${internalLength} is too short for ${frames} frames`);
  }

  // Unit-modulus phase factors.
  const cos = new Float32Array(magnitude.length);
  const sin = new Float32Array(magnitude.length);
  if ((options.initialPhase ?? "random") === "random") {
    const rng = new Rng(options.seed ?? 0);
    for (let i = 0; i < cos.length; i++) {
      const a = 2 * Math.PI * rng.uniform();
      cos[i] = Math.cos(a);
      sin[i] = Math.sin(a);
    }
  } else cos.fill(1);

  const spec: ComplexSpectrogram = { frames, bins, re: new Float32Array(magnitude.length), im: new Float32Array(magnitude.length) };
  const applyPhase = () => {
    for (let i = 0; i < magnitude.length; i++) {
      spec.re[i] = magnitude[i] * cos[i];
      spec.im[i] = magnitude[i] * sin[i];
    }
  };
  let prevRe: Float32Array = new Float32Array(magnitude.length);
  let prevIm: Float32Array = new Float32Array(magnitude.length);
  const alpha = momentum / (1 + momentum);
  for (let it = 0; it < iterations; it++) {
    applyPhase();
    const rebuilt = stft(istft(spec, config, internalLength), config);
    for (let i = 0; i < magnitude.length; i++) {
      // Extrapolate away from the previous projection, then keep only the phase.
      const re = rebuilt.re[i] - alpha * prevRe[i];
      const im = rebuilt.im[i] - alpha * prevIm[i];
      const r = Math.sqrt(re * re + im * im);
      if (r > 1e-16) {
        cos[i] = re / r;
        sin[i] = im / r;
      }
    }
    prevRe = rebuilt.re;
    prevIm = rebuilt.im;
  }
  applyPhase();
  return istft(spec, config, internalLength);
}
