/**
 * The input-complexity estimate of Serrà et al. (2020): the length in bits of the input saved
 * losslessly by a general-purpose image compressor. Here PNG (deflate level 9, adaptive row
 * filters) through pngjs, of the 8-bit image the model scores, so it runs wherever encodePng does.
 */
import { createImage, type Channels } from "../../io/image.js";
import { encodePng } from "../../io/png.js";
import { VaekitError } from "../../errors.js";

/** Compressed length in bits of each n×(h·w·c) image in `x` (values in [0, 1], quantised to 8 bits). */
export function pngBits(x: Float32Array, shape: readonly [number, number, number]): Float64Array {
  const [h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new VaekitError(`complexity score: images need 1 or 3 channels, got ${c}`);
  const size = h * w * c;
  const n = x.length / size;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = encodePng(createImage(w, h, c as Channels, x.slice(i * size, (i + 1) * size))).length * 8;
  }
  return out;
}

/**
 * Compressed length in bits of binary images (values 0/1, e.g. binarised for a Bernoulli
 * likelihood), coded at one bit per pixel as a 1-bit PNG does: each row's h·w·c bits packed
 * into bytes, then PNG-compressed (row filters + deflate). Coding such images at 8 bits per
 * pixel would charge random binary noise ~2–3 bits per pixel, far above its true 1 bit.
 */
export function binaryPngBits(x: Float32Array, shape: readonly [number, number, number]): Float64Array {
  const [h, w, c] = shape;
  const rowBits = w * c;
  const rowBytes = Math.ceil(rowBits / 8);
  const size = h * rowBits;
  const n = x.length / size;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const packed = new Float32Array(h * rowBytes);
    for (let y = 0; y < h; y++) {
      for (let b = 0; b < rowBits; b++) {
        if (x[i * size + y * rowBits + b] >= 0.5) packed[y * rowBytes + (b >> 3)] += (128 >> (b & 7)) / 255;
      }
    }
    out[i] = encodePng(createImage(rowBytes, h, 1, packed)).length * 8;
  }
  return out;
}
