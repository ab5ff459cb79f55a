/**
 * Animated GIF encoding of frame sequences with gifenc (browser-safe; writing files is in render.ts).
 */
import gifenc from "gifenc";
import { VaekitError } from "../../errors.js";
import { asFrame, frameToRgba, sideBySide, type Frame, type FrameLike } from "./frames.js";

export interface GifOptions {
  /** Frames per second (GIF stores delays in 1/100 s, so rates above 50 are not honoured by viewers). */
  fps: number;
  /** Integer upscaling so 64×64 frames are visible. */
  scale: number;
  /** Optional second sequence of the same length drawn to the right of the first (e.g. reconstructions). */
  right?: FrameLike[];
}

export const defaultGifOptions: GifOptions = { fps: 15, scale: 3 };

/** Most frames sampled to build one shared palette for RGB sequences (a shared palette avoids flicker). */
const PALETTE_SAMPLE_FRAMES = 16;

function composeFrames(frames: FrameLike[], right: FrameLike[] | undefined): Frame[] {
  if (frames.length === 0) throw new VaekitError("GIF: no frames to encode");
  if (right !== undefined && right.length !== frames.length) {
    throw new VaekitError(`GIF: ${frames.length} left frames but ${right.length} right frames`);
  }
  const out = frames.map((f, i) => (right === undefined ? asFrame(f) : sideBySide(f, right[i])));
  const { width, height, channels } = out[0];
  out.forEach((f, i) => {
    if (f.width !== width || f.height !== height || f.channels !== channels) {
      throw new VaekitError(
        `GIF: frame ${i} is ${f.height}×${f.width}×${f.channels}, frame 0 is ${height}×${width}×${channels}`,
      );
    }
  });
  return out;
}

/** Encode a frame sequence as a looping GIF; returns the file bytes (they start with "GIF89a"). */
export function encodeGif(frames: FrameLike[], options: Partial<GifOptions> = {}): Uint8Array {
  const opts = { ...defaultGifOptions, ...options };
  if (!(opts.fps > 0)) throw new VaekitError(`GIF: fps must be > 0, got ${opts.fps}`);
  const composed = composeFrames(frames, opts.right);
  const rgba = composed.map((f) => frameToRgba(f, opts.scale));
  const width = composed[0].width * opts.scale;
  const height = composed[0].height * opts.scale;
  const gray = composed[0].channels === 1;
  let palette: number[][];
  if (gray) {
    palette = Array.from({ length: 256 }, (_, v) => [v, v, v]);
  } else {
    const step = Math.max(1, Math.floor(rgba.length / PALETTE_SAMPLE_FRAMES));
    const sample = rgba.filter((_, i) => i % step === 0);
    const joined = new Uint8Array(sample.reduce((n, s) => n + s.length, 0));
    let at = 0;
    for (const s of sample) {
      joined.set(s, at);
      at += s.length;
    }
    palette = gifenc.quantize(joined, 256);
  }
  const encoder = gifenc.GIFEncoder();
  const delay = Math.round(1000 / opts.fps);
  rgba.forEach((pixels, i) => {
    let index: Uint8Array;
    if (gray) {
      // Gray levels map straight onto the 256-entry gray palette.
      index = new Uint8Array(pixels.length / 4);
      for (let p = 0; p < index.length; p++) index[p] = pixels[4 * p];
    } else {
      index = gifenc.applyPalette(pixels, palette);
    }
    encoder.writeFrame(index, width, height, i === 0 ? { palette, delay, repeat: 0 } : { delay });
  });
  encoder.finish();
  return encoder.bytes();
}
