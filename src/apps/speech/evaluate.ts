/**
 * Reconstruction quality of a speech model, browser-safe:
 *  - mel domain: the model's log-mel output against its input, on real frames only, as
 *    magnitudes (amplitude = 10^(dB/20)) — what the VAE itself gets right;
 *  - waveform domain: the STFT magnitude of the vocoded reconstruction (mel inversion +
 *    Griffin–Lim) against the original audio's STFT over the same frames — what one hears.
 *    `vocoderCeiling` runs the same pipeline on the unmodified input log-mel, so the model's
 *    own share of the error can be read off.
 * Scores are averaged over utterances (each utterance weighs the same).
 */
import { VaekitError } from "../../errors.js";
import { denormalizeDb, stftConfigOf, type SpeechFeatureConfig } from "./features.js";
import { logSpectralDistance, spectralConvergence } from "./metrics.js";
import { magnitude, stft } from "./stft.js";
import { buildVae } from "../../models/vae.js";
import { makeSpeechGenerator } from "./generate.js";
import { makeSpeechEvaluator, type SegmentSet, type SpeechEvalResult, type SpeechModel } from "./model.js";
import { segmentToAudio, type SegmentFormat, type SegmentAudioOptions } from "./synthesis.js";

export interface SpectralScores {
  /** Mean log-spectral distance, dB. */
  lsdDb: number;
  /** Mean spectral convergence (0 perfect, 1 ≈ predicting silence). */
  sc: number;
  perUtterance: { lsdDb: Float64Array; sc: Float64Array };
}

/** Real frames of segment i as frame-major mel amplitudes [length × nMels] (values clipped to [0, 1] first). */
export function contentMelAmplitude(data: Float32Array, length: number, nMels: number, frames: number, features: SpeechFeatureConfig): Float32Array {
  const out = new Float32Array(length * nMels);
  for (let f = 0; f < length; f++) {
    for (let m = 0; m < nMels; m++) {
      const v = Math.min(1, Math.max(0, data[m * frames + f]));
      out[f * nMels + m] = 10 ** (denormalizeDb(Number.isNaN(v) ? 0 : v, features) / 20);
    }
  }
  return out;
}

function summarise(lsd: Float64Array, sc: Float64Array): SpectralScores {
  const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
  return { lsdDb: mean(lsd), sc: mean(sc), perUtterance: { lsdDb: lsd, sc } };
}

/** LSD and SC of `reconstruction` (count × nMels·frames) against the reference segments, real frames only. */
export function melReconstructionScores(reference: SegmentSet, reconstruction: Float32Array, features: SpeechFeatureConfig): SpectralScores {
  const { count } = reference;
  const D = reference.data.length / count;
  const F = reference.mask.length / count;
  const nMels = D / F;
  if (reconstruction.length !== reference.data.length) {
    throw new VaekitError(`reconstruction has ${reconstruction.length} values, the reference ${reference.data.length}`);
  }
  const lsd = new Float64Array(count);
  const sc = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let length = 0;
    for (let f = 0; f < F; f++) length += reference.mask[i * F + f] > 0 ? 1 : 0;
    if (length === 0) throw new VaekitError(`reference segment ${i} has no real frames`);
    const ref = contentMelAmplitude(reference.data.subarray(i * D, (i + 1) * D), length, nMels, F, features);
    const est = contentMelAmplitude(reconstruction.subarray(i * D, (i + 1) * D), length, nMels, F, features);
    lsd[i] = logSpectralDistance(ref, est, nMels);
    sc[i] = spectralConvergence(ref, est);
  }
  return summarise(lsd, sc);
}

/** STFT magnitude frames [start, start+count) of a waveform, frame-major (count × bins). */
export function stftMagnitudeFrames(samples: Float32Array, features: SpeechFeatureConfig, start: number, count: number): Float32Array {
  const mag = magnitude(stft(samples, stftConfigOf(features)));
  const bins = features.nFft / 2 + 1;
  const frames = mag.length / bins;
  if (start < 0 || start + count > frames) throw new VaekitError(`STFT frames ${start}..${start + count - 1} outside 0..${frames - 1}`);
  return mag.slice(start * bins, (start + count) * bins);
}

/** One utterance for waveform-domain scoring. */
export interface WaveformReference {
  /** The peak-normalised waveform the segment was cut from, at features.sampleRate. */
  samples: Float32Array;
  /** First frame of the segment in the waveform's STFT. */
  start: number;
  /** Real frames of the segment. */
  length: number;
}

/**
 * LSD and SC between each reference waveform's STFT magnitude and that of the vocoded segment
 * (count × nMels·frames, model outputs or, for the vocoder ceiling, the inputs themselves).
 */
export function waveformReconstructionScores(
  references: readonly WaveformReference[],
  segments: Float32Array,
  format: SegmentFormat,
  options: SegmentAudioOptions = {},
): SpectralScores {
  const D = format.features.nMels * format.frames;
  if (segments.length !== references.length * D) throw new VaekitError(`${segments.length / D} segments for ${references.length} references`);
  const silence = options.silenceFrames ?? 4;
  const bins = format.features.nFft / 2 + 1;
  const lsd = new Float64Array(references.length);
  const sc = new Float64Array(references.length);
  references.forEach((r, i) => {
    const ref = stftMagnitudeFrames(r.samples, format.features, r.start, r.length);
    const audio = segmentToAudio(segments.subarray(i * D, (i + 1) * D), r.length, format, { ...options, silenceFrames: silence });
    const est = stftMagnitudeFrames(audio.samples, format.features, silence, r.length);
    lsd[i] = logSpectralDistance(ref, est, bins);
    sc[i] = spectralConvergence(ref, est);
  });
  return summarise(lsd, sc);
}

export interface SpeechModelScores extends SpeechEvalResult {
  /** Mel-domain reconstruction scores (posterior-mean reconstructions, real frames only). */
  mel: SpectralScores;
  /** The reconstructions (count × nMels·frames), for listening and further scoring. */
  reconstructions: Float32Array;
}

/** Negative ELBO per frame and mel-domain LSD/SC of reconstructions on a set (e.g. held-out voices). */
export async function scoreSpeechModel(model: SpeechModel, set: SegmentSet, seed = 0): Promise<SpeechModelScores> {
  const elbo = await makeSpeechEvaluator(buildVae(model.bundle.config))(model.bundle.params, set, seed);
  const reconstructions = await makeSpeechGenerator(model).reconstructAll(set.data);
  return { ...elbo, mel: melReconstructionScores(set, reconstructions, model.info.features), reconstructions };
}
