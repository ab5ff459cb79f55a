/**
 * The ONNX engine: traced functions compiled to ONNX and run by ONNX Runtime give the engine's
 * own numbers (losses, gradients, training steps, IWAE log-weights) to float32 tolerance; the
 * SIMD Adam kernel equals the engine's Adam. Skips the runtime tests where onnxruntime-node is
 * not installed (it is an optional dependency).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { adamInit, adamUpdate, defaultAdam, initEngine, jitted, keyFromWords, np, random, relativeL2Error, tree, valueAndGrad, type Array } from "../src/engine/index.js";
import { compileToOnnx, OnnxUnsupportedError } from "../src/engine/onnx.js";
import { createOnnxSession, loadOnnxRuntime } from "../src/engine/onnxRuntime.js";
import { createHostAdam } from "../src/engine/optimWasm.js";
import { buildVae, type VaeParams } from "../src/models/vae.js";
import { parseVaeConfig, type VaeConfig } from "../src/models/config.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, makeTrainStep } from "../src/train/trainer.js";
import { flatLayout, flattenToHost, noiseShape, shardLoss } from "../src/train/parallelShard.js";
import { makeOnnxTrainStep } from "../src/train/onnxStep.js";
import { logWeightsWithNoise, makeOnnxIwae } from "../src/train/onnxEval.js";
import { iwaeLogWeights } from "../src/objectives/elbo.js";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";

await initEngine("wasm");
const ort = await loadOnnxRuntime();
const needsOrt = ort ? {} : { skip: "onnxruntime-node is not installed" };

const base = {
  format: "vaekit.vae/1",
  inputShape: [6, 6, 1],
  latentDim: 3,
  encoder: { type: "mlp", hidden: [24, 12] },
  decoder: { type: "mlp", hidden: [12, 24] },
  likelihood: { type: "bernoulli" },
};
const mlp = parseVaeConfig(base);
const conv = parseVaeConfig({
  ...base,
  inputShape: [8, 8, 1],
  encoder: { type: "conv", channels: [4, 6], kernel: 4, stride: 2, hidden: [] },
  decoder: { type: "conv", channels: [6, 4], kernel: 4, stride: 2, hidden: [] },
});
const iwae = parseVaeConfig({ ...base, objective: { type: "iwae", k: 3 } });
const gaussian = parseVaeConfig({ ...base, likelihood: { type: "gaussian", variance: "learned" }, beta: 0.5 });

const host = (a: Array) => a.dataSync() as Float32Array;
function uniforms(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform());
}
function normals(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

test("the SIMD Adam kernel equals its JS fallback and the engine's adamUpdate (with clipping)", () => {
  const sizes = [7, 12, 1, 33];
  const rng = new Rng(3);
  const start = sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal()));
  const grads = [0, 1, 2].map(() => sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal() * 0.1)));
  for (const clipNorm of [0, 0.05]) {
    const cfg = { ...defaultAdam, lr: 0.01, clipNorm };
    const simd = createHostAdam(sizes);
    const js = createHostAdam(sizes, { forceJs: true });
    for (const s of [simd, js]) s.params.forEach((p, i) => p.set(start[i]));
    let params = Object.fromEntries(start.map((a, i) => [`p${i}`, np.array(a)])) as unknown as VaeParams;
    let opt = adamInit(params);
    const step = jitted((p: VaeParams, o: typeof opt, g: VaeParams) => adamUpdate(p, g, o, cfg));
    for (const g of grads) {
      simd.grads.forEach((a, i) => a.set(g[i]));
      js.grads.forEach((a, i) => a.set(g[i]));
      assert.equal(simd.update(cfg), true, "wasm SIMD is available in Node 20");
      assert.equal(js.update(cfg), false);
      [params, opt] = step(params, opt, Object.fromEntries(g.map((a, i) => [`p${i}`, np.array(a)])) as unknown as VaeParams);
    }
    assert.equal(simd.t, 3);
    sizes.forEach((_, i) => {
      const want = host((params as Record<string, Array>)[`p${i}`].ref);
      assert.ok(relativeL2Error(simd.params[i], want) < 1e-6, `simd leaf ${i}: ${relativeL2Error(simd.params[i], want)}`);
      assert.ok(relativeL2Error(js.params[i], want) < 1e-6);
      assert.ok(relativeL2Error(simd.v[i], host((opt.v as Record<string, Array>)[`p${i}`].ref)) < 1e-5);
    });
  }
});

for (const [name, config] of [["MLP", mlp], ["conv", conv], ["IWAE k=3", iwae], ["Gaussian learned variance, β=0.5", gaussian]] as [string, VaeConfig][]) {
  test(`ONNX gradient of the training loss equals the engine's (${name})`, needsOrt, async () => {
    const model = buildVae(config);
    const params = model.init(random.key(1));
    const B = 5;
    const D = config.inputShape[0] * config.inputShape[1] * config.inputShape[2];
    const eShape = noiseShape(config, B);
    const x = uniforms(B * D, 1).map((v) => (v < 0.4 ? 1 : 0));
    const eps = normals(eShape.reduce((a, b) => a * b, 1), 2);
    const [leaves, def] = tree.flatten(params) as [Array[], ReturnType<typeof tree.flatten>[1]];
    const f = (...args: Array[]) => {
      const [xa, ea, w] = args.splice(-3);
      const [[loss], grads] = valueAndGrad((p: VaeParams) => shardLoss(model, p, xa, ea, w, B), { hasAux: true })(tree.unflatten(def, args) as VaeParams);
      return [loss, ...(tree.leaves(grads) as Array[])];
    };
    const args = () => [...leaves.map((a) => a.ref), np.array(x).reshape([B, D]), np.array(eps).reshape(eShape), np.array(config.beta, { dtype: np.float32 })];
    const program = compileToOnnx(f as never, args());
    const session = await createOnnxSession(program);
    const got = await session.run([...leaves.map((a) => host(a.ref)), x, eps, Float32Array.of(config.beta)]);
    await session.release();
    const want = (jitted(f)(...args()) as Array[]).map(host);
    assert.equal(got.length, want.length);
    want.forEach((w, i) => assert.ok(relativeL2Error(got[i] as Float32Array, w) < 1e-4, `output ${i}: rel. error ${relativeL2Error(got[i] as Float32Array, w)}`));
  });
}

test("the ONNX training step equals makeTrainStep given the same noise (2 steps)", needsOrt, async () => {
  const tc = TrainConfig.parse({ epochs: 1, batchSize: 8, lr: 3e-3, clipNorm: 2 });
  const model = buildVae(mlp);
  const state = initTrainState(model, 0);
  const layout = flatLayout(state.params);
  const onnx = await makeOnnxTrainStep(mlp, tc, { noise: "inputs" });
  onnx.load(state.params, state.opt);
  const step = makeTrainStep(model, tc);
  let params = state.params, opt = state.opt;
  for (const [k0, k1] of [[1, 2], [3, 4]]) {
    const x = uniforms(8 * 36, k0);
    // the noise makeTrainStep draws from this key
    const [kBin, kLoss] = np.unstack(random.split(keyFromWords(k0, k1), 2));
    const u = host(random.uniform(kBin, [8, 36]));
    const eps = host(random.normal(kLoss, [8, 3]));
    const s = await onnx.step(x, { u, eps }, 0.8);
    const out = step(params, opt, np.array(x).reshape([8, 36]), keyFromWords(k0, k1), np.array(0.8, { dtype: np.float32 }));
    const [loss, recon, kl] = host(out.stats);
    assert.ok(Math.abs(s.loss - loss) < 1e-4 * Math.abs(loss));
    assert.ok(Math.abs(s.recon - recon) < 1e-4 * Math.abs(recon));
    assert.ok(Math.abs(s.kl - kl) < 1e-4 * Math.abs(kl) + 1e-6);
    params = out.params;
    opt = out.opt;
  }
  const got = onnx.state();
  assert.ok(relativeL2Error(flattenToHost(got.params, layout), flattenToHost(params, layout)) < 1e-5);
  assert.ok(relativeL2Error(flattenToHost(got.opt.m, layout), flattenToHost(opt.m, layout)) < 1e-4);
  assert.ok(relativeL2Error(flattenToHost(got.opt.v, layout), flattenToHost(opt.v, layout)) < 1e-4);
  assert.equal(host(got.opt.t)[0], 2);
  await onnx.close();
});

test("the ONNX training step draws its own noise deterministically per seed", needsOrt, async () => {
  const tc = TrainConfig.parse({ epochs: 1, batchSize: 4 });
  const run = async (seed: number) => {
    const s = await makeOnnxTrainStep(mlp, tc, { seed });
    const st = initTrainState(buildVae(mlp), 0);
    s.load(st.params, st.opt);
    const losses = [];
    for (let i = 0; i < 3; i++) losses.push((await s.step(uniforms(4 * 36, i))).loss);
    await s.close();
    return losses;
  };
  const a = await run(1);
  assert.deepEqual(await run(1), a);
  assert.notDeepEqual(await run(2), a);
  assert.ok(a.every(Number.isFinite));
});

test("ONNX IWAE log-weights equal the engine's iwaeLogWeights for the same samples", needsOrt, async () => {
  const model = buildVae(mlp);
  const params = model.init(random.key(4));
  const B = 4, c = 6;
  const x = uniforms(B * 36, 9).map((v) => (v < 0.5 ? 1 : 0));
  const onnx = await makeOnnxIwae(mlp, { batch: B, chunk: c, noise: "inputs" });
  const key = keyFromWords(11, 12);
  // sampleN(key, c) inside iwaeLogWeights draws random.normal(key, [c, B, L])
  const eps = host(random.normal(key.ref, [c, B, 3]));
  const want = host(jitted((p: VaeParams, xa: Array, k: Array) => iwaeLogWeights(model, p, xa, k, c))(tree.ref(params), np.array(x).reshape([B, 36]), key));
  const leaves = (tree.leaves(params) as Array[]).map((a) => host(a.ref));
  const got = await onnx.logWeights(leaves, x, eps);
  assert.ok(relativeL2Error(got, want) < 1e-5, `rel. error ${relativeL2Error(got, want)}`);
  const direct = host(jitted((p: VaeParams, xa: Array, e: Array) => logWeightsWithNoise(model, p, xa, e))(tree.ref(params), np.array(x).reshape([B, 36]), np.array(eps).reshape([c, B, 3])));
  assert.ok(relativeL2Error(direct, want) < 1e-6);
  await onnx.close();
});

test("ONNX IWAE evaluation handles a ragged last batch and checks k", needsOrt, async () => {
  const model = buildVae(mlp);
  const params = model.init(random.key(4));
  const onnx = await makeOnnxIwae(mlp, { batch: 4, chunk: 5 });
  const x = uniforms(6 * 36, 2).map((v) => (v < 0.5 ? 1 : 0));
  const r = await onnx.evaluate(params, x, 10);
  assert.equal(r.n, 6);
  assert.equal(r.perExample.length, 6);
  assert.ok(r.perExample.every((v) => Number.isFinite(v) && v > 0));
  // a 36-pixel Bernoulli model near initialisation: about 36·log 2 nats per example
  assert.ok(r.iwae_nll > 10 && r.iwae_nll < 60, `NLL ${r.iwae_nll}`);
  await assert.rejects(onnx.evaluate(params, x, 7), /multiple of the chunk size 5/);
  await onnx.close();
});

test("ONNX export refuses what it cannot express, with a clear message", async () => {
  const f = (key: Array) => random.normal(key, [3]);
  assert.throws(() => compileToOnnx(f as never, [keyFromWords(1, 2)]), (e: Error) => e instanceof OnnxUnsupportedError && /random_bits/.test(e.message));
  const tc = TrainConfig.parse({ epochs: 1, batchSize: 4 });
  const freeBits = parseVaeConfig({ ...base, objective: { type: "elbo", freeBits: 0.5 } });
  await assert.rejects(makeOnnxTrainStep(freeBits, tc), (e: Error) => e instanceof VaekitError && /free bits/.test(e.message));
});
