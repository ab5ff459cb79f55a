/**
 * Pictures of log-mel spectrograms: time runs left to right, frequency bottom to top
 * (image row 0 is the highest band). Browser-safe apart from what src/io/png.ts imports;
 * write the result with writePng (src/io/files.ts) or encodePng (src/io/png.ts).
 */
import { VaekitError } from "../../errors.js";
import { createImage, type Image } from "../../io/image.js";
import { heatColor } from "../../io/png.js";
import type { LogMel } from "./features.js";

export interface SpectrogramImageOptions {
  /** dB drawn darkest (default: the spectrogram's max − 80). */
  minDb?: number;
  /** dB drawn brightest (default: the spectrogram's max). */
  maxDb?: number;
  /** "heat" (RGB, default) or "gray" (1 channel). */
  colormap?: "heat" | "gray";
  /** Integer magnification, nearest neighbour (default 1). */
  scale?: number;
}

export function spectrogramImage(logMel: LogMel, options: SpectrogramImageOptions = {}): Image {
  const { frames, nMels, db } = logMel;
  if (db.length !== frames * nMels || frames < 1 || nMels < 1) {
    throw new VaekitError(`spectrogram image: ${db.length} values for ${nMels} bands × ${frames} frames`);
  }
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new VaekitError(`spectrogram image: scale must be a positive integer, got ${scale}`);
  let peak = -Infinity;
  for (let i = 0; i < db.length; i++) if (Number.isFinite(db[i])) peak = Math.max(peak, db[i]);
  const maxDb = options.maxDb ?? peak;
  const minDb = options.minDb ?? maxDb - 80;
  if (!(maxDb > minDb)) throw new VaekitError(`spectrogram image: need maxDb > minDb, got ${minDb}..${maxDb}`);
  const gray = options.colormap === "gray";
  const channels = gray ? 1 : 3;
  const image = createImage(frames * scale, nMels * scale, channels);
  for (let y = 0; y < nMels * scale; y++) {
    const band = nMels - 1 - Math.floor(y / scale);
    for (let x = 0; x < frames * scale; x++) {
      const v = db[Math.floor(x / scale) * nMels + band];
      const t = Number.isFinite(v) ? Math.min(1, Math.max(0, (v - minDb) / (maxDb - minDb))) : 0;
      const p = (y * frames * scale + x) * channels;
      if (gray) image.data[p] = t;
      else image.data.set(heatColor(t), p);
    }
  }
  return image;
}
