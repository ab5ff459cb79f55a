/**
 * Images out: PNG encoding, sample/reconstruction grids and heat maps. No file-system access
 * (writePng lives in files.ts); encodePng needs pngjs (in a browser bundle, alias `pngjs` to
 * `pngjs/browser.js`); the grid and heat-map code needs nothing.
 */
import { PNG } from "pngjs";
import { VaekitError } from "../errors.js";
import { assertImage, createImage, type Image, toByte, toRgb, unstackImages } from "./image.js";

/** 8-bit PNG bytes: grayscale (colour type 0) for 1 channel, RGB (type 2) for 3. Values clamp to [0, 1]. */
export function encodePng(image: Image): Uint8Array {
  assertImage(image);
  const bytes = new Uint8Array(image.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = toByte(image.data[i]);
  const colorType = image.channels === 1 ? 0 : 2;
  // pngjs only indexes the pixel data when no conversion is needed, so a plain Uint8Array will do
  // (and encoding then works in a browser bundle too, with pngjs aliased to pngjs/browser.js).
  const png = { width: image.width, height: image.height, data: bytes as unknown as Buffer } as PNG;
  const out = PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export interface GridOptions {
  /** Images per row (default: ceil(sqrt(n)), a near-square grid). */
  cols?: number;
  /** Separator width in output pixels, also around the border (default 2). */
  pad?: number;
  /** Integer nearest-neighbour magnification of each image (default 1). */
  scale?: number;
  /** Separator and empty-cell value (default 0.85, a light gray). */
  padValue?: number;
}

/**
 * Tile images of one size into a grid, row by row. Output size:
 * width = cols * w * scale + (cols + 1) * pad, height = rows * h * scale + (rows + 1) * pad.
 * If any image is RGB the grid is RGB. Also takes a batch with shape [n, h, w] or [n, h, w, c].
 */
export function imageGrid(images: readonly Image[], options?: GridOptions): Image;
export function imageGrid(batch: Float32Array, shape: readonly number[], options?: GridOptions): Image;
export function imageGrid(
  first: readonly Image[] | Float32Array,
  second?: readonly number[] | GridOptions,
  third?: GridOptions,
): Image {
  const images = first instanceof Float32Array ? unstackImages(first, second as readonly number[]) : first;
  const options = (first instanceof Float32Array ? third : (second as GridOptions | undefined)) ?? {};
  if (images.length === 0) throw new VaekitError("imageGrid: no images");
  const { height: h, width: w } = images[0];
  images.forEach((image, i) => {
    assertImage(image, `imageGrid: image ${i}`);
    if (image.height !== h || image.width !== w) {
      throw new VaekitError(`imageGrid: image ${i} is ${image.height}x${image.width}, image 0 is ${h}x${w}`);
    }
  });
  const n = images.length;
  const cols = options.cols ?? Math.ceil(Math.sqrt(n));
  const pad = options.pad ?? 2;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(cols) || cols < 1) throw new VaekitError(`imageGrid: cols must be a positive integer, got ${cols}`);
  if (!Number.isInteger(pad) || pad < 0) throw new VaekitError(`imageGrid: pad must be a non-negative integer, got ${pad}`);
  if (!Number.isInteger(scale) || scale < 1) throw new VaekitError(`imageGrid: scale must be a positive integer, got ${scale}`);

  const rows = Math.ceil(n / cols);
  const c = images.some((image) => image.channels === 3) ? 3 : 1;
  const cellH = h * scale;
  const cellW = w * scale;
  const grid = createImage(cols * cellW + (cols + 1) * pad, rows * cellH + (rows + 1) * pad, c);
  grid.data.fill(options.padValue ?? 0.85);
  images.forEach((original, i) => {
    const image = c === 3 ? toRgb(original) : original;
    const top = pad + Math.floor(i / cols) * (cellH + pad);
    const left = pad + (i % cols) * (cellW + pad);
    for (let y = 0; y < cellH; y++) {
      const srcRow = Math.floor(y / scale) * w;
      const dstRow = (top + y) * grid.width + left;
      for (let x = 0; x < cellW; x++) {
        const src = (srcRow + Math.floor(x / scale)) * c;
        const dst = (dstRow + x) * c;
        for (let ch = 0; ch < c; ch++) grid.data[dst + ch] = image.data[src + ch];
      }
    }
  });
  return grid;
}

/** Anchor colours of the heat-map scale, dark blue-violet through red and orange to pale yellow. */
const HEAT_ANCHORS: readonly (readonly [number, number, number])[] = [
  [0.05, 0.03, 0.2],
  [0.4, 0.08, 0.5],
  [0.8, 0.22, 0.3],
  [0.97, 0.55, 0.1],
  [1.0, 0.97, 0.7],
];

/** Colour for t in [0, 1] on the heat-map scale (piecewise linear; brightness grows with t). */
export function heatColor(t: number): [number, number, number] {
  const s = Math.min(1, Math.max(0, t)) * (HEAT_ANCHORS.length - 1);
  const k = Math.min(HEAT_ANCHORS.length - 2, Math.floor(s));
  const f = s - k;
  const a = HEAT_ANCHORS[k];
  const b = HEAT_ANCHORS[k + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export interface HeatmapOptions {
  /** Value mapped to the bottom of the scale (default: smallest finite value). */
  min?: number;
  /** Value mapped to the top of the scale (default: largest finite value). */
  max?: number;
}

/**
 * An RGB picture of a per-pixel map (e.g. reconstruction error) of height h and width w.
 * Non-finite values are drawn mid-gray so they stand out from the scale.
 */
export function heatmapImage(values: ArrayLike<number>, h: number, w: number, options: HeatmapOptions = {}): Image {
  if (values.length !== h * w) throw new VaekitError(`heatmapImage: ${values.length} values for a ${h}x${w} map`);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const min = options.min ?? lo;
  const max = options.max ?? hi;
  const range = max - min;
  const out = createImage(w, h, 3);
  for (let p = 0; p < h * w; p++) {
    const v = values[p];
    const rgb: [number, number, number] = Number.isFinite(v)
      ? heatColor(range > 0 ? (v - min) / range : 0)
      : [0.5, 0.5, 0.5];
    out.data.set(rgb, p * 3);
  }
  return out;
}
