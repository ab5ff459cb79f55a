/**
 * Convolutions on the ONNX engine: the exporter traces conv2d / convTranspose2d as the engine's
 * conv primitive and writes Conv / ConvTranspose nodes (no patch copies). Forward values and the
 * gradients with respect to input and weights must equal the patch formulation the engine runs
 * (conv.ts), to 1e-4 relative error, over the geometries the model zoo uses and a few awkward ones.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import type { onnx as OnnxTypes } from "onnx-proto";
import { initEngine, jitted, np, random, relativeL2Error, valueAndGrad, type Array } from "../src/engine/index.js";
import { compileToOnnx } from "../src/engine/onnx.js";
import { createOnnxSession, loadOnnxRuntime } from "../src/engine/onnxRuntime.js";
import { conv2d, convOutputSize, convTranspose2d, initConv, initConvTranspose, outputPaddingFor, type ConvGeometry } from "../src/models/conv.js";
import { Rng } from "../src/data/rng.js";

await initEngine("wasm");
const needsOrt = (await loadOnnxRuntime()) ? {} : { skip: "onnxruntime-node is not installed" };
const onnx = (onnxProto as unknown as { onnx: typeof OnnxTypes }).onnx;

const host = (a: Array) => a.dataSync() as Float32Array;
const normals = (n: number, seed: number) => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
};
const opTypes = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);

/**
 * Loss Σ y·r for a fixed random r, so the gradients are the layer's vector-Jacobian products:
 * returns [y, ∂/∂x, ∂/∂w, ∂/∂b].
 */
function layerWithGrads(layer: (x: Array, w: Array, b: Array) => Array) {
  return (x: Array, w: Array, b: Array, r: Array) => {
    const [[, y], [gx, gw, gb]] = valueAndGrad(
      (xx: Array, ww: Array, bb: Array) => {
        const out = layer(xx, ww, bb);
        return [out.ref.mul(r.ref).sum(), out] as [Array, Array];
      },
      { argnums: [0, 1, 2], hasAux: true },
    )(x, w, b);
    r.dispose();
    return [y, gx, gw, gb];
  };
}

type LayerFn = (x: Array, w: Array, b: Array, r: Array) => Array[];

/** `padFree`: every input row is read, so no zero Pad is needed anywhere (patch copies would need them). */
async function compare(name: string, f: LayerFn, shapes: number[][], wantOps: string[], padFree: boolean) {
  const data = shapes.map((s, i) => normals(s.reduce((a, b) => a * b, 1), 10 + i));
  const args = () => data.map((d, i) => np.array(d).reshape(shapes[i])) as [Array, Array, Array, Array];
  const program = compileToOnnx(f as never, args());
  const ops = opTypes(program.bytes);
  for (const op of wantOps) assert.ok(ops.includes(op), `${name}: the graph has a ${op} node (ops: ${[...new Set(ops)].join(", ")})`);
  if (padFree) assert.ok(!ops.includes("Pad"), `${name}: no padding copies (ops: ${[...new Set(ops)].join(", ")})`);
  const session = await createOnnxSession(program);
  const got = await session.run(data);
  await session.release();
  const want = (jitted(f)(...args()) as Array[]).map(host);
  want.forEach((w, i) => assert.ok(relativeL2Error(got[i] as Float32Array, w) < 1e-4, `${name}, output ${["y", "dx", "dw", "db"][i]}: rel. error ${relativeL2Error(got[i] as Float32Array, w)}`));
}

// [input size, channels in, channels out, geometry]: the zoo's k4 s2 p1 (28 → 14 → 7), odd
// sizes, k3 s1 "same", k5 s2 p2, k1, and a kernel wider than the stride with no padding
const GEOMETRIES: [number, number, number, ConvGeometry][] = [
  [28, 1, 4, { kernel: 4, stride: 2, padding: 1 }],
  [7, 3, 5, { kernel: 4, stride: 2, padding: 1 }],
  [9, 2, 3, { kernel: 3, stride: 1, padding: 1 }],
  [11, 2, 4, { kernel: 5, stride: 2, padding: 2 }],
  [6, 3, 2, { kernel: 1, stride: 1, padding: 0 }],
  [10, 2, 3, { kernel: 3, stride: 3, padding: 0 }],
];

for (const [size, cin, cout, g] of GEOMETRIES) {
  const tag = `${size}×${size}×${cin}→${cout}, k${g.kernel} s${g.stride} p${g.padding}`;
  const out = convOutputSize(size, g);
  const padFree = (size + 2 * g.padding - g.kernel) % g.stride === 0;
  const B = 3;
  test(`conv2d on ONNX Conv nodes equals the patch formulation, values and gradients (${tag})`, needsOrt, async () => {
    const { w, b } = initConv(random.key(1), cin, cout, g.kernel);
    const f = layerWithGrads((x, ww, bb) => conv2d(x, { w: ww, b: bb }, g));
    await compare(`conv ${tag}`, f, [[B, size, size, cin], w.shape, b.shape, [B, out, out, cout]], ["Conv"], padFree);
    w.dispose();
    b.dispose();
  });
  test(`convTranspose2d on ONNX ConvTranspose nodes equals the patch formulation, values and gradients (${tag})`, needsOrt, async () => {
    // the mirror of the conv above: out × out × cout back to size × size × cin
    const op = outputPaddingFor(out, size, g);
    const { w, b } = initConvTranspose(random.key(2), cout, cin, g.kernel);
    const f = layerWithGrads((y, ww, bb) => convTranspose2d(y, { w: ww, b: bb }, g, [op, op]));
    await compare(`transposed ${tag}`, f, [[B, out, out, cout], w.shape, b.shape, [B, size, size, cin]], g.stride > 1 ? ["ConvTranspose"] : ["Conv"], padFree);
    w.dispose();
    b.dispose();
  });
}
