/**
 * The autoregressive Bernoulli likelihood (local PixelCNN-style context, likelihood
 * { type: "bernoulli", autoregressive: { kernel, hidden } }): normalisation over every binary
 * image, an independent float64 formula, causality, exact sampling and mean field, IWAE's shared
 * context, training against the plain Bernoulli, model files, PyTorch layout and the CLI.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, jitted, np, random, tree, type Array } from "../src/engine/index.js";
import { parseVaeConfig, type VaeConfig } from "../src/models/config.js";
import { buildVae, type VaeParams } from "../src/models/vae.js";
import { likelihoodHead } from "../src/models/likelihood.js";
import { makeInference } from "../src/models/inference.js";
import { decodeModel, encodeModel, toStateDict } from "../src/models/io.js";
import { loadModel, saveModel } from "../src/models/files.js";
import { AutoregressiveBernoulli, causalSweeps, causalTaps, iterateToFixedPoint } from "../src/distributions/likelihoods.js";
import { iwaeLogWeights } from "../src/objectives/elbo.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, trainVae } from "../src/train/trainer.js";
import { makeEvaluator } from "../src/train/evaluate.js";
import { loadDataset } from "../src/data/load.js";
import { binarize } from "../src/data/datasets.js";
import { encodeIdx } from "../src/data/idx.js";
import { Rng } from "../src/data/rng.js";
import { modelConfigFrom } from "../src/cli/model-options.js";
import { probeTorch } from "../bench/torch.js";

await initEngine("wasm");
const host = (a: Array) => Float64Array.from(a.dataSync() as Float32Array);

// ---- an independent float64 reference ----

interface HostContext {
  k: number;
  C: number;
  /** full k×k kernel, HWIO [k, k, 1, C], masked entries included (they must be ignored) */
  w: Float64Array;
  b: Float64Array;
  hidden?: { condW: Float64Array; condB: Float64Array; outW: Float64Array; outB: number };
}

/** Type A: window position (r, c) is a pixel strictly before the centre in raster order. */
const beforeCentre = (r: number, c: number, p: number) => r < p || (r === p && c < p);

/** ℓ_i for one image x (h·w) and decoder output d, pixel by pixel. */
function hostLogits(x: ArrayLike<number>, d: ArrayLike<number>, h: number, w: number, ctx: HostContext): Float64Array {
  const { k, C } = ctx;
  const p = (k - 1) / 2;
  const out = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const a = Float64Array.from(ctx.b);
      for (let r = 0; r < k; r++) {
        for (let c = 0; c < k; c++) {
          const y = i + r - p, xx = j + c - p;
          if (!beforeCentre(r, c, p) || y < 0 || y >= h || xx < 0 || xx >= w) continue;
          for (let o = 0; o < C; o++) a[o] += ctx.w[(r * k + c) * C + o] * x[y * w + xx];
        }
      }
      const di = d[i * w + j];
      let l = di;
      if (!ctx.hidden) l += a[0];
      else {
        l += ctx.hidden.outB;
        for (let o = 0; o < C; o++) l += ctx.hidden.outW[o] * Math.max(0, a[o] + ctx.hidden.condW[o] * di + ctx.hidden.condB[o]);
      }
      out[i * w + j] = l;
    }
  }
  return out;
}

const log1pExp = (l: number) => (l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l)));
const hostLogProb = (x: ArrayLike<number>, l: Float64Array) => l.reduce((s, li, i) => s + x[i] * li - log1pExp(li), 0);

/** Random context parameters (scale sets how strongly pixels depend on each other). */
function randomContext(rng: Rng, k: number, hidden: number, scale: number): HostContext {
  const C = hidden > 0 ? hidden : 1;
  const r = (n: number, s: number) => Float64Array.from({ length: n }, () => rng.normal() * s);
  const ctx: HostContext = { k, C, w: r(k * k * C, scale), b: r(C, 0.5) };
  if (hidden > 0) ctx.hidden = { condW: r(C, 1), condB: r(C, 0.5), outW: r(C, scale), outB: rng.normal() * 0.5 };
  return ctx;
}

