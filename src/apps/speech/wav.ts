/**
 * WAV decoding and 16-bit PCM encoding on byte arrays (browser-safe; file IO is in wav-file.ts).
 *
 * The `wavefile` library walks the RIFF chunks and writes files; sample bytes are decoded here
 * with a DataView because the library silently accepts truncated data chunks and mislabels
 * WAVE_FORMAT_EXTENSIBLE float data, and both must be caught for honest error messages.
 *
 * Reading supports integer PCM (8, 16, 24, 32 bit) and IEEE float (32, 64 bit), plain or
 * WAVE_FORMAT_EXTENSIBLE, any channel count; compressed formats (ADPCM, A-law, µ-law) are refused.
 * Writing is always mono or multi-channel 16-bit PCM.
 */
import * as wavefileModule from "wavefile";
import { VaekitError } from "../../errors.js";
import { downmixToMono, resample, type MonoAudio } from "./audio.js";

// Node loads the CommonJS build (WaveFile only on the default export); bundlers that follow the
// package's "module" field load an ES module with a named export and no default. Accept both.
type WaveFileConstructor = typeof wavefileModule.WaveFile;
type WaveFileInstance = InstanceType<WaveFileConstructor>;
/** The wavefile library's WaveFile class, however the package was loaded. */
export const WaveFileClass: WaveFileConstructor = (() => {
  const ns = wavefileModule as unknown as Record<string, { WaveFile?: WaveFileConstructor } | WaveFileConstructor | undefined>;
  return (ns.WaveFile ?? (ns.default as { WaveFile: WaveFileConstructor }).WaveFile) as WaveFileConstructor;
})();

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
const FORMAT_NAMES: Record<number, string> = { 2: "MS ADPCM", 6: "A-law", 7: "µ-law", 17: "IMA ADPCM" };

/** A decoded WAV file: one Float32Array per channel, samples scaled to [-1, 1]. */
export interface DecodedWav {
  sampleRate: number;
  channels: Float32Array[];
  /** e.g. "16-bit PCM" or "32-bit float": what the file held. */
  encoding: string;
}

interface FmtChunk {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  subformat: number[];
}

interface DataChunk {
  chunkSize: number;
  samples: Uint8Array;
}

/** Decode a WAV byte array. `name` (usually the file path) is used in error messages. */
export function decodeWav(bytes: Uint8Array, name = "<wav bytes>"): DecodedWav {
  const fail = (why: string): never => {
    throw new VaekitError(`${name}: ${why}`);
  };
  if (bytes.length < 12) fail(`not a WAV file (only ${bytes.length} bytes)`);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  const wave = String.fromCharCode(...bytes.subarray(8, 12));
  if (magic === "RIFX") fail("big-endian RIFX WAV files are not supported");
  if ((magic !== "RIFF" && magic !== "RF64") || wave !== "WAVE") {
    fail("not a WAV file (missing RIFF/WAVE header)");
  }

  const wav: WaveFileInstance = new WaveFileClass();
  try {
    wav.fromBuffer(bytes, true);
  } catch (err) {
    fail(`malformed WAV (${(err as Error).message.replace(/\.$/, "")})`);
  }
  const fmt = wav.fmt as FmtChunk;
  const data = wav.data as DataChunk;

  let format = fmt.audioFormat;
  if (format === FORMAT_EXTENSIBLE) format = fmt.subformat[0] ?? 0; // first GUID word = format tag
  const bits = fmt.bitsPerSample;
  const channelCount = fmt.numChannels;
  let encoding: string;
  if (format === FORMAT_PCM && [8, 16, 24, 32].includes(bits)) encoding = `${bits}-bit PCM`;
  else if (format === FORMAT_FLOAT && (bits === 32 || bits === 64)) encoding = `${bits}-bit float`;
  else {
    const what = FORMAT_NAMES[format] ?? `format tag ${format}`;
    return fail(
      `unsupported WAV encoding (${what}, ${bits} bits per sample); ` +
        "supported: 8/16/24/32-bit integer PCM and 32/64-bit float",
    );
  }
  if (channelCount < 1) fail("WAV header declares 0 channels");
  if (!(fmt.sampleRate > 0)) fail(`WAV header declares sample rate ${fmt.sampleRate}`);
  const bytesPerSample = bits / 8;
  const frameBytes = bytesPerSample * channelCount;
  if (fmt.blockAlign !== frameBytes) {
    fail(`inconsistent WAV header (block align ${fmt.blockAlign}, expected ${frameBytes})`);
  }
  if (data.samples.length < data.chunkSize) {
    fail(`truncated WAV data (header promises ${data.chunkSize} bytes, file has ${data.samples.length})`);
  }

  // A trailing partial frame (odd writers) is ignored rather than read out of bounds.
  const frameCount = Math.floor(data.chunkSize / frameBytes);
  const view = new DataView(data.samples.buffer, data.samples.byteOffset, frameCount * frameBytes);
  const channels = Array.from({ length: channelCount }, () => new Float32Array(frameCount));
  const read = sampleReader(view, format, bits);
  for (let f = 0; f < frameCount; f++) {
    for (let c = 0; c < channelCount; c++) {
      channels[c][f] = read((f * channelCount + c) * bytesPerSample);
    }
  }
  return { sampleRate: fmt.sampleRate, channels, encoding };
}

