/**
 * Speech dataset loading: manifest + WAVs → fixed-size log-mel segments, and a seeded split
 * that holds out whole voices (so evaluation measures generalisation to unseen speakers,
 * not memorised ones). Node-only (reads files); the split itself is pure.
 */
import { dirname, join } from "node:path";
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { normalizePeak } from "./audio.js";
import { readSpeechManifest, type SpeechManifestEntry } from "./espeak.js";
import { DEFAULT_SPEECH_FEATURES, fixedLengthSegment, logMelSpectrogram, type SpeechFeatureConfig } from "./features.js";
import { readWavFileMono } from "./wav-file.js";

export interface SpeechLoadOptions {
  features?: SpeechFeatureConfig;
  /** Segment width in frames (default 64: 64 × 8 ms hops ≈ 0.5 s). */
  frames?: number;
  /** Silence trimming threshold below the loudest frame, dB (default 40). */
  trimDb?: number;
  /** Peak level each utterance is scaled to before analysis, so voices are equally loud (default 0.9). */
  peak?: number;
}

export interface SpeechSegments {
  features: SpeechFeatureConfig;
  nMels: number;
  frames: number;
  count: number;
  /** count × nMels × frames, values in [0, 1], each segment mel-major (see Segment in features.ts). */
  data: Float32Array;
  /** count × frames, 1 where the frame is real audio. */
  mask: Float32Array;
  entries: SpeechManifestEntry[];
  /** Sorted distinct words; labels[i] indexes into it. */
  words: string[];
  labels: Int32Array;
  /** How many utterances were longer than `frames` after trimming and were centre-cropped. */
  croppedCount: number;
}

/** Load every utterance listed in a manifest as a fixed-size log-mel segment. */
export function loadSpeechSegments(manifestPath: string, options: SpeechLoadOptions = {}): SpeechSegments {
  const features = options.features ?? DEFAULT_SPEECH_FEATURES;
  const frames = options.frames ?? 64;
  const manifest = readSpeechManifest(manifestPath);
  const root = dirname(manifestPath);
  const { entries } = manifest;
  if (entries.length === 0) throw new VaekitError(`${manifestPath}: manifest lists no utterances`);
  const nMels = features.nMels;
  const size = nMels * frames;
  const data = new Float32Array(entries.length * size);
  const mask = new Float32Array(entries.length * frames);
  const words = [...new Set(entries.map((e) => e.word))].sort();
  const labels = Int32Array.from(entries, (e) => words.indexOf(e.word));
  let croppedCount = 0;
  entries.forEach((entry, i) => {
    const audio = readWavFileMono(join(root, entry.file), features.sampleRate);
    if (audio.samples.length === 0) throw new VaekitError(`${join(root, entry.file)}: no audio samples`);
    const logMel = logMelSpectrogram(normalizePeak(audio.samples, options.peak ?? 0.9), features);
    const seg = fixedLengthSegment(logMel, features, { frames, trimDb: options.trimDb });
    data.set(seg.data, i * size);
    mask.set(seg.mask, i * frames);
    if (seg.cropped) croppedCount++;
  });
  return { features, nMels, frames, count: entries.length, data, mask, entries, words, labels, croppedCount };
}

export interface VoiceSplitOptions {
  /** Voices to hold out; if absent, `testVoiceCount` voices are drawn with `seed`. */
  testVoices?: string[];
  /** Default: a quarter of the voices, at least 1. */
  testVoiceCount?: number;
  seed?: number;
}

export interface VoiceSplit {
  train: Int32Array;
  test: Int32Array;
  trainVoices: string[];
  testVoices: string[];
}

/** Split utterance indices so that no voice appears in both parts. Indices keep manifest order. */
export function splitByVoice(entries: readonly { voice: string }[], options: VoiceSplitOptions = {}): VoiceSplit {
  const voices = [...new Set(entries.map((e) => e.voice))].sort();
  if (voices.length < 2) throw new VaekitError(`split by voice: need at least 2 voices, the data has ${voices.length}`);
  let testVoices: string[];
  if (options.testVoices) {
    const unknown = options.testVoices.filter((v) => !voices.includes(v));
    if (unknown.length > 0) throw new VaekitError(`split by voice: unknown voice(s) ${unknown.join(", ")}; the data has ${voices.join(", ")}`);
    testVoices = [...new Set(options.testVoices)].sort();
  } else {
    const count = options.testVoiceCount ?? Math.max(1, Math.round(voices.length / 4));
    if (!Number.isInteger(count) || count < 1) throw new VaekitError(`split by voice: test voice count must be a positive integer, got ${count}`);
    const order = new Rng(options.seed ?? 0).permutation(voices.length);
    testVoices = Array.from(order.subarray(0, count), (i) => voices[i]).sort();
  }
  if (testVoices.length >= voices.length) throw new VaekitError(`split by voice: holding out ${testVoices.length} of ${voices.length} voices leaves none for training`);
  const held = new Set(testVoices);
  const train: number[] = [];
  const test: number[] = [];
  entries.forEach((e, i) => (held.has(e.voice) ? test : train).push(i));
  return {
    train: Int32Array.from(train),
    test: Int32Array.from(test),
    trainVoices: voices.filter((v) => !held.has(v)),
    testVoices,
  };
}