/** The same parameters as the model's parameter tree entries. */
function contextParams(ctx: HostContext): VaeParams {
  const f = (a: Float64Array, shape: number[]) => np.array(Float32Array.from(a)).reshape(shape);
  const p: VaeParams = { dec_ar_conv: { w: f(ctx.w, [ctx.k, ctx.k, 1, ctx.C]), b: f(ctx.b, [ctx.C]) } };
  if (ctx.hidden) {
    p.dec_ar_cond = { w: f(ctx.hidden.condW, [1, ctx.C]), b: f(ctx.hidden.condB, [ctx.C]) };
    p.dec_ar_out = { w: f(ctx.hidden.outW, [ctx.C, 1]), b: f(Float64Array.of(ctx.hidden.outB), [1]) };
  }
  return p;
}

const arLikelihood = (kernel: number, hidden: number) => ({ type: "bernoulli" as const, autoregressive: { kernel, hidden } });

/** p(x|z) for decoder outputs d [N, h·w] (host) with the given context. */
function arDistribution(ctx: HostContext, d: Float32Array, h: number, w: number): AutoregressiveBernoulli {
  const head = likelihoodHead(arLikelihood(ctx.k, ctx.hidden ? ctx.C : 0), [h, w, 1]);
  return head.distribution(np.array(d).reshape([d.length / (h * w), h * w]), contextParams(ctx)) as AutoregressiveBernoulli;
}

/** All 2^D binary images of D pixels, [2^D · D], image m has pixel i = bit i of m. */
function allBinaryImages(D: number): Float32Array {
  const n = 2 ** D;
  return Float32Array.from({ length: n * D }, (_, t) => (Math.floor(t / D) >> t % D) & 1);
}

const tile = (row: Float32Array, n: number) => Float32Array.from({ length: n * row.length }, (_, t) => row[t % row.length]);

const logSumExp = (a: Float64Array) => {
  const m = Math.max(...a);
  return m + Math.log(a.reduce((s, v) => s + Math.exp(v - m), 0));
};

// ---- the distribution ----

test("causal taps and sweep counts: the type-A window and the depth of its dependency chains", () => {
  assert.deepEqual(causalTaps(3), [[0, 0], [0, 1], [0, 2], [1, 0]]);
  assert.equal(causalTaps(5).length, 12);
  assert.equal(causalTaps(7).length, 24);
  // a row of w pixels is a chain of w; each further row adds p + 1 (the window reaches p to the right)
  assert.equal(causalSweeps(1, 9, 5), 9);
  assert.equal(causalSweeps(28, 28, 5), 28 + 27 * 3);
  assert.equal(causalSweeps(28, 28, 7), 28 + 27 * 4);
  assert.equal(causalSweeps(3, 3, 3), 3 + 2 * 2);
});

test("normalisation: on 3×3 images the probabilities of all 512 binary images sum to 1 (linear and hidden, k = 3, 5, 7)", () => {
  const rng = new Rng(1);
  const X = allBinaryImages(9);
  for (const [k, hidden] of [[3, 0], [3, 4], [5, 0], [5, 8], [7, 3]]) {
    for (let rep = 0; rep < 2; rep++) {
      const ctx = randomContext(rng, k, hidden, 1.5);
      const d = Float32Array.from({ length: 9 }, () => rng.normal() * 2);
      const px = arDistribution(ctx, tile(d, 512), 3, 3);
      const lp = host(jitted((x: Array) => px.logProb(x))(np.array(X).reshape([512, 9])));
      const total = Math.exp(logSumExp(lp));
      assert.ok(Math.abs(total - 1) < 2e-5, `k${k} hidden ${hidden}: Σ p = ${total}`);
      // not the plain Bernoulli: the context changes the probabilities
      const plain = globalThis.Array.from({ length: 512 }, (_, m) => hostLogProb(X.subarray(m * 9, m * 9 + 9), Float64Array.from(d)));
      assert.ok(plain.some((v, m) => Math.abs(v - lp[m]) > 0.1), "the context matters");
    }
  }
});

