/** Node-side speech model IO: load a speech model, read a WAV as a segment, write WAV + spectrogram PNG. */
import { mkdirSync } from "node:fs";
import { dirname, extname } from "node:path";
import { VaekitError } from "../../errors.js";
import { writePng } from "../../io/files.js";
import { loadModel } from "../../models/files.js";
import { normalizePeak, type MonoAudio } from "./audio.js";
import type { LogMel } from "./features.js";
import { speechInfoOf, type SpeechModel } from "./model.js";
import { spectrogramImage } from "./spectrogram-image.js";
import { audioToSegment, type AudioSegment, type SegmentFormat } from "./synthesis.js";
import { readWavFileMono, writeWavFile } from "./wav-file.js";

export function loadSpeechModel(pathOrDir: string): SpeechModel {
  const bundle = loadModel(pathOrDir);
  return { bundle, info: speechInfoOf(bundle, pathOrDir) };
}

export { formatOf } from "./model.js";

/** A WAV file (any rate, any channel count) → the model's segment; errors name the file. */
export function readSpeechSegment(path: string, format: SegmentFormat): AudioSegment & { samples: Float32Array } {
  const audio = readWavFileMono(path, format.features.sampleRate);
  try {
    const seg = audioToSegment(audio.samples, format);
    return { ...seg, samples: normalizePeak(audio.samples, format.peak ?? 0.9) };
  } catch (e) {
    if (e instanceof VaekitError) throw new VaekitError(`${path}: ${e.message}`);
    throw e;
  }
}

/** The PNG path written beside a WAV: same name, .png extension. */
export function spectrogramPathFor(wavPath: string): string {
  const ext = extname(wavPath);
  return (ext ? wavPath.slice(0, -ext.length) : wavPath) + ".png";
}

/** Write audio as 16-bit WAV (peak 0.9) and its log-mel spectrogram as a PNG beside it; returns both paths. */
export function writeSpeechOutput(wavPath: string, audio: MonoAudio, logMel: LogMel, range?: { minDb: number; maxDb: number }): { wav: string; png: string } {
  mkdirSync(dirname(wavPath) || ".", { recursive: true });
  writeWavFile(wavPath, { sampleRate: audio.sampleRate, samples: normalizePeak(audio.samples, 0.9) });
  const png = spectrogramPathFor(wavPath);
  writePng(png, spectrogramImage(logMel, { scale: 3, ...range }));
  return { wav: wavPath, png };
}
