/**
 * Model zoo, latent-variable variants: VampPrior, IAF posterior, ladder (hierarchical) VAEs.
 * Densities are checked against independent float64 formulas and by importance sampling
 * (E_q[p(z)/q(z|x)] = 1 exactly when both are normalised densities), the flow's log-det against
 * a finite-difference Jacobian, and a trained ladder's IWAE bound against its ELBO.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, jitted, np, random, tree, valueAndGrad, type Array } from "../src/engine/index.js";
import { parseVaeConfig, referenceConfig, type VaeConfig } from "../src/models/config.js";
import { buildVae, type VaeParams } from "../src/models/vae.js";
import { iafFlow, madeMasks } from "../src/models/flows.js";
import { ladderNetworks } from "../src/models/ladder.js";
import { pairwiseGaussianLogProb, vampPrior, PSEUDO_INPUTS } from "../src/models/vamp.js";
import { DiagGaussian } from "../src/distributions/index.js";
import { trainingLoss } from "../src/objectives/objective.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, trainVae } from "../src/train/trainer.js";
import { makeActiveUnits, makeEvaluator } from "../src/train/evaluate.js";
import { makeInference } from "../src/models/inference.js";
import { decodeModel, encodeModel, toStateDict } from "../src/models/io.js";
import { modelConfigFrom } from "../src/cli/model-options.js";
import { loadDataset } from "../src/data/load.js";
import { binarize } from "../src/data/datasets.js";
import { encodeIdx } from "../src/data/idx.js";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";

await initEngine("wasm");
const host = (a: Array) => Float64Array.from(a.dataSync() as Float32Array);
const randn = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** log|det A| of a small dense matrix (row-major, float64) by Gaussian elimination with pivoting. */
function logAbsDet(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let acc = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (p !== c) for (let j = 0; j < n; j++) [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
    const piv = m[c * n + c];
    acc += Math.log(Math.abs(piv));
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / piv;
      for (let j = c; j < n; j++) m[r * n + j] -= f * m[c * n + j];
    }
  }
  return acc;
}

/** Parameters for a list of slots (init with one key each), weights scaled so the nets are far from linear. */
function initSlots(slots: { name: string; init(k: Array): { w: Array; b: Array } }[], seed: number, scale = 1): VaeParams {
  const keys = np.unstack(random.split(random.key(seed), slots.length));
  const p: VaeParams = {};
  slots.forEach((s, i) => {
    const l = s.init(keys[i]);
    p[s.name] = { w: l.w.mul(scale), b: l.b.mul(scale) };
  });
  return p;
}

const small = (extra: Record<string, unknown>, latentDim = 2, D = 16): VaeConfig =>
  parseVaeConfig({
    inputShape: [D / 4, 4, 1],
    latentDim,
    encoder: { type: "mlp", hidden: [12] },
    decoder: { type: "mlp", hidden: [12] },
    likelihood: { type: "bernoulli" },
    ...extra,
  });
const binaryBatch = (seed: number, B: number, D = 16) => {
  const rng = new Rng(seed);
  return np.array(Float32Array.from({ length: B * D }, () => (rng.uniform() < 0.4 ? 1 : 0))).reshape([B, D]);
};

// ---------------------------------------------------------------------------------------------
// IAF

