/**
 * Clips for a speech view (browser-safe): WAV bytes → the model's segment, and a segment → its
 * spectrogram picture on the model's fixed dB scale. The Node counterparts read and write files
 * (readSpeechSegment, writeSpeechOutput in files.ts); these take and give bytes and images only.
 */
import { VaekitError } from "../../errors.js";
import type { Image } from "../../io/image.js";
import { spectrogramImage } from "./spectrogram-image.js";
import { audioToSegment, segmentContentLogMel, type AudioSegment, type SegmentFormat } from "./synthesis.js";
import { decodeWavMono } from "./wav.js";

/** WAV bytes (any rate, any channel count) → the model's segment; errors name the clip. */
export function segmentFromWavBytes(bytes: Uint8Array, format: SegmentFormat, name = "<wav bytes>"): AudioSegment {
  const audio = decodeWavMono(bytes, name, format.features.sampleRate);
  try {
    return audioToSegment(audio.samples, format);
  } catch (e) {
    if (e instanceof VaekitError) throw new VaekitError(`${name}: ${e.message}`);
    throw e;
  }
}

/**
 * The first `length` frames of a segment as a spectrogram picture (time left to right, low
 * bands at the bottom), with the `silenceFrames` the vocoder adds either side so the picture
 * lines up with the sound. Colours use the model's dB range, so pictures compare across clips.
 */
export function segmentSpectrogram(data: Float32Array, length: number, format: SegmentFormat, scale = 2, silenceFrames = 4): Image {
  const logMel = segmentContentLogMel(data, length, format, silenceFrames);
  return spectrogramImage(logMel, { minDb: format.features.minDb, maxDb: format.features.maxDb, scale });
}
