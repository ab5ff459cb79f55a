/** Node-only WAV file IO on top of the byte-level codec in wav.ts. */
import { readFileSync } from "node:fs";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import type { MonoAudio } from "./audio.js";
import { decodeWav, decodeWavMono, encodeWav16, type DecodedWav } from "./wav.js";

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VaekitError(code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read (${code ?? err})`);
  }
}

/** Read a WAV file with all its channels. */
export function readWavFile(path: string): DecodedWav {
  return decodeWav(readBytes(path), path);
}

/** Read a WAV file as mono (channels averaged), resampled to `targetRate` if given. */
export function readWavFileMono(path: string, targetRate?: number): MonoAudio {
  return decodeWavMono(readBytes(path), path, targetRate);
}

/** Write mono audio (or several equal-length channels) as a 16-bit PCM WAV file, atomically. */
export function writeWavFile(path: string, audio: MonoAudio | { sampleRate: number; channels: Float32Array[] }): void {
  const channels = "samples" in audio ? [audio.samples] : audio.channels;
  writeFileAtomic(path, encodeWav16(channels, audio.sampleRate));
}
