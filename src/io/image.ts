/**
 * Images as float arrays, and the operations a VAE pipeline needs on them: decode PNG/JPEG
 * bytes, convert grayscale <-> RGB, resize, crop, pad, stack into batches.
 *
 * No file-system access here (see files.ts for that), so the module also runs in a browser.
 * PNG decoding goes through pngjs, which wants Node's zlib and a Buffer input: a browser bundle
 * must alias `pngjs` to `pngjs/browser.js` and, to decode PNGs, provide `globalThis.Buffer`
 * (or decode with a canvas and call `imageFromRgba`). JPEG decoding and everything else here
 * works in a browser as is.
 */
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { VaekitError } from "../errors.js";

export type Channels = 1 | 3;

/** Pixels in [0, 1], row-major HWC: data[(y * width + x) * channels + c]. */
export interface Image {
  width: number;
  height: number;
  channels: Channels;
  data: Float32Array;
}

/** [height, width, channels], the order batches and model configs use. */
export type ImageShape = readonly [height: number, width: number, channels: Channels];

export function createImage(width: number, height: number, channels: Channels, data?: Float32Array): Image {
  const image = { width, height, channels, data: data ?? new Float32Array(width * height * channels) };
  assertImage(image);
  return image;
}

/** Throws a VaekitError unless `image` is internally consistent. */
export function assertImage(image: Image, what = "image"): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new VaekitError(`${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new VaekitError(`${what}: channels must be 1 or 3, got ${channels}`);
  if (data.length !== width * height * channels) {
    throw new VaekitError(`${what}: data has ${data.length} values, expected ${width}x${height}x${channels} = ${width * height * channels}`);
  }
}

export function imageShape(image: Image): ImageShape {
  return [image.height, image.width, image.channels];
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DecodeOptions {
  /** Value in [0, 1] that transparent pixels are composited over (default 1: white, as viewers show them). */
  background?: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

const ascii = (s: string) => [...s].map((ch) => ch.charCodeAt(0));

/** Names formats we recognise but do not decode, so the error can say what the file is. */
function unsupportedFormatName(bytes: Uint8Array): string | undefined {
  if (startsWith(bytes, ascii("GIF8"))) return "GIF";
  if (startsWith(bytes, ascii("BM"))) return "BMP";
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return "WebP";
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return "TIFF";
  return undefined;
}

/** Decode PNG or JPEG bytes (recognised by content, not name); `name` goes into error messages. */
export function decodeImage(bytes: Uint8Array, name = "image", options: DecodeOptions = {}): Image {
  if (startsWith(bytes, PNG_SIGNATURE)) return decodePng(bytes, name, options);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return decodeJpeg(bytes, name);
  const other = unsupportedFormatName(bytes);
  if (other) throw new VaekitError(`${name}: ${other} images are not supported (use PNG or JPEG)`);
  throw new VaekitError(`${name}: not a PNG or JPEG image`);
}

/** A Node Buffer over the same memory (pngjs calls Buffer methods on its input). */
function asNodeBuffer(bytes: Uint8Array): Buffer {
  const B = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (!B) throw new VaekitError("PNG decoding needs globalThis.Buffer (Node, or a bundle that provides it)");
  return B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Grayscale PNGs (colour types 0 and 4) give 1 channel, all others 3; alpha is composited away. */
export function decodePng(bytes: Uint8Array, name = "image.png", options: DecodeOptions = {}): Image {
  let png;
  try {
    png = PNG.sync.read(asNodeBuffer(bytes));
  } catch (e) {
    if (e instanceof VaekitError) throw e;
    throw new VaekitError(`${name}: corrupt PNG (${(e as Error).message})`);
  }
  // pngjs normalises every colour type and bit depth to 8-bit RGBA.
  return imageFromRgba(png.data, png.width, png.height, png.color ? 3 : 1, options.background ?? 1);
}

/**
 * Number of colour components in a JPEG's frame header, or undefined if none is found.
 * jpeg-js always hands back RGB, so this is how a grayscale JPEG stays 1-channel.
 */
export function jpegComponentCount(bytes: Uint8Array): number | undefined {
  let i = 2; // after SOI
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return bytes[i + 9]; // FF Cx, length(2), precision(1), height(2), width(2), components(1)
    }
    if (marker === 0xda) return undefined; // scan data before any frame header
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2; // markers without a length field
      continue;
    }
    i += 2 + ((bytes[i + 2] << 8) | bytes[i + 3]);
  }
  return undefined;
}

export function decodeJpeg(bytes: Uint8Array, name = "image.jpg"): Image {
  let decoded;
  try {
    decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false });
  } catch (e) {
    throw new VaekitError(`${name}: corrupt or unsupported JPEG (${(e as Error).message})`);
  }
  const { width, height, data } = decoded;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new VaekitError(`${name}: corrupt JPEG (no image data)`);
  }
  const rgb = createImage(width, height, 3);
  for (let i = 0; i < data.length; i++) rgb.data[i] = data[i] / 255;
  return jpegComponentCount(bytes) === 1 ? toGray(rgb) : rgb;
}

/**
 * Build an Image from 8-bit RGBA (a canvas ImageData, or a decoder's output), compositing alpha
 * over `background`. With channels 1 the red channel is taken, so pass gray-in-RGBA data.
 */
export function imageFromRgba(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  channels: Channels,
  background = 1,
): Image {
  const image = createImage(width, height, channels);
  if (rgba.length !== width * height * 4) {
    throw new VaekitError(`RGBA data has ${rgba.length} bytes, expected ${width}x${height}x4`);
  }
  const out = image.data;
  for (let p = 0; p < width * height; p++) {
    const alpha = rgba[p * 4 + 3] / 255;
    const keep = 1 - alpha;
    for (let c = 0; c < channels; c++) out[p * channels + c] = (rgba[p * 4 + c] / 255) * alpha + background * keep;
  }
  return image;
}

/** 8-bit RGBA with opaque alpha, e.g. for a canvas putImageData; values are clamped to [0, 1]. */
export function imageToRgba(image: Image): Uint8ClampedArray {
  const { width, height, channels, data } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = toByte(data[p * channels + (channels === 3 ? c : 0)]);
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}

/** [0, 1] -> 0..255 with rounding; out-of-range values clamp, NaN becomes 0. */
export function toByte(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return Math.round(v * 255);
}

// ---------------------------------------------------------------------------------------------
// Channels

/** Rec. 601 luma, the usual weights for RGB -> gray. Returns the input if already gray. */
export function toGray(image: Image): Image {
  if (image.channels === 1) return image;
  const out = createImage(image.width, image.height, 1);
  const src = image.data;
  for (let p = 0; p < out.data.length; p++) {
    out.data[p] = 0.299 * src[p * 3] + 0.587 * src[p * 3 + 1] + 0.114 * src[p * 3 + 2];
  }
  return out;
}

/** Gray replicated into R, G and B. Returns the input if already RGB. */
export function toRgb(image: Image): Image {
  if (image.channels === 3) return image;
  const out = createImage(image.width, image.height, 3);
  for (let p = 0; p < image.data.length; p++) {
    const v = image.data[p];
    out.data[p * 3] = v;
    out.data[p * 3 + 1] = v;
    out.data[p * 3 + 2] = v;
  }
  return out;
}

export function withChannels(image: Image, channels: Channels): Image {
  return channels === 1 ? toGray(image) : toRgb(image);
}

// ---------------------------------------------------------------------------------------------
// Geometry

/** Per output index along one axis: the source indices it reads and their weights (summing to 1). */
interface AxisTaps {
  index: Int32Array[];
  weight: Float32Array[];
}

/**
 * Weights for resampling one axis from n to m pixels. Shrinking averages the exact area each
 * output pixel covers (no aliasing, constant-preserving); growing (and m == n) interpolates
 * linearly between pixel centres, clamped at the edges.
 */
function axisTaps(n: number, m: number): AxisTaps {
  const index: Int32Array[] = [];
  const weight: Float32Array[] = [];
  if (m < n) {
    const span = n / m;
    for (let i = 0; i < m; i++) {
      const lo = i * span;
      const hi = (i + 1) * span;
      const first = Math.floor(lo);
      const last = Math.min(n - 1, Math.ceil(hi) - 1);
      const idx: number[] = [];
      const w: number[] = [];
      for (let j = first; j <= last; j++) {
        const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
        if (overlap > 1e-12) {
          idx.push(j);
          w.push(overlap / span);
        }
      }
      index.push(Int32Array.from(idx));
      weight.push(Float32Array.from(w));
    }
  } else {
    for (let i = 0; i < m; i++) {
      const s = Math.min(n - 1, Math.max(0, ((i + 0.5) * n) / m - 0.5));
      const j0 = Math.floor(s);
      const j1 = Math.min(n - 1, j0 + 1);
      const f = s - j0;
      index.push(Int32Array.of(j0, j1));
      weight.push(Float32Array.of(1 - f, f));
    }
  }
  return { index, weight };
}

/** Resize to height x width: area averaging where an axis shrinks, bilinear where it grows. */
export function resize(image: Image, height: number, width: number): Image {
  assertImage(image);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new VaekitError(`resize: target size must be positive integers, got ${height}x${width}`);
  }
  if (height === image.height && width === image.width) return image;
  const c = image.channels;
  const cols = axisTaps(image.width, width);
  const rows = axisTaps(image.height, height);
  // Horizontal pass: [H, W, c] -> [H, width, c].
  const mid = new Float32Array(image.height * width * c);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      const idx = cols.index[x];
      const w = cols.weight[x];
      for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        for (let k = 0; k < idx.length; k++) sum += w[k] * image.data[(y * image.width + idx[k]) * c + ch];
        mid[(y * width + x) * c + ch] = sum;
      }
    }
  }
  // Vertical pass: [H, width, c] -> [height, width, c].
  const out = createImage(width, height, c);
  const rowLen = width * c;
  for (let y = 0; y < height; y++) {
    const idx = rows.index[y];
    const w = rows.weight[y];
    for (let i = 0; i < rowLen; i++) {
      let sum = 0;
      for (let k = 0; k < idx.length; k++) sum += w[k] * mid[idx[k] * rowLen + i];
      out.data[y * rowLen + i] = sum;
    }
  }
  return out;
}

/** Copy of the rectangle starting at (top, left). */
export function crop(image: Image, top: number, left: number, height: number, width: number): Image {
  if (top < 0 || left < 0 || top + height > image.height || left + width > image.width) {
    throw new VaekitError(
      `crop: ${height}x${width} at (${top}, ${left}) does not fit in a ${image.height}x${image.width} image`,
    );
  }
  const c = image.channels;
  const out = createImage(width, height, c);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * c;
    out.data.set(image.data.subarray(from, from + width * c), y * width * c);
  }
  return out;
}

/** The central height x width part (the extra pixel goes to the bottom/right when odd). */
export function centerCrop(image: Image, height: number, width: number): Image {
  return crop(image, Math.floor((image.height - height) / 2), Math.floor((image.width - width) / 2), height, width);
}

/** The image centred on a height x width canvas filled with `value`. */
export function padTo(image: Image, height: number, width: number, value = 0): Image {
  if (height < image.height || width < image.width) {
    throw new VaekitError(`pad: cannot pad a ${image.height}x${image.width} image to a smaller ${height}x${width}`);
  }
  const c = image.channels;
  const out = createImage(width, height, c);
  out.data.fill(value);
  const top = Math.floor((height - image.height) / 2);
  const left = Math.floor((width - image.width) / 2);
  for (let y = 0; y < image.height; y++) {
    const row = image.data.subarray(y * image.width * c, (y + 1) * image.width * c);
    out.data.set(row, ((top + y) * width + left) * c);
  }
  return out;
}

/**
 * How fitTo reaches the target size:
 * - "resize": stretch to exactly height x width (aspect ratio may change);
 * - "crop": scale to cover the target keeping the aspect ratio, then centre-crop;
 * - "pad": scale to fit inside the target keeping the aspect ratio, then centre on `padValue`.
 */
export type FitMode = "resize" | "crop" | "pad";

export interface FitOptions {
  mode?: FitMode;
  /** Fill value for "pad" (default 0). */
  padValue?: number;
}

/** Bring any image to shape [height, width, channels]. */
export function fitTo(image: Image, shape: ImageShape, options: FitOptions = {}): Image {
  const [height, width, channels] = shape;
  const mode = options.mode ?? "resize";
  let out: Image;
  if (mode === "resize") {
    out = resize(image, height, width);
  } else if (mode === "crop") {
    const scale = Math.max(height / image.height, width / image.width);
    const h = Math.max(height, Math.round(image.height * scale));
    const w = Math.max(width, Math.round(image.width * scale));
    out = centerCrop(resize(image, h, w), height, width);
  } else if (mode === "pad") {
    const scale = Math.min(height / image.height, width / image.width);
    const h = Math.min(height, Math.max(1, Math.round(image.height * scale)));
    const w = Math.min(width, Math.max(1, Math.round(image.width * scale)));
    out = padTo(resize(image, h, w), height, width, options.padValue ?? 0);
  } else {
    throw new VaekitError(`fitTo: unknown mode "${mode as string}" (use resize, crop or pad)`);
  }
  return withChannels(out, channels);
}

// ---------------------------------------------------------------------------------------------
// Batches

/** Images of one shape, concatenated into a [n, h, w, c] batch. */
export function stackImages(images: readonly Image[]): { data: Float32Array; shape: [number, number, number, Channels] } {
  if (images.length === 0) throw new VaekitError("stackImages: no images");
  const [h, w, c] = imageShape(images[0]);
  const size = h * w * c;
  const data = new Float32Array(images.length * size);
  images.forEach((image, i) => {
    if (image.height !== h || image.width !== w || image.channels !== c) {
      throw new VaekitError(
        `stackImages: image ${i} is ${image.height}x${image.width}x${image.channels}, expected ${h}x${w}x${c}`,
      );
    }
    data.set(image.data, i * size);
  });
  return { data, shape: [images.length, h, w, c] };
}

/**
 * Split a batch of shape [n, h, w, c] (or [n, h, w] for gray) into Images. The images are views
 * that share the batch's memory.
 */
export function unstackImages(batch: Float32Array, shape: readonly number[]): Image[] {
  const [n, h, w, c = 1] = shape;
  if ((shape.length !== 3 && shape.length !== 4) || (c !== 1 && c !== 3)) {
    throw new VaekitError(`image batch shape must be [n, h, w] or [n, h, w, 1|3], got [${shape.join(", ")}]`);
  }
  const size = h * w * c;
  if (batch.length !== n * size) {
    throw new VaekitError(`image batch has ${batch.length} values, shape [${shape.join(", ")}] needs ${n * size}`);
  }
  return Array.from({ length: n }, (_, i) => createImage(w, h, c, batch.subarray(i * size, (i + 1) * size)));
}
