/**
 * The speed benchmark compares like with like: its vaekit models have exactly the parameter
 * counts of the PyTorch modules in bench/torch_reference.py (computed here from the layer shapes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, random, tree, type Array } from "../src/engine/index.js";
import { buildVae } from "../src/models/vae.js";
import { referenceConfig } from "../src/models/config.js";
import { convBenchConfig } from "../bench/speed.js";

await initEngine("wasm");

const count = (p: object) => (tree.leaves(p) as Array[]).reduce((s, a) => s + a.shape.reduce((x, y) => x * y, 1), 0);
const linear = (i: number, o: number) => i * o + o;
const conv = (cin: number, cout: number, k: number) => cin * cout * k * k + cout;

test("the benchmark's conv VAE has the PyTorch ConvVAE's parameters (conv 1→32→64 k4 s2, mirrored)", () => {
  const model = buildVae(convBenchConfig(20));
  const params = model.init(random.key(0));
  const torch = conv(1, 32, 4) + conv(32, 64, 4) + 2 * linear(3136, 20) + linear(20, 3136) + conv(64, 32, 4) + conv(32, 1, 4);
  assert.equal(count(params), torch);
  assert.equal(torch, 258025);
});

test("the benchmark's MLP is the reference 784-400-200-20 VAE", () => {
  const params = buildVae(referenceConfig(20)).init(random.key(0));
  const torch = linear(784, 400) + linear(400, 200) + 2 * linear(200, 20) + linear(20, 200) + linear(200, 400) + linear(400, 784);
  assert.equal(count(params), torch);
});
