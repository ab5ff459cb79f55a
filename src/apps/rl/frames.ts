/**
 * Frames (HWC images in [0,1]) and small pure operations on them (browser-safe).
 */
import { VaekitError } from "../../errors.js";

export interface Frame {
  width: number;
  height: number;
  channels: 1 | 3;
  /** height*width*channels values in [0,1], row-major, channel last. */
  data: Float32Array;
}

export type FrameLike = Frame | Float32Array;

/**
 * Wrap a bare array as a square frame: length must be s*s (grayscale) or s*s*3 (RGB). The two cases
 * never collide, since s*s = 3*t*t has no integer solution.
 */
export function asFrame(x: FrameLike): Frame {
  if (!(x instanceof Float32Array)) {
    const { width, height, channels, data } = x;
    if (data.length !== width * height * channels) {
      throw new VaekitError(`frame: ${data.length} values do not fit ${height}×${width}×${channels}`);
    }
    return x;
  }
  for (const channels of [1, 3] as const) {
    const side = Math.round(Math.sqrt(x.length / channels));
    if (side > 0 && side * side * channels === x.length) return { width: side, height: side, channels, data: x };
  }
  throw new VaekitError(`frame: ${x.length} values is not a square grayscale or RGB image`);
}

/** The same frame with 3 channels (gray copied to R, G and B). */
export function toRgb(frame: Frame): Frame {
  if (frame.channels === 3) return frame;
  const n = frame.width * frame.height;
  const data = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = frame.data[p];
  return { width: frame.width, height: frame.height, channels: 3, data };
}

/**
 * Two frames next to each other with a `gap`-pixel mid-gray separator (e.g. agent view and VAE
 * reconstruction). Heights must match; a grayscale frame is promoted to RGB if the other is RGB.
 */
export function sideBySide(left: FrameLike, right: FrameLike, gap = 2): Frame {
  let a = asFrame(left);
  let b = asFrame(right);
  if (a.height !== b.height) throw new VaekitError(`sideBySide: heights differ (${a.height} vs ${b.height})`);
  if (a.channels !== b.channels) [a, b] = [toRgb(a), toRgb(b)];
  const c = a.channels;
  const width = a.width + gap + b.width;
  const data = new Float32Array(a.height * width * c).fill(0.5);
  for (let i = 0; i < a.height; i++) {
    data.set(a.data.subarray(i * a.width * c, (i + 1) * a.width * c), i * width * c);
    data.set(b.data.subarray(i * b.width * c, (i + 1) * b.width * c), (i * width + a.width + gap) * c);
  }
  return { width, height: a.height, channels: c, data };
}

/** RGBA bytes (alpha 255), each pixel repeated `scale` times in both directions. Rejects NaN. */
export function frameToRgba(frame: Frame, scale = 1): Uint8Array {
  if (!Number.isInteger(scale) || scale < 1) throw new VaekitError(`frame scale must be a positive integer, got ${scale}`);
  const { width, height, channels, data } = frame;
  const W = width * scale;
  const out = new Uint8Array(W * height * scale * 4);
  for (let i = 0; i < height * scale; i++) {
    const si = Math.floor(i / scale);
    for (let j = 0; j < W; j++) {
      const src = (si * width + Math.floor(j / scale)) * channels;
      const dst = (i * W + j) * 4;
      for (let k = 0; k < 3; k++) {
        const v = data[src + (channels === 3 ? k : 0)];
        if (Number.isNaN(v)) throw new VaekitError("frame contains NaN values");
        out[dst + k] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      out[dst + 3] = 255;
    }
  }
  return out;
}

/**
 * Average-pool an HWC frame to target×target grayscale (RGB uses luma weights 0.299/0.587/0.114).
 * The frame side must be a multiple of `target`.
 */
export function downsampleGray(obs: Float32Array, shape: readonly [number, number, number], target: number): Float32Array {
  const [h, w, c] = shape;
  if (obs.length !== h * w * c) throw new VaekitError(`downsample: ${obs.length} values do not fit ${h}×${w}×${c}`);
  if (h % target !== 0 || w % target !== 0) {
    throw new VaekitError(`downsample: frame ${h}×${w} is not a multiple of ${target}×${target}`);
  }
  const fy = h / target;
  const fx = w / target;
  const weights = c === 3 ? [0.299, 0.587, 0.114] : c === 1 ? [1] : new Array(c).fill(1 / c);
  const out = new Float32Array(target * target);
  const norm = 1 / (fy * fx);
  for (let i = 0; i < h; i++) {
    const row = Math.floor(i / fy) * target;
    let src = i * w * c;
    for (let cell = 0; cell < target; cell++) {
      let v = 0;
      for (let j = 0; j < fx; j++) {
        if (c === 1) v += obs[src++];
        else for (let k = 0; k < c; k++) v += weights[k] * obs[src++];
      }
      out[row + cell] += v * norm;
    }
  }
  return out;
}