test("MADE masks: output i is reachable only from inputs earlier in the step's order (natural and reversed), and from all of them", () => {
  for (const [L, widths] of [[1, [4]], [2, [3]], [3, [12, 10]], [5, [7]], [6, [9, 4, 11]]] as [number, number[]][]) {
    for (const reverse of [false, true]) {
      const masks = madeMasks(L, widths, reverse);
      // reach[i][o] = number of paths input i → output o through the masked layers
      let cur: Float64Array = Float64Array.from({ length: L * L }, (_, idx) => (Math.floor(idx / L) === idx % L ? 1 : 0)); // identity [L, L]
      let width = L;
      for (const m of masks) {
        const [rows, cols] = m.shape;
        assert.equal(rows, width);
        const next = new Float64Array(L * cols);
        for (let i = 0; i < L; i++) for (let a = 0; a < rows; a++) for (let b = 0; b < cols; b++) next[i * cols + b] += cur[i * rows + a] * m.data[a * cols + b];
        cur = next;
        width = cols;
      }
      const reach = cur;
      const order = (i: number) => (reverse ? L - i : i + 1);
      for (let i = 0; i < L; i++) {
        for (let o = 0; o < L; o++) {
          const may = order(i) < order(o);
          const tag = `L=${L} widths=${widths} reverse=${reverse}: input ${i} → output ${o}`;
          // never a forbidden path; every allowed one when each hidden layer has all L − 1 degrees
          if (!may) assert.equal(reach[i * L + o], 0, tag);
          else if (widths.every((w) => w >= L - 1)) assert.ok(reach[i * L + o] > 0, tag);
        }
      }
    }
  }
});

