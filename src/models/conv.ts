/**
 * 2-D convolution and transposed convolution on NHWC activations, built from pad / reshape /
 * transpose / slice and one matmul per kernel tap (space-to-depth: 4 taps for k4 s2) whose
 * operands are contiguous row ranges. The engine's own convolutions are ~700× slower on wasm
 * (shared/engine-probes); these stay on its fast matmul path, forward and backward, and
 * differentiate through ordinary array ops.
 *
 * Semantics are PyTorch's Conv2d / ConvTranspose2d (cross-correlation, symmetric zero padding,
 * output_padding added on the bottom/right). Weight layouts in memory:
 *   conv:       w [k, k, Cin, Cout]  (HWIO)   ↔ PyTorch Conv2d.weight          [Cout, Cin, k, k]
 *   transposed: w [Cin, k, k, Cout]           ↔ PyTorch ConvTranspose2d.weight [Cin, Cout, k, k]
 * Both are {w, b} records like a dense layer (so parameter trees keep one leaf-record type); the
 * model tells a transposed conv by its name (see networks.ts).
 * Convention: layer functions consume the activation and borrow the parameters.
 */
import { convLowering, lax, np, random, type Array } from "../engine/index.js";

export interface ConvGeometry {
  kernel: number;
  stride: number;
  padding: number;
}

/** Conv2d parameters: `w` [k, k, Cin, Cout], `b` [Cout]. */
export interface ConvParams {
  w: Array;
  b: Array;
  [k: string]: Array;
}

/** ConvTranspose2d parameters: `w` [Cin, k, k, Cout], `b` [Cout]. */
export interface ConvTransposeParams {
  w: Array;
  b: Array;
  [k: string]: Array;
}

/** Output size of a convolution along one axis (PyTorch's formula, floor division). */
export function convOutputSize(size: number, g: ConvGeometry): number {
  const out = Math.floor((size + 2 * g.padding - g.kernel) / g.stride) + 1;
  if (out < 1) throw new Error(`convolution k${g.kernel} s${g.stride} p${g.padding} does not fit an input of size ${size}`);
  return out;
}

/** Output size of a transposed convolution: (n − 1)·s − 2p + k + outputPadding. */
export function convTransposeOutputSize(size: number, g: ConvGeometry, outputPadding = 0): number {
  return (size - 1) * g.stride - 2 * g.padding + g.kernel + outputPadding;
}

/**
 * The output padding that makes a transposed convolution return exactly `target` (the size the
 * mirrored convolution started from). Always in [0, stride) when `size = convOutputSize(target)`.
 */
export function outputPaddingFor(size: number, target: number, g: ConvGeometry): number {
  const op = target - convTransposeOutputSize(size, g);
  if (op < 0 || op >= Math.max(g.stride, 1)) {
    throw new Error(`no output padding maps size ${size} to ${target} with k${g.kernel} s${g.stride} p${g.padding}`);
  }
  return op;
}

/** PyTorch's default Conv2d/ConvTranspose2d initialisation: U(±1/√fan_in) with fan_in = Cin·k². */
export function initConv(key: Array, cin: number, cout: number, kernel: number): ConvParams {
  const bound = 1 / Math.sqrt(cin * kernel * kernel);
  const [kw, kb] = np.unstack(random.split(key, 2));
  return {
    w: random.uniform(kw, [kernel, kernel, cin, cout], { minval: -bound, maxval: bound }),
    b: random.uniform(kb, [cout], { minval: -bound, maxval: bound }),
  };
}

/** PyTorch's ConvTranspose2d computes fan_in from weight.size(1) = Cout: U(±1/√(Cout·k²)). */
export function initConvTranspose(key: Array, cin: number, cout: number, kernel: number): ConvTransposeParams {
  const bound = 1 / Math.sqrt(cout * kernel * kernel);
  const [kw, kb] = np.unstack(random.split(key, 2));
  return {
    w: random.uniform(kw, [cin, kernel, kernel, cout], { minval: -bound, maxval: bound }),
    b: random.uniform(kb, [cout], { minval: -bound, maxval: bound }),
  };
}

/**
 * Pad (or crop) axis 1 and 2 of x [B, H, W, C] to exactly `rows` × `cols`, with `top`/`left`
 * zeros first. Cropping happens when the far edge is never read by any kernel tap.
 */