test("logProb and logits equal an independent per-pixel float64 loop (masked kernel entries are ignored)", () => {
  const rng = new Rng(2);
  const [h, w, N] = [5, 6, 7];
  for (const [k, hidden] of [[3, 0], [5, 0], [5, 6], [7, 4]]) {
    const ctx = randomContext(rng, k, hidden, 0.8);
    const x = Float32Array.from({ length: N * h * w }, () => (rng.uniform() < 0.4 ? 1 : 0));
    const d = Float32Array.from({ length: N * h * w }, () => rng.normal());
    const px = arDistribution(ctx, d, h, w);
    const run = jitted((xb: Array) => [px.logits(xb.ref), px.logProb(xb)]);
    const [l, lp] = (run(np.array(x).reshape([N, h * w])) as Array[]).map(host);
    for (let n = 0; n < N; n++) {
      const xs = x.subarray(n * h * w, (n + 1) * h * w);
      const ref = hostLogits(xs, d.subarray(n * h * w, (n + 1) * h * w), h, w, ctx);
      for (let i = 0; i < h * w; i++) assert.ok(Math.abs(l[n * h * w + i] - ref[i]) < 1e-4 * Math.max(1, Math.abs(ref[i])), `k${k} h${hidden} logit ${i}: ${l[n * h * w + i]} vs ${ref[i]}`);
      const want = hostLogProb(xs, ref);
      assert.ok(Math.abs(lp[n] - want) < 1e-4 * Math.abs(want), `k${k} h${hidden} logProb ${lp[n]} vs ${want}`);
    }
  }
});

test("causality: changing pixel j never changes the logits of pixels ≤ j, and does change a later one", () => {
  const rng = new Rng(3);
  const [h, w] = [4, 5];
  const D = h * w;
  const ctx = randomContext(rng, 5, 6, 1);
  const x0 = Float32Array.from({ length: D }, () => (rng.uniform() < 0.5 ? 1 : 0));
  const flips = Float32Array.from({ length: D * D }, (_, t) => (Math.floor(t / D) === t % D ? 1 - x0[t % D] : x0[t % D]));
  const d = Float32Array.from({ length: D }, () => rng.normal());
  const px = arDistribution(ctx, tile(d, D + 1), h, w);
  const l = host(jitted((xb: Array) => px.logits(xb))(np.array(Float32Array.of(...x0, ...flips)).reshape([D + 1, D])));
  for (let j = 0; j < D; j++) {
    const row = l.subarray((j + 1) * D, (j + 2) * D);
    for (let i = 0; i <= j; i++) assert.equal(row[i], l[i], `flipping pixel ${j} changed logit ${i}`);
    if (j < D - 1) assert.ok(row.subarray(j + 1).some((v, i) => v !== l[j + 1 + i]), `flipping pixel ${j} changes no later logit`);
  }
});

test("sampling: frequencies of the 512 images of 3×3 over 20,000 exact samples match the probabilities (χ²)", () => {
  const rng = new Rng(4);
  const D = 9, n = 20_000;
  const ctx = randomContext(rng, 5, 4, 1.5);
  const d = Float32Array.from({ length: D }, () => rng.normal());
  const probs = host(jitted((x: Array) => arDistribution(ctx, tile(d, 512), 3, 3).logProb(x))(np.array(allBinaryImages(D)).reshape([512, D]))).map(Math.exp);
  const px = arDistribution(ctx, tile(d, n), 3, 3);
  const xs = host(jitted((key: Array) => px.sample(key))(random.key(5)));
  const counts = new Float64Array(512);
  for (let s = 0; s < n; s++) {
    let m = 0;
    for (let i = 0; i < D; i++) m |= xs[s * D + i] << i;
    counts[m]++;
  }
  // χ² over cells with expected count ≥ 5, the rest pooled into one cell
  let chi2 = 0, cells = 0, pooledE = 0, pooledO = 0;
  for (let m = 0; m < 512; m++) {
    const e = n * probs[m];
    if (e >= 5) {
      chi2 += (counts[m] - e) ** 2 / e;
      cells++;
    } else {
      pooledE += e;
      pooledO += counts[m];
    }
  }
  if (pooledE > 0) {
    chi2 += (pooledO - pooledE) ** 2 / pooledE;
    cells++;
  }
  const df = cells - 1;
  assert.ok(chi2 < df + 5 * Math.sqrt(2 * df), `χ² = ${chi2.toFixed(1)} with ${df} degrees of freedom`);
  // the distribution is far from its product of marginals, so an independent-pixel sampler would fail
  const tv = probs.reduce((s, p, m) => s + Math.abs(p - counts[m] / n), 0) / 2;
  assert.ok(tv < 0.05, `total variation ${tv}`);
});