/** Little-endian sample decoder scaled to [-1, 1]: x / 2^(bits-1) for integers (8-bit is unsigned). */
function sampleReader(view: DataView, format: number, bits: number): (offset: number) => number {
  if (format === FORMAT_FLOAT) {
    return bits === 32 ? (o) => view.getFloat32(o, true) : (o) => view.getFloat64(o, true);
  }
  switch (bits) {
    case 8:
      return (o) => (view.getUint8(o) - 128) / 128;
    case 16:
      return (o) => view.getInt16(o, true) / 32768;
    case 24:
      return (o) => {
        const v = view.getUint8(o) | (view.getUint8(o + 1) << 8) | (view.getInt8(o + 2) << 16);
        return v / 8388608;
      };
    default:
      return (o) => view.getInt32(o, true) / 2147483648;
  }
}

/** Decode to mono (channel average) and, when `targetRate` is given, resample to it. */
export function decodeWavMono(bytes: Uint8Array, name = "<wav bytes>", targetRate?: number): MonoAudio {
  const wav = decodeWav(bytes, name);
  let samples = downmixToMono(wav.channels);
  let sampleRate = wav.sampleRate;
  if (targetRate !== undefined && targetRate !== sampleRate) {
    samples = resample(samples, sampleRate, targetRate);
    sampleRate = targetRate;
  }
  return { sampleRate, samples };
}

/** Float sample → 16-bit integer: clip to [-1, 1), round to nearest (the inverse of x/32768). */
export function floatToInt16(x: number): number {
  if (Number.isNaN(x)) throw new VaekitError("cannot encode NaN audio samples as WAV");
  return Math.max(-32768, Math.min(32767, Math.round(x * 32768)));
}

/** Encode one or more equal-length channels as a 16-bit PCM WAV file. */
export function encodeWav16(channels: Float32Array | readonly Float32Array[], sampleRate: number): Uint8Array {
  const list = channels instanceof Float32Array ? [channels] : channels;
  if (list.length === 0) throw new VaekitError("cannot encode a WAV file with no channels");
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new VaekitError(`WAV sample rate must be a positive integer, got ${sampleRate}`);
  }
  const ints = list.map((ch) => Int16Array.from(ch, floatToInt16));
  const wav: WaveFileInstance = new WaveFileClass();
  wav.fromScratch(ints.length, sampleRate, "16", ints.length === 1 ? ints[0] : ints);
  return wav.toBuffer();
}

/** Encode mono audio as 16-bit PCM WAV. */
export function encodeMonoWav16(audio: MonoAudio): Uint8Array {
  return encodeWav16(audio.samples, audio.sampleRate);
}
