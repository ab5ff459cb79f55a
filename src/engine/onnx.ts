/**
 * Compile an engine function to an ONNX model, so a native runtime (ONNX Runtime's CPU kernels:
 * AVX2/FMA GEMM) can run it. The function is traced to a jaxpr by the engine — gradients and
 * the optimiser included, since `valueAndGrad` is traced like any other op — and each jaxpr
 * equation becomes one or a few ONNX nodes. Only deterministic primitives are supported: random
 * numbers must be inputs (or drawn by the graph itself, see `randomInputs`).
 *
 * Browser-safe (pure JS); running the model needs a runtime (onnxRuntime.ts in Node).
 */
import { makeJaxpr, tree, type Array as JaxArray, type JsTree } from "@jax-js/jax";
import onnxProto from "onnx-proto";
import type { onnx as OnnxTypes } from "onnx-proto";
import { withConvLowering } from "./lowering.js";

const onnx = (onnxProto as unknown as { onnx: typeof OnnxTypes }).onnx;
const OPSET = 17;
const TensorType = onnx.TensorProto.DataType;

export type OnnxDtype = "float32" | "int32" | "uint32" | "bool";

export interface OnnxValueInfo {
  name: string;
  shape: number[];
  dtype: OnnxDtype;
}

export interface OnnxProgram {
  /** The serialised ModelProto. */
  bytes: Uint8Array;
  /** Graph inputs in the order of the traced function's flattened arguments (random inputs removed). */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Tree structure of the traced function's result. */
  outTree: unknown;
  /** Number of nodes, for reports. */
  nodes: number;
}

export interface OnnxCompileOptions {
  /**
   * Flattened-argument indices to replace by random nodes inside the graph: "uniform" [0, 1)
   * or "normal" N(0, 1), seeded by `seed` (the runtime advances its generator every run, so a
   * session gives a fixed sequence of draws per seed).
   */
  randomInputs?: Record<number, "uniform" | "normal">;
  seed?: number;
}

export class OnnxUnsupportedError extends Error {}

const DTYPES: Record<string, { code: number; dtype: OnnxDtype }> = {
  float32: { code: TensorType.FLOAT, dtype: "float32" },
  int32: { code: TensorType.INT32, dtype: "int32" },
  uint32: { code: TensorType.UINT32, dtype: "uint32" },
  bool: { code: TensorType.BOOL, dtype: "bool" },
};

function dtypeOf(d: string) {
  const t = DTYPES[d];
  if (!t) throw new OnnxUnsupportedError(`ONNX export: dtype ${d} is not supported`);
  return t;
}

// jax-js's internal jaxpr classes, as much of them as the translation reads
interface Aval {
  shape: number[];
  dtype: string;
}
interface Var {
  aval: Aval;
}
interface Lit {
  aval: Aval;
  value: number;
}
type Atom = Var | Lit;
interface Eqn {
  primitive: string;
  inputs: Atom[];
  params: Record<string, unknown>;
  outBinders: Var[];
}
interface Jaxpr {
  inBinders: Var[];
  eqns: Eqn[];
  outs: Atom[];
  flatten(): Jaxpr;
  simplify(): Jaxpr;
}

const isLit = (a: Atom): a is Lit => typeof (a as Lit).value === "number" && !("id" in a);

/** Builds the ONNX graph: names, nodes and constant initializers. */
class GraphBuilder {
  nodes: OnnxTypes.INodeProto[] = [];
  initializers: OnnxTypes.ITensorProto[] = [];
  private counter = 0;
  private constCache = new Map<string, string>();

  fresh(prefix = "t"): string {
    return `${prefix}${this.counter++}`;
  }

  node(op: string, inputs: string[], attrs: OnnxTypes.IAttributeProto[] = [], nOut = 1, outNames?: string[]): string[] {
    const outputs = outNames ?? Array.from({ length: nOut }, () => this.fresh());
    this.nodes.push({ opType: op, input: inputs, output: outputs, attribute: attrs, name: `${op}_${this.nodes.length}` });
    return outputs;
  }

  one(op: string, inputs: string[], attrs: OnnxTypes.IAttributeProto[] = []): string {
    return this.node(op, inputs, attrs)[0];
  }