test("mean(): the sequential mean-field image, in jit (all sweeps) and by makeInference (sweeps to the fixed point)", async () => {
  const rng = new Rng(6);
  const [h, w] = [6, 5];
  const D = h * w;
  const ctx = randomContext(rng, 5, 4, 1);
  const N = 3;
  const d = Float32Array.from({ length: N * D }, () => rng.normal());
  const m = host(jitted(() => arDistribution(ctx, d, h, w).mean())());
  for (let n = 0; n < N; n++) {
    // host: m_i = σ(ℓ_i(m_{<i})) in raster order (ℓ_i reads only earlier pixels, so fill as we go)
    const dn = d.subarray(n * D, (n + 1) * D);
    const mf = new Float64Array(D);
    for (let i = 0; i < D; i++) mf[i] = 1 / (1 + Math.exp(-hostLogits(mf, dn, h, w, ctx)[i]));
    for (let i = 0; i < D; i++) assert.ok(Math.abs(m[n * D + i] - mf[i]) < 1e-5, `pixel ${i}: ${m[n * D + i]} vs ${mf[i]}`);
  }
  // a whole model: makeInference's decode (host-driven sweeps) equals the jitted mean()
  const config = parseVaeConfig({ inputShape: [9, 8, 1], latentDim: 3, encoder: { type: "mlp", hidden: [16] }, decoder: { type: "mlp", hidden: [16] }, likelihood: arLikelihood(5, 4) });
  const model = buildVae(config);
  const params = model.init(random.key(7));
  const z = Float32Array.from({ length: 5 * 3 }, () => rng.normal() * 2);
  const inJit = host(jitted((p: VaeParams, zb: Array) => model.decode(p, zb).mean())(tree.ref(params), np.array(z).reshape([5, 3])));
  const inf = await makeInference({ config, params, extras: {} }).decode(z);
  assert.equal(inf.length, 5 * 72);
  for (let i = 0; i < inf.length; i++) assert.ok(Math.abs(inf[i] - inJit[i]) < 1e-6, `${i}: ${inf[i]} vs ${inJit[i]}`);
});

test("sample(): the row-band sweeps in jit give exactly the fixed point of full sweeps with the same uniforms; a raster-order host sampler agrees", async () => {
  const rng = new Rng(16);
  const [h, w, N] = [14, 9, 6];
  const D = h * w;
  for (const [k, hidden] of [[3, 4], [5, 0], [7, 6]]) {
    const ctx = randomContext(rng, k, hidden, 1.2);
    const d = Float32Array.from({ length: N * D }, () => rng.normal());
    const px = arDistribution(ctx, d, h, w);
    const banded = host(jitted((key: Array) => px.sample(key))(random.key(17)));
    const u = jitted((key: Array) => random.uniform(key, [N, D]))(random.key(17)); // the uniforms sample() drew
    const sweep = jitted((x: Array, uu: Array) => px.sweep(x, uu));
    const { x: full, sweeps } = await iterateToFixedPoint((x) => sweep(x, u.ref), np.zeros([N, D]), causalSweeps(h, w, k));
    assert.ok(sweeps <= causalSweeps(h, w, k));
    assert.deepEqual(globalThis.Array.from(banded), globalThis.Array.from(full), `k${k} hidden ${hidden}`);
    // raster order on the host, float64, with the same uniforms (a tie within float error is not expected)
    const uh = host(u);
    let mismatches = 0;
    for (let n = 0; n < N; n++) {
      const xs = new Float64Array(D);
      for (let i = 0; i < D; i++) {
        const l = hostLogits(xs, d.subarray(n * D, (n + 1) * D), h, w, ctx)[i];
        xs[i] = uh[n * D + i] < 1 / (1 + Math.exp(-l)) ? 1 : 0;
      }
      for (let i = 0; i < D; i++) if (xs[i] !== banded[n * D + i]) mismatches++;
    }
    assert.equal(mismatches, 0, `k${k} hidden ${hidden}`);
  }
});

