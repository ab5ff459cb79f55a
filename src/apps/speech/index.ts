/**
 * The speech application, browser-safe part (Node file access lives in files.ts, wav-file.ts,
 * dataset.ts, espeak.ts and run.ts; none of those is exported here).
 *
 * For a browser view: fetch a model file's bytes, `decodeSpeechModel(bytes)`, turn WAV bytes into
 * segments with `segmentFromWavBytes(bytes, formatOf(model.info))`, then
 * `makeSpeechGenerator(model)` reconstructs, morphs and samples; `segmentToWavBytes` gives
 * playable bytes and `segmentSpectrogram` a picture of each result.
 */
export { type MonoAudio, downmixToMono, resample, normalizePeak } from "./audio.js";
export { DEFAULT_SPEECH_FEATURES, type SpeechFeatureConfig, type LogMel, logMelSpectrogram, logMelToAudio } from "./features.js";
export { decodeWav, decodeWavMono, encodeWav16, encodeMonoWav16, type DecodedWav } from "./wav.js";
export {
  audioToSegment,
  maskLength,
  segmentContentLogMel,
  segmentToAudio,
  segmentToWavBytes,
  type AudioSegment,
  type SegmentAudioOptions,
  type SegmentFormat,
} from "./synthesis.js";
export { spectrogramImage, type SpectrogramImageOptions } from "./spectrogram-image.js";
export { segmentFromWavBytes, segmentSpectrogram } from "./clip.js";
export { decodeSpeechModel, formatOf, speechInfoOf, predictLength, type SpeechModel, type SpeechModelInfo } from "./model.js";
export { makeSpeechGenerator, type GeneratedSegment, type SpeechGenerator } from "./generate.js";
export { melReconstructionScores, scoreSpeechModel, type SpectralScores } from "./evaluate.js";