  tensor(name: string, dtype: string, shape: number[], values: ArrayLike<number> | bigint[]): void {
    const { code } = dtypeOf(dtype === "int64" ? "int32" : dtype);
    const t: OnnxTypes.ITensorProto = { name, dims: shape };
    if (dtype === "int64") {
      t.dataType = TensorType.INT64;
      const v = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) v[i] = BigInt((values as ArrayLike<number | bigint>)[i] as number);
      t.rawData = new Uint8Array(v.buffer);
    } else {
      t.dataType = code;
      const typed =
        dtype === "float32" ? Float32Array.from(values as ArrayLike<number>)
        : dtype === "int32" ? Int32Array.from(values as ArrayLike<number>)
        : dtype === "uint32" ? Uint32Array.from(values as ArrayLike<number>)
        : Uint8Array.from(values as ArrayLike<number>);
      t.rawData = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    }
    this.initializers.push(t);
  }

  /** A small constant (shapes, axes, scalars), shared between uses. */
  constant(dtype: string, shape: number[], values: number[]): string {
    const key = `${dtype}|${shape.join(",")}|${values.join(",")}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.fresh("c");
      this.tensor(name, dtype, shape, values);
      this.constCache.set(key, name);
    }
    return name;
  }

  ints(values: number[]): string {
    return this.constant("int64", [values.length], values);
  }
}

const attrInt = (name: string, i: number): OnnxTypes.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const attrInts = (name: string, ints: number[]): OnnxTypes.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
const attrFloat = (name: string, f: number): OnnxTypes.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
const isIdentity = (perm: number[]) => perm.every((p, i) => p === i);

/**
 * A lazily materialised tensor: `base` (an ONNX value of shape baseShape) reshaped to `unsq`
 * (same data, size-1 axes added), transposed by `perm`, then expanded to the variable's shape.
 * Transposes and broadcasts are free views in the engine, but copies in ONNX; the engine's
 * gradient of `dot` is a dot of broadcast, transposed operands, so keeping them as views lets
 * every dot become one Gemm on the untransposed data (transA/transB).
 */
interface View {
  base: string;
  baseShape: number[];
  unsq: number[];
  perm: number[];
  /**
   * For a Gemm result, the node is emitted only when first needed: as x·y ([M, N], `base`),
   * or — when the consumer wants the transpose — as yᵀ·xᵀ ([N, M]) with no Transpose copy.
   */
  gemm?: { emit(transposed: boolean): string; boundary: number };
}

/** The view's base tensor (emitting a pending Gemm in its natural orientation). */
function baseOf(v: View): string {
  return v.gemm ? v.gemm.emit(false) : v.base;
}

const preShape = (v: View) => v.perm.map((i) => v.unsq[i]);
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function materialize(g: GraphBuilder, v: View, shape: number[]): string {
  // moving only size-1 axes is a reshape, not a copy
  const moved = v.perm.filter((i) => v.unsq[i] !== 1);
  if (v.gemm && !moved.every((p, j) => j === 0 || p > moved[j - 1])) {
    // a Gemm result whose N axes come before its M axes: emit the product transposed instead
    const b = v.gemm.boundary;
    const nFirst = moved.findIndex((p) => p < b);
    const ns = moved.slice(0, nFirst < 0 ? moved.length : nFirst);
    const ms = moved.slice(ns.length);
    const increasing = (xs: number[]) => xs.every((p, j) => j === 0 || p > xs[j - 1]);
    if (ns.every((p) => p >= b) && ms.every((p) => p < b) && increasing(ns) && increasing(ms)) {
      let t = g.one("Reshape", [v.gemm.emit(true), g.ints(preShape(v))]);
      if (!sameShape(preShape(v), shape)) t = g.one("Expand", [t, g.ints(shape)]);
      return t;
    }
  }
  let t = baseOf(v);
  if (!sameShape(v.unsq, v.baseShape)) t = g.one("Reshape", [t, g.ints(v.unsq)]);
  if (!isIdentity(v.perm)) {
    t = moved.every((p, j) => j === 0 || p > moved[j - 1])
      ? g.one("Reshape", [t, g.ints(preShape(v))])
      : g.one("Transpose", [t], [attrInts("perm", v.perm)]);
  }
  if (!sameShape(preShape(v), shape)) t = g.one("Expand", [t, g.ints(shape)]);
  return t;
}

/** The view with k leading size-1 axes added. */
function padView(v: View, k: number): View {
  if (k === 0) return v;
  return { ...v, unsq: [...Array(k).fill(1), ...v.unsq], perm: [...Array.from({ length: k }, (_, i) => i), ...v.perm.map((i) => i + k)] };
}

/**
 * An operand of Gemm taken straight from a view's base data: rows = the view's axes `rowAxes`
 * (in order), columns = axis `kAxis`. Null when the base's layout does not allow it.
 */
function gemmOperand(g: GraphBuilder, v: View, rowAxes: number[], kAxis: number): { name: string; kFirst: boolean } | null {
  const rowPos = rowAxes.map((a) => v.perm[a]);
  const kPos = v.perm[kAxis];
  if (!rowPos.every((p, j) => j === 0 || p > rowPos[j - 1])) return null;
  const R = prod(rowAxes.map((a) => v.unsq[v.perm[a]]));
  const K = v.unsq[kPos];
  let kFirst: boolean;
  if (rowPos.every((p) => p < kPos)) kFirst = false;
  else if (rowPos.every((p) => p > kPos)) kFirst = true;
  else return null;
  const shape = kFirst ? [K, R] : [R, K];
  const base = baseOf(v);
  return { name: sameShape(v.baseShape, shape) ? base : g.one("Reshape", [base, g.ints(shape)]), kFirst };
}

/**
 * jax-js `dot`: out = Σ_k x[..., k]·y[..., k] with NumPy broadcasting over the leading axes.
 * Leading axes are sorted into batch (both > 1), M (only x > 1) and N (only y > 1); the
 * product is one Gemm (no batch axes) or MatMul, returned as a view in the output's axis order.
 */
function emitDot(g: GraphBuilder, xv: View, yv: View): View {
  const r = Math.max(xv.perm.length, yv.perm.length);
  xv = padView(xv, r - xv.perm.length);
  yv = padView(yv, r - yv.perm.length);
  const xs = preShape(xv);
  const ys = preShape(yv);
  const K = xs[r - 1];
  const batch: number[] = [], mAx: number[] = [], nAx: number[] = [];
  for (let i = 0; i < r - 1; i++) {
    if (xs[i] === ys[i]) batch.push(i);
    else if (ys[i] === 1) mAx.push(i);
    else if (xs[i] === 1) nAx.push(i);
    else throw new OnnxUnsupportedError(`ONNX export: dot shapes [${xs}] and [${ys}] do not broadcast`);
  }
  const big = (ax: number[]) => ax.filter((i) => Math.max(xs[i], ys[i]) > 1);
  const Bt = prod(batch.map((i) => xs[i]));
  const Mt = prod(mAx.map((i) => xs[i]));
  const Nt = prod(nAx.map((i) => ys[i]));
  let prodName: string | null = null;
  if (Bt === 1) {
    const a = gemmOperand(g, xv, big(mAx), r - 1);
    const b = gemmOperand(g, yv, big(nAx), r - 1);
    if (a && b) {
      const tA = a.kFirst ? 1 : 0;
      const tB = b.kFirst ? 0 : 1;
      const made: Record<string, string> = {};
      // (x·y)ᵀ = yᵀ·xᵀ: swap the operands and flip both transpose flags
      const emit = (transposed: boolean) =>
        (made[String(transposed)] ??= transposed
          ? g.one("Gemm", [b.name, a.name], [attrInt("transA", 1 - tB), attrInt("transB", 1 - tA)])
          : g.one("Gemm", [a.name, b.name], [attrInt("transA", tA), attrInt("transB", tB)]));
      const order = [...batch, ...mAx, ...nAx];
      return {
        base: "",
        baseShape: [Mt, Nt],
        unsq: order.map((i) => Math.max(xs[i], ys[i])),
        perm: order.map((_, j) => order.indexOf(j)),
        gemm: { emit, boundary: batch.length + mAx.length },
      };
    }
  }
  if (prodName === null) {
    // general case: bring both operands to [batch, rows, K] and use a batched MatMul
    const xPerm = [...batch, ...mAx, ...nAx, r - 1];
    const yPerm = [...batch, ...nAx, ...mAx, r - 1];
    const xm = materialize(g, { ...xv, perm: xPerm.map((i) => xv.perm[i]) }, xPerm.map((i) => xs[i]));
    const ym = materialize(g, { ...yv, perm: yPerm.map((i) => yv.perm[i]) }, yPerm.map((i) => ys[i]));
    const x3 = g.one("Reshape", [xm, g.ints([Bt, Mt, K])]);
    const y3 = g.one("Reshape", [ym, g.ints([Bt, Nt, K])]);
    prodName = g.one("MatMul", [x3, g.one("Transpose", [y3], [attrInts("perm", [0, 2, 1])])]);
  }
  // the product's data is laid out [batch…, M…, N…]; the view puts the axes back in order
  const order = [...batch, ...mAx, ...nAx];
  return {
    base: prodName,
    baseShape: [Bt, Mt, Nt],
    unsq: order.map((i) => Math.max(xs[i], ys[i])),
    perm: order.map((_, j) => order.indexOf(j)),
  };
}

interface ConvPrimitiveParams {
  vmapDims: number;
  strides: number[];
  padding: [number, number][];
  lhsDilation: number[];
  rhsDilation: number[];
}

/**
 * x with per-axis (begin, end) padding over its trailing spatial axes, where negative amounts crop:
 * the crops become a Slice, the rest is returned as ONNX `pads` for the consuming Conv.
 */
function cropNegativePads(g: GraphBuilder, x: string, spatial: number[], pads: [number, number][]): { x: string; pads: number[] } {
  const n = pads.length;
  const axes = pads.map((_, i) => i + 2);
  if (pads.some(([a, b]) => a < 0 || b < 0)) {
    const starts = pads.map(([a]) => Math.max(0, -a));
    const ends = pads.map(([, b], i) => spatial[i] - Math.max(0, -b));
    x = g.one("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes)]);
  }
  return { x, pads: [...pads.map(([a]) => Math.max(0, a)), ...pads.map(([, b]) => Math.max(0, b))].slice(0, 2 * n) };
}

/** Reverse the trailing spatial axes (a Slice with step −1). */
function flipSpatial(g: GraphBuilder, x: string, n: number): string {
  const axes = Array.from({ length: n }, (_, i) => i + 2);
  return g.one("Slice", [x, g.ints(axes.map(() => -1)), g.ints(axes.map(() => -(2 ** 31 - 1))), g.ints(axes), g.ints(axes.map(() => -1))]);
}

/**
 * The engine's `conv` primitive (NCHW input, OIHW kernel, XLA semantics) as ONNX nodes. Three
 * forms, all without patch copies:
 * - no input dilation: one Conv (negative padding crops first);
 * - input dilation d (a transposed convolution, or the input gradient of a strided conv): a
 *   ConvTranspose with stride d and the kernel flipped and channel-swapped, windowed by its pads;
 * - input dilation with an output smaller than the kernel: the weight gradient of a transposed
 *   convolution, where the "kernel" is the big output gradient. A ConvTranspose would compute every
 *   product and keep a k×k corner, so the roles swap: a Conv of the kernel by the input dilated by d
 *   (ONNX `dilations`), flipped and transposed back.
 */
function emitConv(g: GraphBuilder, lhs: string, rhs: string, lhsShape: number[], rhsShape: number[], outShape: number[], p: ConvPrimitiveParams): string {
  const n = lhsShape.length - 2;
  if (p.vmapDims !== 0) throw new OnnxUnsupportedError("ONNX export: grouped or batched convolutions are not supported");
  const inSp = lhsShape.slice(2);
  const kSp = rhsShape.slice(2);
  const outSp = outShape.slice(2);
  const dilated = p.lhsDilation.some((d) => d !== 1);
  if (!dilated) {
    const c = cropNegativePads(g, lhs, inSp, p.padding);
    return g.one("Conv", [c.x, rhs], [attrInts("strides", p.strides), attrInts("dilations", p.rhsDilation), attrInts("pads", c.pads)]);
  }
  if (p.strides.some((s) => s !== 1)) throw new OnnxUnsupportedError("ONNX export: a convolution with both input dilation and stride is not supported");
  const d = p.lhsDilation;
  if (outSp.every((o, i) => o < kSp[i]) && p.rhsDilation.every((r) => r === 1)) {
    // out[b,o,j] = Σ lhs[b,c,i]·rhs[o,c,i·d + pl − j]: a Conv of rhs (batch o, channels c) by lhs
    // (dilated by d) at position t = Lout − 1 − j, padded so that t runs over 0 … Lout − 1
    const pads = p.padding.map(([pl], i): [number, number] => {
      const begin = outSp[i] - 1 - pl;
      return [begin, outSp[i] - kSp[i] - begin + (inSp[i] - 1) * d[i]];
    });
    const c = cropNegativePads(g, rhs, kSp, pads);
    const swapped = g.one("Conv", [c.x, lhs], [attrInts("dilations", d), attrInts("pads", c.pads)]);
    return g.one("Transpose", [flipSpatial(g, swapped, n)], [attrInts("perm", [1, 0, ...Array.from({ length: n }, (_, i) => i + 2)])]);
  }
  // ConvTranspose: output j of the dilated conv is index j + (k − 1)·r − pl of the full transposed conv
  const kernel = flipSpatial(g, g.one("Transpose", [rhs], [attrInts("perm", [1, 0, ...Array.from({ length: n }, (_, i) => i + 2)])]), n);
  const window = p.padding.map(([pl], i): [number, number] => {
    const full = (inSp[i] - 1) * d[i] + (kSp[i] - 1) * p.rhsDilation[i] + 1;
    const off = (kSp[i] - 1) * p.rhsDilation[i] - pl;
    return [off, full - off - outSp[i]];
  });
  const pads = [...window.map(([a]) => Math.max(0, a)), ...window.map(([, b]) => Math.max(0, b))];
  let out = g.one("ConvTranspose", [lhs, kernel], [attrInts("strides", d), attrInts("dilations", p.rhsDilation), attrInts("pads", pads)]);
  // a window reaching past the full output reads zeros
  if (window.some(([a, b]) => a < 0 || b < 0)) {
    const zeros = [0, 0, ...window.map(([a]) => Math.max(0, -a)), 0, 0, ...window.map(([, b]) => Math.max(0, -b))];
    out = g.one("Pad", [out, g.ints(zeros)]);
  }
  return out;
}

const UNARY: Record<string, string> = {
  neg: "Neg",
  reciprocal: "Reciprocal",
  exp: "Exp",
  log: "Log",
  sqrt: "Sqrt",
  sin: "Sin",
  cos: "Cos",
  floor: "Floor",
  ceil: "Ceil",
  erf: "Erf",
  stop_gradient: "Identity",
};
const BINARY: Record<string, string> = { add: "Add", mul: "Mul", min: "Min", max: "Max" };
const REDUCE: Record<string, string> = { Add: "ReduceSum", Max: "ReduceMax", Min: "ReduceMin", Mul: "ReduceProd" };

/** Translate a traced function to ONNX. `args` give shapes and dtypes only (not consumed). */
export function compileToOnnx(f: (...args: never[]) => JsTree<JaxArray>, args: unknown[], opts: OnnxCompileOptions = {}): OnnxProgram {
  // convolutions as the engine's conv primitive, which becomes Conv / ConvTranspose nodes (emitConv)
  const traced = withConvLowering("native", () =>
    (makeJaxpr as unknown as (f: unknown) => (...a: unknown[]) => { jaxpr: { jaxpr: Jaxpr; consts: JaxArray[] }; treedef: unknown })(f)(
      ...args.map((a) => tree.ref(a as JsTree<JaxArray>)),
    ),
  );
  const closed = traced.jaxpr;
  const jaxpr = closed.jaxpr.flatten().simplify();
  const g = new GraphBuilder();
  const names = new Map<Var, string>();
  const views = new Map<Var, View>();
  const nameOf = (a: Atom): string => {
    if (isLit(a)) return g.constant(a.aval.dtype, [], [a.value]);
    let n = names.get(a);
    if (n === undefined) {
      const view = views.get(a);
      if (!view) throw new Error("ONNX export: internal error, variable used before definition");
      n = materialize(g, view, a.aval.shape);
      names.set(a, n);
    }
    return n;
  };
  const viewOf = (a: Atom): View => {
    const v = isLit(a) ? undefined : views.get(a);
    if (v) return v;
    const shape = a.aval.shape;
    return { base: nameOf(a), baseShape: shape, unsq: shape, perm: shape.map((_, i) => i) };
  };

  // constants captured by the trace become initializers; the remaining binders are the inputs
  const nConst = closed.consts.length;
  closed.consts.forEach((c, i) => {
    const name = g.fresh("const");
    const v = jaxpr.inBinders[i];
    g.tensor(name, v.aval.dtype, v.aval.shape, c.ref.dataSync() as Float32Array);
    names.set(v, name);
  });
  const inputs: OnnxValueInfo[] = [];
  const randomInputs = opts.randomInputs ?? {};
  jaxpr.inBinders.slice(nConst).forEach((v, i) => {
    const kind = randomInputs[i];
    if (kind) {
      if (v.aval.dtype !== "float32") throw new OnnxUnsupportedError("ONNX export: random inputs must be float32");
      const attrs = [attrInts("shape", v.aval.shape), attrInt("dtype", TensorType.FLOAT), attrFloat("seed", (opts.seed ?? 0) + i)];
      names.set(v, g.one(kind === "uniform" ? "RandomUniform" : "RandomNormal", [], attrs));
      return;
    }
    const name = `in${i}`;
    names.set(v, name);
    inputs.push({ name, shape: v.aval.shape.slice(), dtype: dtypeOf(v.aval.dtype).dtype });
  });

  for (const eqn of jaxpr.eqns) {
    const outAval = eqn.outBinders[0]?.aval;
    const p = eqn.params;
    const prim = eqn.primitive;
    // broadcast and transpose stay lazy views (see View); dot reads views directly
    if (prim === "broadcast") {
      const v = viewOf(eqn.inputs[0]);
      const unsq = v.unsq.slice();
      const perm = v.perm.slice();
      for (const i of (p.axis as number[]).slice().sort((a, b) => a - b)) {
        unsq.push(1);
        perm.splice(i, 0, unsq.length - 1);
      }
      views.set(eqn.outBinders[0], { ...v, unsq, perm });
      continue;
    }
    if (prim === "transpose") {
      const v = viewOf(eqn.inputs[0]);
      views.set(eqn.outBinders[0], { ...v, perm: (p.perm as number[]).map((i) => v.perm[i]) });
      continue;
    }
    if (prim === "dot") {
      const [x, y] = eqn.inputs.map(viewOf);
      if (preShape(x).at(-1) === preShape(y).at(-1)) {
        views.set(eqn.outBinders[0], emitDot(g, x, y));
        continue;
      }
    }
    const ins = eqn.inputs.map(nameOf);
    let outs: string[];
    if (prim in BINARY) {
      outs = [g.one(BINARY[prim], ins)];
    } else if (prim in UNARY) {
      outs = [g.one(UNARY[prim], ins)];
    } else if (prim === "erfc") {
      outs = [g.one("Sub", [g.constant(outAval.dtype, [], [1]), g.one("Erf", ins)])];
    } else if (prim === "idiv") {
      if (outAval.dtype === "float32") throw new OnnxUnsupportedError("ONNX export: float idiv is not supported");
      outs = [g.one("Div", ins)];
    } else if (prim === "mod") {
      outs = [g.one("Mod", ins, [attrInt("fmod", 1)])];
    } else if (prim === "cast") {
      outs = [g.one("Cast", ins, [attrInt("to", dtypeOf(p.dtype as string).code)])];
    } else if (prim === "compare") {
      const op = p.op as string;
      if (op === "less") outs = [g.one("Less", ins)];
      else if (op === "less_equal") outs = [g.one("LessOrEqual", ins)];
      else if (op === "equal") outs = [g.one("Equal", ins)];
      else if (op === "not_equal") outs = [g.one("Not", [g.one("Equal", ins)])];
      else throw new OnnxUnsupportedError(`ONNX export: compare ${op} is not supported`);
    } else if (prim === "where") {
      outs = [g.one("Where", ins)];
    } else if (prim === "reduce") {
      const op = REDUCE[p.op as string];
      if (!op) throw new OnnxUnsupportedError(`ONNX export: reduce ${p.op} is not supported`);
      const axis = p.axis as number[];
      if (axis.length === 0) outs = [g.one("Identity", ins)];
      else if (op === "ReduceSum") outs = [g.one(op, [ins[0], g.ints(axis)], [attrInt("keepdims", 0)])];
      else outs = [g.one(op, [ins[0]], [attrInts("axes", axis), attrInt("keepdims", 0)])];
    } else if (prim === "dot") {
      throw new OnnxUnsupportedError("ONNX export: dot with a broadcast contraction axis is not supported");
    } else if (prim === "reshape") {
      outs = [g.one("Reshape", [ins[0], g.ints(p.shape as number[])])];
    } else if (prim === "concatenate") {
      outs = [g.one("Concat", ins, [attrInt("axis", p.axis as number)])];
    } else if (prim === "split") {
      const sizes = p.sizes as number[];
      outs = g.node("Split", [ins[0], g.ints(sizes)], [attrInt("axis", p.axis as number)], sizes.length);
    } else if (prim === "shrink") {
      const slice = p.slice as [number, number][];
      outs = [g.one("Slice", [ins[0], g.ints(slice.map((s) => s[0])), g.ints(slice.map((s) => s[1]))])];
    } else if (prim === "pad") {
      const width = p.width as [number, number][];
      if (width.some(([a, b]) => a < 0 || b < 0)) throw new OnnxUnsupportedError("ONNX export: negative padding is not supported");
      outs = [g.one("Pad", [ins[0], g.ints([...width.map((w) => w[0]), ...width.map((w) => w[1])])])];
    } else if (prim === "conv") {
      const [lhs, rhs] = eqn.inputs.map((v) => v.aval.shape);
      outs = [emitConv(g, ins[0], ins[1], lhs, rhs, outAval.shape, p as unknown as ConvPrimitiveParams)];
    } else if (prim === "flip") {
      const axis = p.axis as number[];
      const big = 2 ** 31 - 1;
      outs = [g.one("Slice", [ins[0], g.ints(axis.map(() => -1)), g.ints(axis.map(() => -big)), g.ints(axis), g.ints(axis.map(() => -1))])];
    } else {
      throw new OnnxUnsupportedError(`ONNX export: primitive "${prim}" is not supported (random numbers must be inputs)`);
    }
    eqn.outBinders.forEach((v, i) => names.set(v, outs[i]));
  }

  // graph outputs: rename the producing node's output (an Identity would copy the tensor)
  const produced = new Map<string, OnnxTypes.INodeProto>();
  for (const node of g.nodes) for (const o of node.output ?? []) produced.set(o, node);
  const renamed = new Map<string, string>();
  const outputs: OnnxValueInfo[] = jaxpr.outs.map((a, i) => {
    const name = `out${i}`;
    const src = nameOf(a);
    if (produced.has(src) && !renamed.has(src)) renamed.set(src, name);
    else g.node("Identity", [renamed.get(src) ?? src], [], 1, [name]);
    return { name, shape: a.aval.shape.slice(), dtype: dtypeOf(a.aval.dtype).dtype };
  });
  for (const node of g.nodes) {
    node.input = (node.input ?? []).map((n) => renamed.get(n) ?? n);
    node.output = (node.output ?? []).map((n) => renamed.get(n) ?? n);
  }
  closed.consts.forEach((c) => c.dispose());

  const valueInfo = (v: OnnxValueInfo): OnnxTypes.IValueInfoProto => ({
    name: v.name,
    type: { tensorType: { elemType: dtypeOf(v.dtype).code, shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "vaekit",
    opsetImport: [{ domain: "", version: OPSET }],
    graph: {
      name: "vaekit",
      node: g.nodes,
      initializer: g.initializers,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return { bytes, inputs, outputs, outTree: traced.treedef, nodes: g.nodes.length };
}
