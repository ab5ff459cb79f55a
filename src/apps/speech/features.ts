/**
 * The speech feature pipeline: waveform → log-mel spectrogram (dB) → fixed-size model input in
 * [0, 1], and back: log-mel → linear magnitude → Griffin–Lim → waveform. Browser-safe.
 *
 * Log-mel values are 10·log10(mel power) of a Hann STFT of the raw signal (samples in [-1, 1],
 * no FFT scaling), with mel power floored at 1e-10 (−100 dB). Model inputs map the dB range
 * [minDb, maxDb] linearly to [0, 1] and clip outside it.
 */
import { VaekitError } from "../../errors.js";
import { griffinLim, type GriffinLimOptions } from "./griffin-lim.js";
import {
  applyFilterbank,
  dbToPower,
  melFilterbank,
  melToLinearPower,
  powerToDb,
  type MelFilterbank,
  type MelInverseOptions,
  type MelNorm,
  type MelScale,
} from "./mel.js";
import { powerSpectrum, stft, type StftConfig } from "./stft.js";

/** JSON-serialisable description of the features; stored with datasets and models. */
export interface SpeechFeatureConfig {
  sampleRate: number;
  nFft: number;
  hop: number;
  nMels: number;
  fMin: number;
  fMax: number;
  melScale: MelScale;
  melNorm: MelNorm;
  /** dB mapped to 0 in model inputs (and the padding value). */
  minDb: number;
  /** dB mapped to 1 in model inputs. */
  maxDb: number;
}

/**
 * 16 kHz, 32 ms windows every 8 ms, 64 Slaney mel bands over 0–8 kHz. The dB range comes from
 * the default espeak-ng set peak-normalised to 0.9: the loudest mel bin of an utterance lies
 * between +6 and +20 dB (median +13), so [−60, +20] keeps 80 dB of detail below the loudest.
 */
export const DEFAULT_SPEECH_FEATURES: SpeechFeatureConfig = {
  sampleRate: 16000,
  nFft: 512,
  hop: 128,
  nMels: 64,
  fMin: 0,
  fMax: 8000,
  melScale: "slaney",
  melNorm: "slaney",
  minDb: -60,
  maxDb: 20,
};

/** A log-mel spectrogram in dB, frame-major: band m of frame f at f·nMels + m (band 0 lowest). */
export interface LogMel {
  frames: number;
  nMels: number;
  db: Float32Array;
}

export function stftConfigOf(config: SpeechFeatureConfig): StftConfig {
  return { nFft: config.nFft, hop: config.hop, center: true };
}

const filterbanks = new Map<string, MelFilterbank>();

/** The mel filterbank for a feature config (built once per distinct config). */
export function filterbankOf(config: SpeechFeatureConfig): MelFilterbank {
  const key = JSON.stringify([config.sampleRate, config.nFft, config.nMels, config.fMin, config.fMax, config.melScale, config.melNorm]);
  let fb = filterbanks.get(key);
  if (!fb) {
    fb = melFilterbank({
      sampleRate: config.sampleRate,
      nFft: config.nFft,
      nMels: config.nMels,
      fMin: config.fMin,
      fMax: config.fMax,
      scale: config.melScale,
      norm: config.melNorm,
    });
    filterbanks.set(key, fb);
  }
  return fb;
}

/** Waveform (at config.sampleRate) → log-mel dB. */
export function logMelSpectrogram(samples: Float32Array, config: SpeechFeatureConfig): LogMel {
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i])) throw new VaekitError(`log-mel: audio sample ${i} is ${samples[i]}`);
  }
  const fb = filterbankOf(config);
  const db = powerToDb(applyFilterbank(powerSpectrum(stft(samples, stftConfigOf(config))), fb));
  return { frames: db.length / fb.nMels, nMels: fb.nMels, db };
}

/** Log-mel dB → approximate linear STFT magnitude (frames × (nFft/2+1)), non-negative. */
export function logMelToMagnitude(logMel: LogMel, config: SpeechFeatureConfig, options: MelInverseOptions = {}): Float32Array {
  const fb = filterbankOf(config);
  if (logMel.nMels !== fb.nMels || logMel.db.length !== logMel.frames * logMel.nMels) {
    throw new VaekitError(`log-mel has ${logMel.nMels} bands × ${logMel.frames} frames (${logMel.db.length} values); config expects ${fb.nMels} bands`);
  }
  const power = melToLinearPower(dbToPower(logMel.db), fb, options);
  for (let i = 0; i < power.length; i++) power[i] = Math.sqrt(power[i]);
  return power;
}

