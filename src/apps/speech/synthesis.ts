/**
 * Between waveforms and model segments, both ways. Browser-safe: the browser app can call
 * `segmentToWavBytes` on a decoded segment and play the bytes (e.g. via a Blob URL).
 *
 * Forward: peak-normalise → log-mel → trim silence → crop/pad to the segment width (as the
 * dataset loader does), also returning where the segment starts in the utterance's frames.
 * Backward: the first `length` frames of a segment (values clipped to [0, 1], the data range)
 * → dB log-mel with a little silence either side (so the vocoder's first and last windows do
 * not start mid-word) → mel inversion → Griffin–Lim → samples.
 */
import { VaekitError } from "../../errors.js";
import { normalizePeak, type MonoAudio } from "./audio.js";
import {
  activeFrameRange,
  fixedLengthSegment,
  logMelSpectrogram,
  logMelToAudio,
  segmentToLogMel,
  type LogMel,
  type SpeechFeatureConfig,
} from "./features.js";
import { encodeWav16 } from "./wav.js";

/** Geometry and features of a segment: what a speech model was trained on. */
export interface SegmentFormat {
  features: SpeechFeatureConfig;
  /** Segment width in frames. */
  frames: number;
  /** Silence trimming threshold, dB below the loudest frame (default 40). */
  trimDb?: number;
  /** Peak level utterances are scaled to before analysis (default 0.9). */
  peak?: number;
}

export interface AudioSegment {
  /** nMels × frames, mel-major, values in [0, 1]. */
  data: Float32Array;
  /** frames values, 1 for real frames. */
  mask: Float32Array;
  /** Real frames (≤ frames). */
  length: number;
  /** Index of the segment's first frame in the utterance's log-mel. */
  start: number;
  /** The utterance's whole log-mel (dB), for reference spectra. */
  logMel: LogMel;
  cropped: boolean;
}

/** Mono samples at features.sampleRate → one model segment. */
export function audioToSegment(samples: Float32Array, format: SegmentFormat): AudioSegment {
  if (samples.length === 0) throw new VaekitError("audio has no samples");
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
  if (peak === 0) throw new VaekitError("audio is silent (all samples are zero)");
  const logMel = logMelSpectrogram(normalizePeak(samples, format.peak ?? 0.9), format.features);
  const trimDb = format.trimDb ?? 40;
  const seg = fixedLengthSegment(logMel, format.features, { frames: format.frames, trimDb });
  // Same placement rule as fixedLengthSegment: long words keep their middle.
  const [first, last] = activeFrameRange(logMel, trimDb);
  const active = last - first + 1;
  const start = active > format.frames ? first + Math.floor((active - format.frames) / 2) : first;
  return { data: seg.data, mask: seg.mask, length: Math.min(active, format.frames), start, logMel, cropped: seg.cropped };
}

/** Real frames in a frame mask (1 = real). */
export function maskLength(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i] > 0 ? 1 : 0;
  return n;
}

export interface SegmentAudioOptions {
  /** Griffin–Lim iterations (default 60). */
  iterations?: number;
  /** Seed of Griffin–Lim's initial phase (default 0). */
  seed?: number;
  /** Silent frames added before and after the content (default 4 = 32 ms at the default hop). */
  silenceFrames?: number;
}

/**
 * The first `length` frames of a segment (model input or output, values clipped to [0, 1]) as a
 * dB log-mel, with `silenceFrames` frames at minDb on both sides.
 */
export function segmentContentLogMel(data: Float32Array, length: number, format: SegmentFormat, silenceFrames = 0): LogMel {
  const nMels = format.features.nMels;
  const frames = format.frames;
  if (!Number.isInteger(length) || length < 1 || length > frames) throw new VaekitError(`segment length must be an integer in 1..${frames}, got ${length}`);
  const full = segmentToLogMel(Float32Array.from(data, (v) => (v < 0 ? 0 : v > 1 ? 1 : Number.isNaN(v) ? 0 : v)), nMels, frames, format.features);
  const total = length + 2 * silenceFrames;
  const db = new Float32Array(total * nMels).fill(format.features.minDb);
  db.set(full.db.subarray(0, length * nMels), silenceFrames * nMels);
  return { frames: total, nMels, db };
}

/** Segment → waveform at features.sampleRate via mel inversion and Griffin–Lim. */
export function segmentToAudio(data: Float32Array, length: number, format: SegmentFormat, options: SegmentAudioOptions = {}): MonoAudio {
  const logMel = segmentContentLogMel(data, length, format, options.silenceFrames ?? 4);
  const samples = logMelToAudio(logMel, format.features, { iterations: options.iterations ?? 60, seed: options.seed ?? 0 });
  return { sampleRate: format.features.sampleRate, samples };
}

/** Segment → 16-bit PCM WAV bytes (peak-normalised to 0.9 so quiet outputs stay audible). */
export function segmentToWavBytes(data: Float32Array, length: number, format: SegmentFormat, options: SegmentAudioOptions = {}): Uint8Array {
  const audio = segmentToAudio(data, length, format, options);
  return encodeWav16(normalizePeak(audio.samples, 0.9), audio.sampleRate);
}
