import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, jitted, np, random, tree, valueAndGrad, type Array } from "../src/engine/index.js";
import { Bernoulli, DiagGaussian } from "../src/distributions/index.js";
import { parseVaeConfig, referenceConfig, type VaeConfig } from "../src/models/config.js";
import { buildVae, type VaeParams } from "../src/models/vae.js";
import { decodeModel, encodeModel, toStateDict } from "../src/models/io.js";
import { loadModel, saveModel } from "../src/models/files.js";
import { vaeLoss } from "../src/objectives/elbo.js";
import { makeEvaluator } from "../src/train/evaluate.js";
import { runTraining } from "../src/train/run.js";
import { TrainConfig } from "../src/train/config.js";
import { loadDataset } from "../src/data/load.js";
import { binarize, subset } from "../src/data/datasets.js";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";

await initEngine("wasm");
const tmp = () => mkdtempSync(join(tmpdir(), "vaekit-core-"));
const host = (a: Array) => [...(a.dataSync() as Float32Array)];

test("analytic KL(q‖N(0,I)) matches a Monte-Carlo estimate, and the KL sign is right", () => {
  const mu = [0.5, -1.2, 0.1];
  const lv = [-0.7, 0.4, -2.0];
  const q = new DiagGaussian(np.array([mu]), np.array([lv]));
  const analytic = host(q.klToStandardNormal())[0];
  const expected = -0.5 * mu.reduce((s, m, i) => s + 1 + lv[i] - m * m - Math.exp(lv[i]), 0);
  assert.ok(Math.abs(analytic - expected) < 1e-5);
  assert.ok(analytic > 0);
  // E_q[log q(z) − log N(z; 0, I)] with 200,000 samples
  const n = 200_000;
  const qn = new DiagGaussian(np.broadcastTo(np.array([mu]), [n, 3]), np.broadcastTo(np.array([lv]), [n, 3]));
  const z = qn.sample(random.key(1));
  const logq = host(qn.logProb(z.ref));
  const logp = host(z.ref.mul(z).add(Math.log(2 * Math.PI)).sum(-1).mul(-0.5));
  let s = 0;
  for (let i = 0; i < n; i++) s += logq[i] - logp[i];
  const mc = s / n;
  assert.ok(Math.abs(mc - analytic) < 0.02, `MC ${mc} vs analytic ${analytic}`);
});

test("KL between two diagonal Gaussians matches the closed form and is zero for equal ones", () => {
  const a = new DiagGaussian(np.array([[0.3, -0.2]]), np.array([[0.1, -0.5]]));
  const b = new DiagGaussian(np.array([[-0.4, 0.6]]), np.array([[-0.3, 0.2]]));
  const got = host(a.kl(b))[0];
  const [m1, m2, v1, v2] = [[0.3, -0.2], [-0.4, 0.6], [0.1, -0.5], [-0.3, 0.2]];
  let want = 0;
  for (let i = 0; i < 2; i++) want += 0.5 * (v2[i] - v1[i] + (Math.exp(v1[i]) + (m1[i] - m2[i]) ** 2) / Math.exp(v2[i]) - 1);
  assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
  assert.ok(Math.abs(host(a.kl(a))[0]) < 1e-6);
});

test("Bernoulli logProb equals the naive formula and stays finite for extreme logits", () => {
  const logits = [-3, -0.5, 0, 0.7, 4];
  const x = [0, 1, 0.3, 1, 0];
  const got = host(new Bernoulli(np.array([logits])).logProb(np.array([x])))[0];
  let want = 0;
  for (let i = 0; i < 5; i++) {
    const p = 1 / (1 + Math.exp(-logits[i]));
    want += x[i] * Math.log(p) + (1 - x[i]) * Math.log(1 - p);
  }
  assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
  const extreme = host(new Bernoulli(np.array([[200, -200]])).logProb(np.array([[0, 1]])))[0];
  assert.ok(Math.abs(extreme + 400) < 1e-3, `extreme logits give ${extreme}`);
});

test("Gaussian logProb equals the normal density", () => {
  const g = new DiagGaussian(np.array([[1, -2]]), np.array([[Math.log(4), 0]]));
  const got = host(g.logProb(np.array([[2, -2.5]])))[0];
  const want = -0.5 * (Math.log(2 * Math.PI * 4) + 1 / 4) - 0.5 * (Math.log(2 * Math.PI) + 0.25);
  assert.ok(Math.abs(got - want) < 1e-5);
});

const tiny: VaeConfig = parseVaeConfig({ inputShape: [4, 4, 1], latentDim: 3, encoder: { type: "mlp", hidden: [8] }, decoder: { type: "mlp", hidden: [8] }, likelihood: { type: "bernoulli" } });