function padTo(x: Array, top: number, rows: number, left: number, cols: number): Array {
  const [, H, W] = x.shape;
  const bottom = rows - H - top;
  const right = cols - W - left;
  if (bottom < 0 || right < 0) {
    x = x.slice([], [0, Math.min(H, H + bottom)], [0, Math.min(W, W + right)], []);
  }
  const pads: [number, number][] = [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]];
  return pads.every(([a, b]) => a === 0 && b === 0) ? x : np.pad(x, pads);
}

/**
 * A view-built array fed to matmul must be materialised first: the engine otherwise fuses the
 * view into the matmul kernel and leaves its fast path (2–50× slower). Any non-view op is a
 * barrier, but the engine folds ×1 and +0 away; a double negation is exact and survives.
 */
const materialise = (a: Array): Array => np.negative(np.negative(a));

/**
 * The kernel in space-to-depth form, one row block per tap. With T = ⌈k/s⌉, kernel row
 * ki = a·s + r becomes (a, r); the kernel is zero-padded to T·s (a no-op when s divides k).
 * conv w [k,k,C,O] → [T²·s²C, O], rows (a_i, a_j, r_i, r_j, c);
 * transposed w [Cin,k,k,C] → [T²·Cin, s²C], rows (a_i, a_j, cin), columns (r_i, r_j, c).
 */
function spaceToDepthKernel(w: Array, k: number, s: number, transposed: boolean): Array {
  const T = Math.ceil(k / s);
  const extra = T * s - k;
  if (transposed) {
    const [cin, , , c] = w.shape;
    const v = extra ? np.pad(w, [[0, 0], [0, extra], [0, extra], [0, 0]]) : w;
    return materialise(v.reshape([cin, T, s, T, s, c]).transpose([1, 3, 0, 2, 4, 5]).reshape([T * T * cin, s * s * c]));
  }
  const [, , c, o] = w.shape;
  const v = extra ? np.pad(w, [[0, extra], [0, extra], [0, 0], [0, 0]]) : w;
  return materialise(v.reshape([T, s, T, s, c, o]).transpose([0, 2, 1, 3, 4, 5]).reshape([T * T * s * s * c, o]));
}

/**
 * Σ_t F[start_t : start_t + N] · W_t over taps t, with W_t the t-th block of `rows` rows of w.
 * Every matmul operand is a contiguous row range of a materialised array (the engine's fast
 * path), and so are the ones autodiff creates for the gradient; no gather, no concatenation.
 */
function shiftedMatmulSum(F: Array, starts: number[], N: number, w: Array, rows: number): Array {
  let acc: Array | null = null;
  starts.forEach((start, t) => {
    const term = np.matmul(F.ref.slice([start, start + N]), w.ref.slice([t * rows, (t + 1) * rows]));
    acc = acc === null ? term : acc.add(term);
  });
  F.dispose();
  w.dispose();
  return acc!;
}

/**
 * conv2d: x [B, H, W, Cin] → [B, Ho, Wo, Cout].
 * Space-to-depth turns the stride-s conv into a stride-1 conv with a T×T kernel over s²C
 * channels: pad to s·(Ho + T − 1) rows, reshape [B, Hq, s, Wq, s, C] → [B, Hq, Wq, s·s·C].
 * On that grid flattened to rows, tap (a_i, a_j) reads row r + a_i·Wq + a_j: a contiguous
 * row range. The sum runs over the whole Hq×Wq grid; the valid Ho×Wo corner is kept.
 */