test("IAF: log-det equals log|det| of a finite-difference Jacobian; a single step's Jacobian is triangular", () => {
  const L = 3, C = 2;
  const rng = new Rng(3);
  for (const steps of [1, 3]) {
    const cfg = { type: "iaf" as const, steps, hidden: [12, 10], context: C };
    const flow = iafFlow(cfg, L);
    const params = initSlots(flow.slots, 10 + steps, 1.5);
    const apply = jitted((p: VaeParams, z: Array, c: Array) => {
      const out = flow.apply(p, z, c);
      return [out.z, out.logDet];
    });
    const points = 4, h = 1e-3;
    const rows = points * (2 * L + 1);
    const z = new Float32Array(rows * L);
    const ctx = new Float32Array(rows * C);
    for (let p = 0; p < points; p++) {
      const z0 = randn(rng, L), c0 = randn(rng, C);
      for (let r = 0; r < 2 * L + 1; r++) {
        const row = p * (2 * L + 1) + r;
        z.set(z0, row * L);
        ctx.set(c0, row * C);
        if (r > 0) z[row * L + Math.floor((r - 1) / 2)] += r % 2 ? h : -h;
      }
    }
    const [zt, ld] = (apply(tree.ref(params), np.array(z).reshape([rows, L]), np.array(ctx).reshape([rows, C])) as Array[]).map(host);
    for (let p = 0; p < points; p++) {
      const base = p * (2 * L + 1);
      const J = new Float64Array(L * L);
      for (let j = 0; j < L; j++) {
        for (let i = 0; i < L; i++) J[i * L + j] = (zt[(base + 1 + 2 * j) * L + i] - zt[(base + 2 + 2 * j) * L + i]) / (2 * h);
      }
      const want = logAbsDet(J, L);
      assert.ok(Math.abs(ld[base] - want) < 3e-3, `steps=${steps} point ${p}: log-det ${ld[base]} vs finite differences ${want}`);
      assert.ok(Math.abs(ld[base]) > 0.1, "the flow is not the identity");
      if (steps === 1) {
        // natural order: z_i depends on z_j only for j ≤ i (exactly: the masked weights contribute zeros)
        for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) assert.equal(J[i * L + j], 0, `∂z${i}/∂z${j}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// VampPrior

test("VampPrior: log p(z) is the uniform mixture of the encoder's Gaussians at the pseudo-inputs (float64 reference)", () => {
  const config = small({ prior: { type: "vamp", components: 7 } }, 3);
  const model = buildVae(config);
  const params = model.init(random.key(4));
  const pseudo = host((params[PSEUDO_INPUTS] as Array).ref);
  assert.equal(pseudo.length, 7 * 16);
  // components: the (plain) encoder at sigmoid(u)
  const plain = buildVae({ ...config, prior: { type: "standard-normal" } });
  const [mu, lv] = (jitted((p: VaeParams, u: Array) => {
    const q = plain.encode(p, u);
    return [q.loc, q.logVar];
  })(tree.ref(params), np.array(Float32Array.from(pseudo, (v) => 1 / (1 + Math.exp(-v)))).reshape([7, 16])) as Array[]).map(host);
  const prior = vampPrior({ type: "vamp", components: 7, pseudoInputs: "sigmoid" }, 16, (p, u) => model.encode(p, u));
  const rng = new Rng(8);
  const N = 10;
  const z = randn(rng, N * 3).map((v) => v * 1.5);
  const got = host(jitted((p: VaeParams, zz: Array) => prior.logProb(p, zz))(tree.ref(params), np.array(z).reshape([2, 5, 3])) as Array);
  for (let n = 0; n < N; n++) {
    const terms = globalThis.Array.from({ length: 7 }, (_, k) => {
      let s = 0;
      for (let l = 0; l < 3; l++) s += -0.5 * (Math.log(2 * Math.PI) + lv[k * 3 + l] + (z[n * 3 + l] - mu[k * 3 + l]) ** 2 / Math.exp(lv[k * 3 + l]));
      return s;
    });
    const m = Math.max(...terms);
    const want = m + Math.log(terms.reduce((a, t) => a + Math.exp(t - m), 0) / 7);
    assert.ok(Math.abs(got[n] - want) < 1e-4, `z[${n}]: ${got[n]} vs ${want}`);
  }
  // samples at temperature 0 are component means
  const s = host(jitted((p: VaeParams, key: Array) => model.samplePrior(p, key, 12, 0))(tree.ref(params), random.key(1)) as Array);
  for (let n = 0; n < 12; n++) {
    const hit = globalThis.Array.from({ length: 7 }, (_, k) => [0, 1, 2].every((l) => Math.abs(s[n * 3 + l] - mu[k * 3 + l]) < 1e-5)).some(Boolean);
    assert.ok(hit, `sample ${n} is one of the component means`);
  }
  // the pseudo-inputs are learned: the training loss has a gradient for them
  const g = jitted((p: VaeParams, x: Array) => valueAndGrad((q: VaeParams) => trainingLoss(model, q, x, random.key(2), np.array(1, { dtype: np.float32 }))[0])(p)[1])(
    tree.ref(params),
    binaryBatch(1, 6),
  ) as VaeParams;
  const gu = host(g[PSEUDO_INPUTS] as Array);
  assert.ok(gu.every(Number.isFinite) && gu.some((v) => Math.abs(v) > 1e-6), "pseudo-inputs get a gradient");
});

test("VampPrior's pairwise log-densities stay within 2e-3 nats of float64 at posterior-like scales (σ ≈ 0.1, |μ| ≈ 2)", () => {
  const rng = new Rng(1);
  const N = 40, K = 30, L = 32;
  const mu = randn(rng, K * L).map((v) => 2 * v);
  const lv = randn(rng, K * L).map((v) => Math.log(0.01) + 0.3 * v);
  const z = new Float32Array(N * L);
  for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) z[n * L + l] = mu[(n % K) * L + l] + Math.exp(lv[(n % K) * L + l] / 2) * rng.normal();
  const got = host(jitted((a: Array, b: Array, c: Array) => pairwiseGaussianLogProb(a, b, c))(np.array(z).reshape([N, L]), np.array(mu).reshape([K, L]), np.array(lv).reshape([K, L])) as Array);
  let worst = 0;
  for (let n = 0; n < N; n++) {
    const k = n % K;
    let s = 0;
    for (let l = 0; l < L; l++) s += -0.5 * (Math.log(2 * Math.PI) + lv[k * L + l] + (z[n * L + l] - mu[k * L + l]) ** 2 / Math.exp(lv[k * L + l]));
    worst = Math.max(worst, Math.abs(got[n * K + k] - s));
  }
  assert.ok(worst < 2e-3, `worst error ${worst}`);
});

// ---------------------------------------------------------------------------------------------
// ladder

test("ladder merge: precision weighting is the product of the two Gaussians; residual shifts the prior", () => {
  const rng = new Rng(5);
  const n = 12;
  const [m1, v1, m2, v2] = [0, 1, 2, 3].map(() => randn(rng, n));
  for (const merge of ["precision", "residual"] as const) {
    const net = ladderNetworks({ latents: [4], hidden: [5], merge }, 6, [4, 4]);
    const [mq, vq] = (jitted((a: Array, b: Array, c: Array, d: Array) => {
      const q = net.merge(new DiagGaussian(a, b), new DiagGaussian(c, d));
      return [q.loc, q.logVar];
    })(...([m1, v1, m2, v2].map((x) => np.array(x).reshape([3, 4])) as [Array, Array, Array, Array])) as Array[]).map(host);
    for (let i = 0; i < n; i++) {
      const [pa, pb] = [Math.exp(-v1[i]), Math.exp(-v2[i])]; // precisions
      const wantV = merge === "precision" ? -Math.log(pa + pb) : v1[i] + v2[i];
      const wantM = merge === "precision" ? (m1[i] * pa + m2[i] * pb) / (pa + pb) : m1[i] + m2[i];
      assert.ok(Math.abs(mq[i] - wantM) < 1e-5 && Math.abs(vq[i] - wantV) < 1e-5, `${merge} [${i}]`);
    }
  }
});

test("ladder ELBO: KL = Σ per-dimension closed-form KLs of every layer (N(0, I) on top); free bits accept it", () => {
  const model = buildVae(small({ hierarchy: { latents: [3, 2], hidden: [8] }, objective: { freeBits: 0.1 } }, 4));
  assert.deepEqual(model.latentSizes, [4, 3, 2]);
  const params = model.init(random.key(6));
  const [kl, kpd] = (jitted((p: VaeParams, x: Array) => {
    const t = model.elboTerms(p, x, random.key(3));
    t.recon.dispose();
    return [t.kl, t.klPerDim!];
  })(tree.ref(params), binaryBatch(2, 5)) as Array[]).map(host);
  assert.equal(kpd.length, 5 * 9);
  for (let b = 0; b < 5; b++) {
    const s = kpd.subarray(b * 9, b * 9 + 9).reduce((a, v) => a + v, 0);
    assert.ok(Math.abs(kl[b] - s) < 1e-4 * Math.max(1, s), `${kl[b]} vs ${s}`);
    assert.ok(kpd.subarray(b * 9, b * 9 + 9).every((v) => v >= -1e-6), "each KL term ≥ 0");
  }
  const loss = (jitted((p: VaeParams, x: Array) => trainingLoss(model, p, x, random.key(3), np.array(1, { dtype: np.float32 }))[0])(tree.ref(params), binaryBatch(2, 5)) as Array).dataSync()[0];
  assert.ok(Number.isFinite(loss));
});

// ---------------------------------------------------------------------------------------------
// every variant: importance weights are correctly normalised

test("E_q[p(z)/q(z|x)] = 1 for every variant (normalised prior and posterior, flow log-det and ladder conditionals included)", () => {
  const variants: Record<string, Record<string, unknown>> = {
    "iaf": { posterior: { type: "iaf", steps: 3, hidden: [10], context: 3 } },
    "vamp": { prior: { type: "vamp", components: 5 } },
    "ladder (precision)": { hierarchy: { latents: [2], hidden: [8], merge: "precision" } },
    "ladder (residual, 3 layers)": { hierarchy: { latents: [2, 1], hidden: [8], merge: "residual" } },
    "ladder + vamp": { hierarchy: { latents: [1], hidden: [8] }, prior: { type: "vamp", components: 3 } },
  };
  const k = 20000;
  for (const [name, extra] of Object.entries(variants)) {
    const model = buildVae(small(extra, 2));
    const params = model.init(random.key(12));
    // wide bottom-up Gaussians: q must not be much narrower than p, or p/q has infinite variance
    for (const name of Object.keys(params).filter((n) => n.startsWith("enc_logvar"))) {
      const layer = params[name] as { w: Array; b: Array };
      params[name] = { w: layer.w, b: np.fullLike(layer.b, 2.5) };
    }
    const [lp, lq] = (jitted((p: VaeParams, x: Array) => {
      const t = model.importanceTerms(p, x, random.key(7), k);
      t.logLik.dispose();
      return [t.logPrior, t.logPosterior];
    })(tree.ref(params), binaryBatch(3, 2)) as Array[]).map(host);
    for (let b = 0; b < 2; b++) {
      const r = Float64Array.from({ length: k }, (_, i) => Math.exp(lp[i * 2 + b] - lq[i * 2 + b]));
      const mean = r.reduce((a, v) => a + v, 0) / k;
      const sd = Math.sqrt(r.reduce((a, v) => a + (v - mean) ** 2, 0) / (k - 1));
      const se = sd / Math.sqrt(k);
      assert.ok(sd > 0.05, `${name}: q differs from p (sd ${sd})`);
      assert.ok(Math.abs(mean - 1) < 4 * se + 2e-3, `${name}, example ${b}: E[p/q] = ${mean} ± ${se}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// training, evaluation and files

const digits = loadDataset("mnist", "train");
const D = 784;

test("a ladder VAE trained on real digits: IWAE NLL ≤ negative ELBO, and its k = 1 estimate agrees with the ELBO", async () => {
  const config = parseVaeConfig({ ...referenceConfig(12), encoder: { type: "mlp", hidden: [200] }, decoder: { type: "mlp", hidden: [200] }, hierarchy: { latents: [6], hidden: [64] } });
  const n = 1500, nVal = 300;
  const tc = TrainConfig.parse({ epochs: 3, batchSize: 100, lr: 2e-3, seed: 0, binarize: "dynamic" });
  const validation = binarize({ ...digits, n: nVal, x: digits.x.slice(n * D, (n + nVal) * D), labels: undefined }, "static", 1).x;
  const model = buildVae(config);
  const st = await trainVae(config, tc, { train: digits.x.slice(0, n * D), validation }, initTrainState(model, 0));
  const v = st.history.map((m) => m.val_neg_elbo);
  assert.ok(v[2] < v[0] && v[2] < 250, `validation negative ELBO falls: ${v}`);
  const evaluate = makeEvaluator(model);
  const r = await evaluate(st.params, validation, { iwaeK: 64, seed: 3 });
  assert.ok(r.iwae_nll! < r.neg_elbo - 0.5, `IWAE-64 NLL ${r.iwae_nll} ≤ negative ELBO ${r.neg_elbo}`);
  // k = 1: the importance weight is one-sample ELBO; same expectation as elboTerms (closed-form KLs)
  const one = await evaluate(st.params, validation, { iwaeK: 1, seed: 4 });
  const diff = one.perExample.iwaeNll!.map((w, i) => w - one.perExample.negElbo[i]);
  const mean = diff.reduce((a, x) => a + x, 0) / nVal;
  const se = Math.sqrt(diff.reduce((a, x) => a + (x - mean) ** 2, 0) / (nVal - 1) / nVal);
  assert.ok(Math.abs(mean) < 4 * se + 0.05, `IWAE k=1 − negative ELBO = ${mean} ± ${se}`);
  // active units: every layer counted
  const au = await makeActiveUnits(model)(st.params, validation);
  assert.equal(au.total, 18);
  assert.equal(au.perLayer.length, 2);
  assert.ok(au.active >= 1 && au.active <= 18);
});

test("active units count latent dimensions whose posterior mean varies over the data", async () => {
  const model = buildVae(small({}, 4));
  const params = model.init(random.key(1));
  const enc = params.enc_mu as { w: Array; b: Array };
  // units 1 and 3 ignore x: constant posterior mean
  const mask = np.array(new Float32Array([1, 0, 1, 0])).reshape([1, 4]);
  params.enc_mu = { w: enc.w.mul(mask.ref).mul(20), b: enc.b };
  const x = new Float32Array(binaryBatch(4, 300).dataSync() as Float32Array);
  const au = await makeActiveUnits(model)(params, x);
  assert.deepEqual([au.active, au.total, au.perLayer], [2, 4, [2]]);
  assert.equal(au.variance[1], 0);
  assert.ok(au.variance[0] > 0.01 && au.variance[2] > 0.01);
});

test("model files round-trip every variant (conv encoders included) with identical bounds; sampling works", async () => {
  const conv = { encoder: { type: "conv", channels: [4, 8] }, decoder: { type: "conv", channels: [8, 4] } };
  const configs = [
    { ...small({ prior: { type: "vamp", components: 6 }, hierarchy: { latents: [2], hidden: [6] } }, 3), inputShape: [8, 8, 1] as [number, number, number], ...conv },
    { ...small({ posterior: { type: "iaf", steps: 2, hidden: [6], context: 3 } }, 3), inputShape: [8, 8, 1] as [number, number, number], ...conv },
    small({ hierarchy: { latents: [2], hidden: [6], merge: "residual" } }, 3),
    small({ posterior: { type: "iaf", steps: 2, hidden: [6], context: 0 }, prior: { type: "vamp", components: 4 } }, 3),
  ].map((c) => parseVaeConfig(c));
  for (const config of configs) {
    const model = buildVae(config);
    const params = model.init(random.key(3));
    const Dx = config.inputShape[0] * config.inputShape[1];
    const weights = (p: VaeParams) => host(jitted((q: VaeParams, x: Array) => model.importanceTerms(q, x, random.key(5), 4).logPosterior)(p, binaryBatch(1, 3, Dx)) as Array);
    const before = weights(tree.ref(params));
    const names = Object.keys(await toStateDict(params));
    const back = decodeModel(await encodeModel({ config, params, extras: {} }));
    assert.deepEqual(back.config, config);
    assert.deepEqual(weights(back.params), before);
    if (config.hierarchy) assert.ok(names.includes("dec_td1_mu.weight") && names.includes("enc_mu2.weight"));
    if (config.posterior) assert.ok(names.includes("iaf2_s.weight") && names.includes("enc_ctx.weight") === (config.posterior.type === "iaf" && config.posterior.context > 0));
    if (config.prior.type === "vamp") assert.ok(names.includes(PSEUDO_INPUTS));
    const inf = makeInference({ config, params, extras: {} });
    const s = await inf.sample(5, 1);
    assert.equal(s.z.length, 5 * 3);
    assert.equal(s.x.length, 5 * Dx);
    assert.ok(s.x.every((v) => v >= 0 && v <= 1));
    assert.equal((await inf.encode(new Float32Array(2 * Dx))).mu.length, 2 * 3);
  }
  // the reference is untouched: plain, same parameter names, no new config keys
  const ref = referenceConfig(20);
  const m = buildVae(parseVaeConfig(ref));
  assert.equal(m.plain, true);
  assert.deepEqual(Object.keys(parseVaeConfig(ref)).sort(), Object.keys(ref).sort());
  assert.deepEqual(Object.keys(m.init(random.key(0))).sort(), ["dec_fc1", "dec_fc2", "dec_fc3", "enc_fc1", "enc_fc2", "enc_logvar", "enc_mu"]);
  assert.throws(() => buildVae(configs[0]).prior.logProb(np.zeros([1, 3])), /ladder VAE's prior spans several layers/);
});

test("config rules and train flags for priors, posteriors and ladders", () => {
  assert.throws(() => parseVaeConfig({ ...referenceConfig(4), prior: { type: "vamp" }, objective: { freeBits: 0.5 } }), /free bits need a closed-form per-dimension KL/);
  assert.throws(() => parseVaeConfig({ ...referenceConfig(4), posterior: { type: "iaf" }, hierarchy: { latents: [2] } }), /flow posterior is not supported in a ladder/);
  assert.throws(() => parseVaeConfig({ ...referenceConfig(4), hierarchy: { latents: [] } }), VaekitError);
  const shape: [number, number, number] = [28, 28, 1];
  const build = (flags: Record<string, unknown>, config?: string) => {
    const o: Record<string, unknown> = { latent: 20, beta: 1, sigma: 1, mixtures: 1, klRamp: 0.5, klCycles: 0, ...flags, config };
    return modelConfigFrom(o, (name) => name in flags, shape);
  };
  const vamp = build({ prior: "vamp", vampComponents: 50 });
  assert.deepEqual(vamp.prior, { type: "vamp", components: 50, pseudoInputs: "sigmoid" });
  const iaf = build({ posterior: "iaf", flowSteps: 2, flowHidden: [64, 64] });
  assert.deepEqual(iaf.posterior, { type: "iaf", steps: 2, hidden: [64, 64], context: 32 });
  const ladder = build({ latents: [32, 16, 8], ladderHidden: [128], ladderMerge: "residual" });
  assert.deepEqual([ladder.latentDim, ladder.hierarchy], [32, { latents: [16, 8], hidden: [128], merge: "residual" }]);
  // a config file is the base: flags change only what they name
  const dir = mkdtempSync(join(tmpdir(), "vaekit-latent-"));
  const file = join(dir, "model.json");
  writeFileSync(file, JSON.stringify({ ...ladder, prior: vamp.prior }));
  assert.deepEqual(build({ ladderHidden: [64] }, file).hierarchy, { latents: [16, 8], hidden: [64], merge: "residual" });
  assert.deepEqual(build({ latents: [10] }, file).hierarchy, undefined);
  assert.equal(build({ prior: "standard-normal" }, file).prior.type, "standard-normal");
  assert.throws(() => build({ flowSteps: 3 }), /--flow-steps needs --posterior iaf/);
  assert.throws(() => build({ vampComponents: 3 }), /--vamp-components needs --prior vamp/);
  assert.throws(() => build({ ladderMerge: "residual" }), /needs a ladder VAE/);
  assert.throws(() => build({ latent: 3, latents: [3, 2] }), /choose one of --latent and --latents/);
  assert.throws(() => build({ prior: "vamp", freeBits: 1 }), /free bits need a closed-form per-dimension KL/);
});

test("vaekit train/eval/sample run a ladder VAE with a VampPrior and a conv VAE with an IAF posterior", () => {
  const dir = mkdtempSync(join(tmpdir(), "vaekit-latent-cli-"));
  const n = 300;
  const images = join(dir, "digits.idx");
  writeFileSync(images, encodeIdx([n, 28, 28], Uint8Array.from(digits.x.subarray(0, n * D), (v) => Math.round(v * 255))));
  const cli = (args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "dist/src/cli/main.js"), ...args], { encoding: "utf8", timeout: 300_000 });
  const runs = {
    ladder: ["--latents", "8,4", "--ladder-hidden", "32", "--hidden", "64", "--prior", "vamp", "--vamp-components", "20"],
    iaf: ["--arch", "conv", "--channels", "4,8", "--latent", "4", "--posterior", "iaf", "--flow-steps", "2", "--flow-hidden", "16", "--flow-context", "4"],
  };
  for (const [name, flags] of Object.entries(runs)) {
    const out = join(dir, name);
    const t = cli(["train", "--data", images, ...flags, "--epochs", "1", "--batch-size", "50", "--validation", "100", "--out", out, "--quiet"]);
    assert.equal(t.status, 0, t.stderr);
    const saved = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    if (name === "ladder") assert.deepEqual([saved.latentDim, saved.hierarchy.latents, saved.prior.type], [8, [4], "vamp"]);
    else assert.deepEqual(saved.posterior, { type: "iaf", steps: 2, hidden: [16], context: 4 });
    const e = cli(["eval", "--model", out, "--data", images, "--iwae-k", "8", "--limit", "40", "--json", "--quiet"]);
    assert.equal(e.status, 0, e.stderr);
    const r = JSON.parse(e.stdout);
    assert.ok(Number.isFinite(r.neg_elbo) && Number.isFinite(r.iwae_nll) && r.iwae_nll > 0, name);
    const s = cli(["sample", "--model", out, "-n", "4", "--out", join(dir, `${name}.png`), "--quiet"]);
    assert.equal(s.status, 0, s.stderr);
  }
  const bad = cli(["train", "--data", images, "--flow-steps", "2", "--out", join(dir, "bad")]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.trim(), /^[^\n]*--flow-steps needs --posterior iaf[^\n]*$/);
});