test("loss gradients match central finite differences", () => {
  const model = buildVae(tiny);
  const params = model.init(random.key(3));
  const rng = new Rng(5);
  const x = np.array(Float32Array.from({ length: 4 * 16 }, () => (rng.uniform() < 0.4 ? 1 : 0))).reshape([4, 16]);
  const lossAt = jitted((p: VaeParams, xb: Array) => vaeLoss(model, p, xb, random.key(9), 1)[0]);
  const gradFn = jitted((p: VaeParams, xb: Array) => valueAndGrad((q: VaeParams) => vaeLoss(model, q, xb, random.key(9), 1)[0])(p)[1]);
  const grads = gradFn(tree.ref(params), x.ref) as VaeParams;
  for (const [layer, leaf] of [["enc_fc1", "w"], ["enc_logvar", "b"], ["dec_fc2", "w"]] as const) {
    const g = host((grads[layer] as Record<string, Array>)[leaf].ref);
    const base = [...((params[layer] as Record<string, Array>)[leaf].ref.dataSync() as Float32Array)];
    const shape = (params[layer] as Record<string, Array>)[leaf].shape;
    for (const idx of [0, Math.floor(base.length / 2), base.length - 1]) {
      const h = 1e-2;
      const at = (delta: number) => {
        const v = base.slice();
        v[idx] += delta;
        const p2 = { ...tree.ref(params), [layer]: { ...(tree.ref(params[layer]) as Record<string, Array>), [leaf]: np.array(Float32Array.from(v)).reshape(shape) } } as VaeParams;
        return lossAt(p2, x.ref).dataSync()[0];
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(fd - g[idx]) < 2e-2 * Math.max(1, Math.abs(g[idx])), `${layer}.${leaf}[${idx}]: fd ${fd} vs grad ${g[idx]}`);
    }
  }
});

test("model file: save → load gives identical outputs; the reference uses the PyTorch names and layouts", async () => {
  const config = referenceConfig(20);
  const model = buildVae(config);
  const params = model.init(random.key(0));
  const dict = await toStateDict(params);
  assert.deepEqual(dict["enc_fc1.weight"].shape, [400, 784]);
  assert.deepEqual(dict["enc_fc1.bias"].shape, [400]);
  assert.deepEqual(dict["enc_mu.weight"].shape, [20, 200]);
  assert.deepEqual(dict["enc_logvar.weight"].shape, [20, 200]);
  assert.deepEqual(dict["dec_fc1.weight"].shape, [200, 20]);
  assert.deepEqual(dict["dec_fc3.weight"].shape, [784, 400]);
  assert.deepEqual(Object.keys(dict).sort(), ["dec_fc1.bias", "dec_fc1.weight", "dec_fc2.bias", "dec_fc2.weight", "dec_fc3.bias", "dec_fc3.weight", "enc_fc1.bias", "enc_fc1.weight", "enc_fc2.bias", "enc_fc2.weight", "enc_logvar.bias", "enc_logvar.weight", "enc_mu.bias", "enc_mu.weight"]);
  // weight[o][i] in the file equals w[i][o] in memory
  const w = params.enc_fc1 as { w: Array };
  const mem = w.w.ref.dataSync();
  assert.equal(dict["enc_fc1.weight"].data[5 * 784 + 7], mem[7 * 400 + 5]);
  const dir = tmp();
  await saveModel(dir, { config, params, extras: { note: "x" } });
  const loaded = loadModel(dir);
  assert.deepEqual(loaded.config, config);
  assert.deepEqual(loaded.extras, { note: "x" });
  const x = loadDataset("mnist", "test").x.slice(0, 64 * 784);
  const ev = makeEvaluator(model);
  const a = await ev(params, x, { iwaeK: 5, seed: 1 });
  const b = await ev(loaded.params, x, { iwaeK: 5, seed: 1 });
  assert.equal(a.neg_elbo, b.neg_elbo);
  assert.equal(a.iwae_nll, b.iwae_nll);
});

test("a corrupt or truncated model file gives one clear error", async () => {
  const config = referenceConfig(2);
  const bytes = await encodeModel({ config, params: buildVae(config).init(random.key(0)), extras: {} });
  const dir = tmp();
  const path = join(dir, "bad.safetensors");
  writeFileSync(path, bytes.slice(0, bytes.length - 100));
  assert.throws(() => loadModel(path), (e: unknown) => e instanceof VaekitError && /truncated/.test(e.message) && !e.message.includes("\n"));
  writeFileSync(path, "not a model at all");
  assert.throws(() => loadModel(path), (e: unknown) => e instanceof VaekitError && /not a valid safetensors/.test(e.message));
  assert.throws(() => loadModel(join(dir, "missing")), (e: unknown) => e instanceof VaekitError && /not found/.test(e.message));
  const good = decodeModel(bytes);
  assert.equal(good.config.latentDim, 2);
});

const digits = loadDataset("mnist", "train");
const few = subset(digits, Int32Array.from({ length: 3000 }, (_, i) => i));
const tcBase = TrainConfig.parse({ epochs: 3, batchSize: 32, seed: 0, binarize: "dynamic" });

