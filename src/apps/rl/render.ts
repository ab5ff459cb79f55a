/**
 * Writing frames to PNG and GIF files (Node-only: uses the file system and pngjs).
 */
import { PNG } from "pngjs";
import { writeFileAtomic } from "../../io/atomic.js";
import { asFrame, frameToRgba, type FrameLike } from "./frames.js";
import { encodeGif } from "./gif.js";

/** PNG bytes of one frame (RGBA, upscaled by an integer `scale`). */
export function encodePng(frame: FrameLike, scale = 1): Uint8Array {
  const f = asFrame(frame);
  const png = new PNG({ width: f.width * scale, height: f.height * scale });
  png.data = Buffer.from(frameToRgba(f, scale));
  return new Uint8Array(PNG.sync.write(png));
}

export function writeFramePng(frame: FrameLike, path: string, scale = 1): void {
  writeFileAtomic(path, encodePng(frame, scale));
}

/**
 * Write a looping GIF of a frame sequence. With `right`, each frame is shown next to the matching
 * right-hand frame (agent view + VAE reconstruction).
 */
export function renderGif(
  frames: FrameLike[],
  path: string,
  fps = 15,
  extra: { scale?: number; right?: FrameLike[] } = {},
): void {
  writeFileAtomic(path, encodeGif(frames, { fps, ...extra }));
}