test("IWAE: the context of x is shared by its k copies (logProbRepeated = logProb of x repeated), and the bound runs", () => {
  const rng = new Rng(8);
  const [h, w, B, k] = [4, 4, 3, 5];
  const D = h * w;
  const ctx = randomContext(rng, 5, 6, 1);
  const d = Float32Array.from({ length: k * B * D }, () => rng.normal());
  const x = Float32Array.from({ length: B * D }, () => (rng.uniform() < 0.5 ? 1 : 0));
  const px = arDistribution(ctx, d, h, w);
  const shared = host(jitted((xb: Array) => px.logProbRepeated(xb, k))(np.array(x).reshape([B, D])));
  const repeated = host(jitted((xb: Array) => px.logProb(xb))(np.array(tile(x, k)).reshape([k * B, D])));
  for (let i = 0; i < k * B; i++) assert.ok(Math.abs(shared[i] - repeated[i]) < 1e-4, `${shared[i]} vs ${repeated[i]}`);
  const config = parseVaeConfig({ inputShape: [h, w, 1], latentDim: 2, encoder: { type: "mlp", hidden: [8] }, decoder: { type: "mlp", hidden: [8] }, likelihood: arLikelihood(3, 4) });
  const model = buildVae(config);
  const params = model.init(random.key(9));
  const lw = host(jitted((p: VaeParams, xb: Array) => iwaeLogWeights(model, p, xb, random.key(10), k))(tree.ref(params), np.array(x).reshape([B, D])));
  assert.equal(lw.length, k * B);
  assert.ok(lw.every(Number.isFinite));
});

// ---- configs, files, PyTorch layout ----

const mlpAr = (over: Partial<VaeConfig> = {}): VaeConfig =>
  parseVaeConfig({ inputShape: [28, 28, 1], latentDim: 8, encoder: { type: "mlp", hidden: [64] }, decoder: { type: "mlp", hidden: [64] }, likelihood: arLikelihood(5, 8), ...over });