test("training on real digits lowers the validation loss below a fixed bound; same seed → same result; resume replays exactly", async () => {
  const config = referenceConfig(20);
  const dirA = tmp();
  const a = await runTraining({ config, train: tcBase, data: few, validation: 500, outDir: dirA });
  const h = a.history;
  assert.equal(h.length, 3);
  assert.ok(h[2].val_neg_elbo < h[0].val_neg_elbo, "validation loss decreases");
  assert.ok(h[2].val_neg_elbo < 200, `validation negative ELBO ${h[2].val_neg_elbo} should be < 200 nats (untrained: ≈ 540)`);
  assert.ok(h[2].val_kl > 0);
  assert.equal(readFileSync(join(dirA, "metrics.jsonl"), "utf8").trim().split("\n").length, 3);
  // resume: 2 epochs, then continue to 3 — identical to the uninterrupted run
  const dirB = tmp();
  await runTraining({ config, train: { ...tcBase, epochs: 2 }, data: few, validation: 500, outDir: dirB });
  const b = await runTraining({ config, train: tcBase, data: few, validation: 500, outDir: dirB, resume: true });
  assert.deepEqual(b.history.map((m) => m.val_neg_elbo), h.map((m) => m.val_neg_elbo));
  const wa = (await toStateDict(loadModel(dirA).params))["dec_fc3.weight"].data;
  const wb = (await toStateDict(loadModel(dirB).params))["dec_fc3.weight"].data;
  assert.deepEqual(wa, wb);
  // a different training setting cannot silently resume
  await assert.rejects(runTraining({ config, train: { ...tcBase, lr: 5e-4 }, data: few, validation: 500, outDir: dirB, resume: true }), /different training settings/);
});

test("NaN/Inf loss stops training with a clear message and keeps the last good checkpoint", async () => {
  const config = parseVaeConfig({ ...referenceConfig(20), likelihood: { type: "gaussian", variance: "network" } });
  const dir = tmp();
  const tc = { ...tcBase, epochs: 1, binarize: "none" as const };
  await runTraining({ config, train: tc, data: few, validation: 500, outDir: dir });
  const before = readFileSync(join(dir, "checkpoint.safetensors"));
  await assert.rejects(
    runTraining({ config, train: { ...tc, epochs: 3, lr: 1e6 }, data: few, validation: 500, outDir: dir }),
    (e: unknown) => e instanceof VaekitError && /diverged/.test(e.message) && /nothing was saved|kept/.test(e.message),
  );
  assert.deepEqual(readFileSync(join(dir, "checkpoint.safetensors")), before);
  assert.ok(existsSync(join(dir, "model.safetensors")));
});

test("IWAE bound ≥ ELBO and tightens with k on a trained model", async () => {
  const config = referenceConfig(20);
  const dir = tmp();
  const st = await runTraining({ config, train: { ...tcBase, epochs: 2 }, data: few, validation: 300, outDir: dir });
  const test = binarize(loadDataset("mnist", "test"), "static", 0);
  const x = test.x.slice(0, 200 * 784);
  const ev = makeEvaluator(buildVae(config));
  const r1 = await ev(st.params, x, { iwaeK: 1, seed: 2 });
  const r10 = await ev(st.params, x, { iwaeK: 10, seed: 2 });
  const r100 = await ev(st.params, x, { iwaeK: 100, seed: 2 });
  // k = 1 is an unbiased single-sample ELBO: it agrees with the ELBO estimate up to noise
  assert.ok(Math.abs(r1.iwae_nll! - r1.neg_elbo) < 2, `${r1.iwae_nll} vs ${r1.neg_elbo}`);
  assert.ok(r10.iwae_nll! < r1.iwae_nll!, "k=10 tighter than k=1");
  assert.ok(r100.iwae_nll! < r10.iwae_nll!, "k=100 tighter than k=10");
  assert.ok(r100.iwae_nll! < r100.neg_elbo, "IWAE NLL below the negative ELBO");
});

test("CLI: bad flags exit 2 with one line; a corrupt model file exits 1 with one line and no stack trace", async () => {
  const { spawnSync } = await import("node:child_process");
  const cli = new URL("../src/cli/main.js", import.meta.url).pathname;
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
  for (const args of [["train", "--bogus"], ["train", "--epochs", "x"], ["eval", "--model", "m", "--iwae-k", "-1"], ["train", "--binarize", "sometimes"]]) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: exit ${r.status}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^vaekit: /);
  }
  const dir = tmp();
  writeFileSync(join(dir, "model.safetensors"), "garbage bytes, not a model");
  const r = run("eval", "--model", dir, "--limit", "4", "--iwae-k", "2");
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /not a valid safetensors file/);
  assert.doesNotMatch(r.stderr, /\bat \S+:\d+/);
  const help = run("train", "--help");
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--batch-size/);
});