export function conv2d(x: Array, layer: ConvParams, g: ConvGeometry): Array {
  const [B, H, W, C] = x.shape;
  const { kernel: k, stride: s, padding: p } = g;
  const [kk, kk2, cin, cout] = layer.w.shape;
  if (kk !== k || kk2 !== k || cin !== C) throw new Error(`conv2d: weight [${layer.w.shape}] does not fit input [${x.shape}] with kernel ${k}`);
  const Ho = convOutputSize(H, g);
  const Wo = convOutputSize(W, g);
  if (convLowering() === "native") {
    // the engine's conv is NCHW with an OIHW kernel
    const y = lax.convGeneralDilated(x.transpose([0, 3, 1, 2]), layer.w.ref.transpose([3, 2, 0, 1]), [s, s], [[p, p], [p, p]]);
    return y.transpose([0, 2, 3, 1]).add(layer.b.ref);
  }
  if (k === 1 && s === 1 && p === 0) {
    return np.matmul(x.reshape([B * H * W, C]), layer.w.ref.reshape([C, cout])).reshape([B, H, W, cout]).add(layer.b.ref);
  }
  const T = Math.ceil(k / s);
  const Hq = Ho + T - 1;
  const Wq = Wo + T - 1;
  const depth = s * s * C;
  const N = B * Hq * Wq;
  let xs = padTo(x, p, s * Hq, p, s * Wq);
  if (s > 1) xs = xs.reshape([B, Hq, s, Wq, s, C]).transpose([0, 1, 3, 2, 4, 5]);
  const maxStart = (T - 1) * Wq + (T - 1);
  const F = materialise(np.pad(xs.reshape([N, depth]), [[0, maxStart], [0, 0]]));
  const starts: number[] = [];
  for (let ai = 0; ai < T; ai++) for (let aj = 0; aj < T; aj++) starts.push(ai * Wq + aj);
  const out = shiftedMatmulSum(F, starts, N, spaceToDepthKernel(layer.w.ref, k, s, false), depth);
  const grid = out.reshape([B, Hq, Wq, cout]);
  return (T === 1 ? grid : grid.slice([], [0, Ho], [0, Wo], [])).add(layer.b.ref);
}

/**
 * Transposed conv2d (the adjoint of conv2d in x): y [B, n, m, Cin] → [B, Hout, Wout, Cout].
 * Output phase (r_i, r_j) at grid cell (u, v) sums tap (a_i, a_j) applied to input (u − a_i,
 * v − a_j): on y zero-padded to (n + T − 1) × (m + T − 1) and flattened to rows, a contiguous
 * row range again (the padding rows absorb the wrap-around). Depth-to-space then interleaves
 * the s² phases, and the conv padding is cropped.
 */
export function convTranspose2d(y: Array, layer: ConvTransposeParams, g: ConvGeometry, outputPadding: [number, number] = [0, 0]): Array {
  const [B, n, m, Cin] = y.shape;
  const { kernel: k, stride: s, padding: p } = g;
  const [cin, kk, kk2, cout] = layer.w.shape;
  if (kk !== k || kk2 !== k || cin !== Cin) throw new Error(`convTranspose2d: weight [${layer.w.shape}] does not fit input [${y.shape}] with kernel ${k}`);
  const Hout = convTransposeOutputSize(n, g, outputPadding[0]);
  const Wout = convTransposeOutputSize(m, g, outputPadding[1]);
  if (convLowering() === "native") {
    // PyTorch's transposed conv = a conv over the input dilated by s, with the kernel flipped and
    // its channel axes swapped, padded by k − 1 − p (plus the output padding at the far end)
    const kernel = np.flip(layer.w.ref.transpose([3, 0, 1, 2]), [2, 3]);
    const pad = (op: number): [number, number] => [k - 1 - p, k - 1 - p + op];
    const out = lax.convGeneralDilated(y.transpose([0, 3, 1, 2]), kernel, [1, 1], [pad(outputPadding[0]), pad(outputPadding[1])], { lhsDilation: [s, s] });
    return out.transpose([0, 2, 3, 1]).add(layer.b.ref);
  }
  const T = Math.ceil(k / s);
  const A = T - 1;
  const Hg = n + A;
  const Wg = m + A;
  const N = B * Hg * Wg;
  const maxStart = A * Wg + A;
  const rows = (A ? np.pad(y, [[0, 0], [0, A], [0, A], [0, 0]]) : y).reshape([N, Cin]);
  const F = materialise(maxStart ? np.pad(rows, [[maxStart, 0], [0, 0]]) : rows);
  const starts: number[] = [];
  for (let ai = 0; ai < T; ai++) for (let aj = 0; aj < T; aj++) starts.push(maxStart - (ai * Wg + aj));
  const acc = shiftedMatmulSum(F, starts, N, spaceToDepthKernel(layer.w.ref, k, s, true), Cin);
  let full = acc.reshape([B, Hg, Wg, s, s, cout]);
  if (s > 1) full = full.transpose([0, 1, 3, 2, 4, 5]);
  full = full.reshape([B, Hg * s, Wg * s, cout]);
  // row u of `full` is output row u − p; crop the padding (and extend when outputPadding > p)
  const out = padTo(full, 0, p + Hout, 0, p + Wout);
  const cropped = p === 0 ? out : out.slice([], [p, p + Hout], [p, p + Wout], []);
  return cropped.add(layer.b.ref);
}