test("config: autoregressive options validate (odd kernel ≥ 3, 1 channel) and absent options leave the plain Bernoulli untouched", () => {
  const base = { inputShape: [28, 28, 1], latentDim: 4, encoder: { type: "mlp", hidden: [8] }, decoder: { type: "mlp", hidden: [8] } };
  assert.deepEqual(parseVaeConfig({ ...base, likelihood: { type: "bernoulli", autoregressive: {} } }).likelihood, { type: "bernoulli", autoregressive: { kernel: 5, hidden: 16 } });
  assert.ok(!("autoregressive" in parseVaeConfig({ ...base, likelihood: { type: "bernoulli" } }).likelihood));
  assert.throws(() => parseVaeConfig({ ...base, likelihood: arLikelihood(4, 0) }), /likelihood\.autoregressive\.kernel.*odd kernel/);
  assert.throws(() => parseVaeConfig({ ...base, likelihood: arLikelihood(1, 0) }), /likelihood\.autoregressive\.kernel/);
  assert.throws(() => parseVaeConfig({ ...base, likelihood: { type: "bernoulli", autoregressive: { kernel: 5, hidden: -1 } } }), /likelihood\.autoregressive\.hidden/);
  assert.throws(() => parseVaeConfig({ ...base, inputShape: [8, 8, 3], likelihood: arLikelihood(5, 0) }), /"likelihood\.autoregressive": the autoregressive Bernoulli likelihood models 1-channel images only, but inputShape has 3 channels/);
  // train flags
  const shape: [number, number, number] = [28, 28, 1];
  const build = (flags: Record<string, unknown>, config?: string) => modelConfigFrom({ latent: 20, beta: 1, sigma: 1, mixtures: 1, klRamp: 0.5, klCycles: 0, ...flags, config }, (name) => name in flags, shape);
  assert.deepEqual(build({ arKernel: 7 }).likelihood, arLikelihood(7, 16));
  assert.deepEqual(build({ arHidden: 0 }).likelihood, arLikelihood(5, 0));
  assert.throws(() => build({ arKernel: 6 }), /odd kernel/);
  assert.throws(() => build({ likelihood: "gaussian", arKernel: 5 }), /--ar-kernel needs --likelihood bernoulli/);
  const dir = mkdtempSync(join(tmpdir(), "vaekit-ar-"));
  const file = join(dir, "model.json");
  writeFileSync(file, JSON.stringify(mlpAr({ inputShape: shape })));
  assert.deepEqual(build({}, file).likelihood, arLikelihood(5, 8));
  assert.deepEqual(build({ arHidden: 0 }, file).likelihood, arLikelihood(5, 0));
  assert.deepEqual(build({ likelihood: "bernoulli" }, file).likelihood, { type: "bernoulli" });
});

