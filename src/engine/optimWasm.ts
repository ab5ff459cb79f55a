/**
 * Adam on host vectors in one pass, as a tiny hand-assembled WebAssembly SIMD kernel (4 floats
 * per instruction): the update the ONNX Runtime engine applies between its gradient runs.
 * A plain JS loop does the same work about 4× slower; it is the fallback where wasm SIMD is
 * missing. Formulas: optim.ts (PyTorch's Adam with bias correction, optional clipping).
 *
 * All vectors live in one WebAssembly.Memory: parameters, gradients and both moments, each a
 * region of `size` floats (rounded up to a multiple of 4; the padding stays zero).
 */
import type { AdamConfig } from "./optim.js";

/** LEB128 (unsigned) */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const str = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const SIMD = (op: number) => [0xfd, ...uleb(op)];
const LOAD = (align = 4) => [...SIMD(0), align, 0];
const STORE = (align = 4) => [...SIMD(11), align, 0];
const SPLAT = SIMD(19), SQRT = SIMD(227), ADD = SIMD(228), SUB = SIMD(229), MUL = SIMD(230), DIV = SIMD(231);
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];

/**
 * adam(p, g, m, v, bytes: i32, b1, c1, b2, c2, step, invSqrtBc2, eps, scale: f32):
 *   g' = g·scale; m = b1·m + c1·g'; v = b2·v + c2·g'²; p −= step·m / (√v·invSqrtBc2 + eps)
 */
function adamModule(): Uint8Array<ArrayBuffer> {
  // params 0..4 i32, 5..12 f32; locals: 13 i (i32), 14..21 splats, 22 gi, 23 mi, 24 vi (v128)
  const [P, G, M, V, N] = [0, 1, 2, 3, 4];
  const I = 13, S = 14, GI = 22, MI = 23, VI = 24;
  const body: number[] = [];
  for (let k = 0; k < 8; k++) body.push(...get(5 + k), ...SPLAT, ...set(S + k));
  const [sB1, sC1, sB2, sC2, sStep, sInv, sEps, sScale] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => S + k);
  const addr = (base: number) => [...get(base), ...get(I), 0x6a]; // base + i
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop
  body.push(...get(I), ...get(N), 0x4f, 0x0d, 1); // i >= n → br_if 1 (exit)
  // gi = g[i]·scale
  body.push(...addr(G), ...LOAD(), ...get(sScale), ...MUL, ...set(GI));
  // m[i] = mi = m[i]·b1 + gi·c1
  body.push(...addr(M), ...addr(M), ...LOAD(), ...get(sB1), ...MUL, ...get(GI), ...get(sC1), ...MUL, ...ADD, ...tee(MI), ...STORE());
  // v[i] = vi = v[i]·b2 + gi·gi·c2
  body.push(...addr(V), ...addr(V), ...LOAD(), ...get(sB2), ...MUL, ...get(GI), ...get(GI), ...MUL, ...get(sC2), ...MUL, ...ADD, ...tee(VI), ...STORE());
  // p[i] = p[i] − mi·step / (√vi·inv + eps)
  body.push(...addr(P), ...addr(P), ...LOAD(), ...get(MI), ...get(sStep), ...MUL, ...get(VI), ...SQRT, ...get(sInv), ...MUL, ...get(sEps), ...ADD, ...DIV, ...SUB, ...STORE());
  body.push(...get(I), 0x41, 16, 0x6a, ...set(I)); // i += 16
  body.push(0x0c, 0, 0x0b, 0x0b, 0x0b); // br 0, end loop, end block, end func
  const locals = vec([[1, I32], [11, V128]].map(([n, t]) => [...uleb(n), t]));
  const code = [...locals, ...body];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32].map((t) => [t])), 0]])),
    ...section(2, vec([[...str("env"), ...str("memory"), 0x02, 0x00, 0x01]])), // memory import, min 1 page
    ...section(3, vec([[0]])),
    ...section(7, vec([[...str("adam"), 0x00, 0]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ];
  return new Uint8Array(bytes);
}

let compiled: WebAssembly.Module | null | undefined;
function simdModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(adamModule());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Parameters, gradients and Adam moments as host vectors, updated in place by `update`. */
export interface HostAdam {
  /** Parameter leaves (views into the kernel's memory; write them to load parameters). */
  params: Float32Array[];
  /** Gradient leaves: write the gradient here before `update`. */
  grads: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
  /** Steps taken (the bias correction's t). */
  t: number;
  /** One Adam step from `grads`; true when the SIMD kernel ran (false: the JS fallback). */
  update(cfg: AdamConfig): boolean;
}

/** Host Adam state for leaves of the given sizes; `forceJs` skips the SIMD kernel (tests). */
export function createHostAdam(sizes: number[], opts: { forceJs?: boolean } = {}): HostAdam {
  const padded = sizes.map((n) => Math.ceil(n / 4) * 4);
  const offsets: number[] = [];
  let total = 0;
  for (const n of padded) {
    offsets.push(total);
    total += n;
  }
  const regionBytes = total * 4;
  const module = opts.forceJs ? null : simdModule();
  const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((4 * regionBytes) / 65536)) });
  const kernel = module ? (new WebAssembly.Instance(module, { env: { memory } }).exports.adam as (...a: number[]) => void) : null;
  const region = (r: number) => sizes.map((n, j) => new Float32Array(memory.buffer, r * regionBytes + offsets[j] * 4, n));
  const state: HostAdam = {
    params: region(0),
    grads: region(1),
    m: region(2),
    v: region(3),
    t: 0,
    update(cfg) {
      const { lr, beta1: b1, beta2: b2, eps } = cfg;
      let scale = 1;
      if (cfg.clipNorm > 0) {
        let sq = 0;
        for (const g of state.grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
        scale = Math.min(cfg.clipNorm / (Math.sqrt(sq) + 1e-6), 1);
      }
      const t1 = state.t + 1;
      const step = lr / (1 - Math.exp(t1 * Math.log(b1)));
      const inv = 1 / Math.sqrt(1 - Math.exp(t1 * Math.log(b2)));
      state.t = t1;
      if (kernel) {
        kernel(0, regionBytes, 2 * regionBytes, 3 * regionBytes, regionBytes, b1, 1 - b1, b2, 1 - b2, step, inv, eps, scale);
        return true;
      }
      const all = new Float32Array(memory.buffer, 0, 4 * total);
      const [P, G, M, V] = [0, total, 2 * total, 3 * total];
      const c1 = 1 - b1, c2 = 1 - b2;
      for (let i = 0; i < total; i++) {
        const gi = all[G + i] * scale;
        const mi = all[M + i] * b1 + gi * c1;
        const vi = all[V + i] * b2 + gi * gi * c2;
        all[M + i] = mi;
        all[V + i] = vi;
        all[P + i] -= (mi * step) / (Math.sqrt(vi) * inv + eps);
      }
      return false;
    },
  };
  return state;
}