export interface ToAudioOptions extends GriffinLimOptions, MelInverseOptions {}

/** Log-mel dB → waveform at config.sampleRate, via mel inversion and Griffin–Lim. */
export function logMelToAudio(logMel: LogMel, config: SpeechFeatureConfig, options: ToAudioOptions = {}): Float32Array {
  return griffinLim(logMelToMagnitude(logMel, config, options), stftConfigOf(config), options);
}

/** dB → model input in [0, 1] (clipped). */
export function normalizeDb(db: number, config: SpeechFeatureConfig): number {
  const t = (db - config.minDb) / (config.maxDb - config.minDb);
  return t < 0 ? 0 : t > 1 ? 1 : t;
}

/** Model output in [0, 1] → dB. */
export function denormalizeDb(value: number, config: SpeechFeatureConfig): number {
  return config.minDb + value * (config.maxDb - config.minDb);
}

// ---------------------------------------------------------------------------------------------
// Fixed-size segments (model inputs)

/**
 * A fixed-size model input: `data` is mel-major (image layout, height nMels, width frames):
 * band m of frame f at m·frames + f, band 0 the lowest; values in [0, 1]. `mask` is 1 for
 * frames that came from audio and 0 for padding.
 */
export interface Segment {
  data: Float32Array;
  mask: Float32Array;
  /** Voiced frames before cropping or padding. */
  sourceFrames: number;
  cropped: boolean;
}

export interface SegmentOptions {
  /** Output width in frames. */
  frames: number;
  /** Frames quieter than (loudest frame − trimDb) at either end are trimmed first (default 40). */
  trimDb?: number;
}

/** [first, last] frame whose loudest band is within trimDb of the loudest frame overall. */
export function activeFrameRange(logMel: LogMel, trimDb = 40): [number, number] {
  const { frames, nMels, db } = logMel;
  const frameMax = new Float32Array(frames);
  let peak = -Infinity;
  for (let f = 0; f < frames; f++) {
    let m = -Infinity;
    for (let b = 0; b < nMels; b++) m = Math.max(m, db[f * nMels + b]);
    frameMax[f] = m;
    peak = Math.max(peak, m);
  }
  let first = 0;
  while (first < frames - 1 && frameMax[first] < peak - trimDb) first++;
  let last = frames - 1;
  while (last > first && frameMax[last] < peak - trimDb) last--;
  return [first, last];
}

/**
 * Trim silence, then centre-crop (long words keep their middle) or pad at the end with minDb
 * (short words start at frame 0, mask marks the real frames) to exactly `frames` frames.
 */
export function fixedLengthSegment(logMel: LogMel, config: SpeechFeatureConfig, options: SegmentOptions): Segment {
  const width = options.frames;
  if (!Number.isInteger(width) || width < 1) throw new VaekitError(`segment: frames must be a positive integer, got ${width}`);
  const { nMels, db } = logMel;
  const [first, last] = activeFrameRange(logMel, options.trimDb ?? 40);
  const active = last - first + 1;
  const start = active > width ? first + Math.floor((active - width) / 2) : first;
  const used = Math.min(active, width);
  const data = new Float32Array(nMels * width);
  const mask = new Float32Array(width);
  for (let f = 0; f < used; f++) {
    mask[f] = 1;
    for (let m = 0; m < nMels; m++) data[m * width + f] = normalizeDb(db[(start + f) * nMels + m], config);
  }
  return { data, mask, sourceFrames: active, cropped: active > width };
}

/** A segment (or a model's output in the same layout) back to a frame-major dB log-mel. */
export function segmentToLogMel(data: Float32Array, nMels: number, frames: number, config: SpeechFeatureConfig): LogMel {
  if (data.length !== nMels * frames) {
    throw new VaekitError(`segment has ${data.length} values, expected ${nMels} × ${frames} = ${nMels * frames}`);
  }
  const db = new Float32Array(nMels * frames);
  for (let m = 0; m < nMels; m++) {
    for (let f = 0; f < frames; f++) db[f * nMels + m] = denormalizeDb(data[m * frames + f], config);
  }
  return { frames, nMels, db };
}