test("model files: PyTorch-layout tensors (masked Conv2d with zeros outside the window), exact round trip through safetensors", async () => {
  const config = mlpAr();
  const model = buildVae(config);
  const params = model.init(random.key(11));
  const dict = await toStateDict(params);
  assert.deepEqual(dict["dec_ar_conv.weight"].shape, [8, 1, 5, 5]); // Conv2d [out, in, k, k]
  assert.deepEqual(dict["dec_ar_conv.bias"].shape, [8]);
  assert.deepEqual(dict["dec_ar_cond.weight"].shape, [8, 1]); // Linear 1 → C
  assert.deepEqual(dict["dec_ar_out.weight"].shape, [1, 8]); // Linear C → 1
  const wt = dict["dec_ar_conv.weight"].data;
  for (let o = 0; o < 8; o++) {
    for (let t = 0; t < 25; t++) {
      const v = wt[o * 25 + t];
      if (t < 12) assert.notEqual(v, 0);
      else assert.equal(v, 0, `channel ${o} tap ${t} is outside the causal window`);
    }
  }
  // the plain Bernoulli model of the same networks has the same tensors minus dec_ar_* and the same initialisation
  const plain = await toStateDict(buildVae({ ...config, likelihood: { type: "bernoulli" } }).init(random.key(11)));
  assert.deepEqual(Object.keys(dict).filter((k) => !k.startsWith("dec_ar_")), Object.keys(plain));
  assert.deepEqual(dict["dec_fc2.weight"].data, plain["dec_fc2.weight"].data);
  const rng = new Rng(12);
  const x = np.array(Float32Array.from({ length: 6 * 784 }, () => (rng.uniform() < 0.2 ? 1 : 0))).reshape([6, 784]);
  const bound = jitted((p: VaeParams, xb: Array) => {
    const t = model.elboTerms(p, xb, random.key(13));
    return t.recon.add(t.kl);
  });
  const before = host(bound(tree.ref(params), x.ref));
  const dir = mkdtempSync(join(tmpdir(), "vaekit-ar-model-"));
  await saveModel(dir, { config, params, extras: { note: "ar" } });
  const loaded = loadModel(dir);
  assert.deepEqual(loaded.config, config);
  assert.deepEqual(host(bound(tree.ref(loaded.params), x.ref)), before);
  // a file missing the context's layers is refused by name
  const bytes = await encodeModel({ config: { ...config, likelihood: { type: "bernoulli" } }, params: buildVae({ ...config, likelihood: { type: "bernoulli" } }).init(random.key(1)), extras: {} });
  assert.throws(() => decodeModel(bytes, "plain.safetensors", config), /plain\.safetensors: missing tensor "dec_ar_/);
});

const probe = probeTorch();

test("the context layers load into torch.nn (Conv2d, Linear) with strict=True and give the same logits", { skip: probe.ok ? false : `PyTorch unavailable: ${!probe.ok && probe.reason}` }, async () => {
  const [h, w, N] = [7, 6, 4];
  const config = parseVaeConfig({ inputShape: [h, w, 1], latentDim: 2, encoder: { type: "mlp", hidden: [8] }, decoder: { type: "mlp", hidden: [8] }, likelihood: arLikelihood(5, 6) });
  const params = buildVae(config).init(random.key(14));
  const rng = new Rng(15);
  const x = Float32Array.from({ length: N * h * w }, () => (rng.uniform() < 0.5 ? 1 : 0));
  const d = Float32Array.from({ length: N * h * w }, () => rng.normal());
  const dir = mkdtempSync(join(tmpdir(), "vaekit-ar-torch-"));
  writeFileSync(join(dir, "model.safetensors"), await encodeModel({ config, params, extras: {} }));
  writeFileSync(join(dir, "x.f32"), x);
  writeFileSync(join(dir, "d.f32"), d);
  const r = spawnSync(probe.python, ["-c", TORCH_AR, dir, String(N), String(h), String(w)], { encoding: "utf8", env: { ...process.env, OPENBLAS_NUM_THREADS: "1" }, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const b = readFileSync(join(dir, "logits.f32"));
  const want = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const head = likelihoodHead(config.likelihood, config.inputShape);
  const got = host(jitted((p: VaeParams, db: Array, xb: Array) => (head.distribution(db, p) as AutoregressiveBernoulli).logits(xb))(tree.ref(params), np.array(d).reshape([N, h * w]), np.array(x).reshape([N, h * w])));
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `${i}: ${got[i]} vs ${want[i]}`);
});

/** PixelCNN-style head in torch: a masked Conv2d over x (NCHW), Linear layers per pixel. */
const TORCH_AR = String.raw`
import json, struct, sys, os
import numpy as np, torch
from torch import nn
d, N, H, W = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
raw = open(os.path.join(d, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); meta = head.pop("__metadata__")
ar = json.loads(meta["config"])["likelihood"]["autoregressive"]
sd = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]], dtype="<f4").reshape(v["shape"]).copy()) for k, v in head.items() if k.startswith("dec_ar_")}
k, C = ar["kernel"], ar["hidden"]
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.dec_ar_conv = nn.Conv2d(1, C, k, padding=k // 2)
        self.dec_ar_cond = nn.Linear(1, C)
        self.dec_ar_out = nn.Linear(C, 1)
        mask = torch.zeros(k, k); mask[: k // 2] = 1; mask[k // 2, : k // 2] = 1
        self.register_buffer("mask", mask, persistent=False)
    def forward(self, x, d):
        a = nn.functional.conv2d(x, self.dec_ar_conv.weight * self.mask, self.dec_ar_conv.bias, padding=k // 2)  # [N, C, H, W]
        a = a.permute(0, 2, 3, 1)
        h = torch.relu(a + self.dec_ar_cond(d.unsqueeze(-1)))
        return d + self.dec_ar_out(h).squeeze(-1)
m = Head()
m.load_state_dict(sd, strict=True)
assert torch.equal(m.dec_ar_conv.weight, m.dec_ar_conv.weight * m.mask), "stored weights are zero outside the causal window"
x = torch.from_numpy(np.fromfile(os.path.join(d, "x.f32"), dtype="<f4").reshape(N, 1, H, W))
dd = torch.from_numpy(np.fromfile(os.path.join(d, "d.f32"), dtype="<f4").reshape(N, H, W))
with torch.no_grad():
    out = m(x, dd).reshape(N, H * W).numpy().astype("<f4")
out.tofile(os.path.join(d, "logits.f32"))
`;

// ---- training and the CLI ----

const digits = loadDataset("mnist", "train");
const testDigits = loadDataset("mnist", "test");

test("one epoch on 2,000 real digits: the autoregressive likelihood gives a lower test negative ELBO than the plain Bernoulli", async (t) => {
  const D = 784, n = 2000, nTest = 500;
  const tc = TrainConfig.parse({ epochs: 1, batchSize: 32, lr: 2e-3, seed: 0, binarize: "dynamic" });
  const test = binarize({ ...testDigits, n: nTest, x: testDigits.x.slice(0, nTest * D), labels: undefined }, "static", 0).x;
  const results: Record<string, number> = {};
  for (const [name, likelihood] of [["plain", { type: "bernoulli" as const }], ["autoregressive", arLikelihood(5, 8)]] as const) {
    const config = parseVaeConfig({ inputShape: [28, 28, 1], latentDim: 16, encoder: { type: "mlp", hidden: [256] }, decoder: { type: "mlp", hidden: [256] }, likelihood });
    const model = buildVae(config);
    const st = await trainVae(config, tc, { train: digits.x.slice(0, n * D), validation: test.slice(0, 64 * D) }, initTrainState(model, 0));
    const r = await makeEvaluator(model)(st.params, test, { seed: 1 });
    assert.ok(Number.isFinite(r.neg_elbo), name);
    results[name] = r.neg_elbo;
  }
  t.diagnostic(`test negative ELBO after 1 epoch: plain ${results.plain.toFixed(1)}, autoregressive ${results.autoregressive.toFixed(1)} nats`);
  assert.ok(results.autoregressive < results.plain - 10, `autoregressive ${results.autoregressive} vs plain ${results.plain}`);
});

test("vaekit train --config / --ar-kernel, eval and sample run the autoregressive likelihood", () => {
  const dir = mkdtempSync(join(tmpdir(), "vaekit-ar-cli-"));
  const n = 300;
  const images = join(dir, "digits.idx");
  writeFileSync(images, encodeIdx([n, 28, 28], Uint8Array.from(digits.x.subarray(0, n * 784), (v) => Math.round(v * 255))));
  const file = join(dir, "model.json");
  writeFileSync(file, JSON.stringify({ inputShape: [28, 28, 1], latentDim: 4, encoder: { type: "mlp", hidden: [32] }, decoder: { type: "mlp", hidden: [32] }, likelihood: arLikelihood(3, 4) }));
  const cli = (args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "dist/src/cli/main.js"), ...args], { encoding: "utf8", timeout: 300_000 });
  const runs: Record<string, string[]> = { config: ["--config", file], flags: ["--hidden", "32", "--latent", "4", "--ar-kernel", "5", "--ar-hidden", "0"] };
  for (const [name, flags] of Object.entries(runs)) {
    const out = join(dir, name);
    const t = cli(["train", "--data", images, ...flags, "--epochs", "1", "--batch-size", "50", "--validation", "100", "--out", out, "--quiet"]);
    assert.equal(t.status, 0, t.stderr);
    const saved = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    assert.deepEqual(saved.likelihood, name === "config" ? arLikelihood(3, 4) : arLikelihood(5, 0));
    const e = cli(["eval", "--model", out, "--data", images, "--iwae-k", "4", "--limit", "40", "--json", "--quiet"]);
    assert.equal(e.status, 0, e.stderr);
    const r = JSON.parse(e.stdout);
    assert.equal(r.binarize, "static");
    assert.ok(Number.isFinite(r.neg_elbo) && Number.isFinite(r.iwae_nll) && r.iwae_nll > 0, name);
    const png = join(dir, `${name}.png`);
    const s = cli(["sample", "--model", out, "-n", "4", "--out", png, "--quiet"]);
    assert.equal(s.status, 0, s.stderr);
    assert.ok(existsSync(png));
  }
  const bad = cli(["train", "--data", images, "--likelihood", "continuous-bernoulli", "--ar-kernel", "5", "--out", join(dir, "bad")]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.trim(), /^[^\n]*--ar-kernel needs --likelihood bernoulli[^\n]*$/);
});
