/**
 * The training engines wired into trainVae / runTraining / the CLI: ONNX Runtime (its own noise)
 * trains like the jax engine, data-parallel workers reproduce it, resuming works on every engine,
 * models the fast paths cannot handle fail with one clear line, and IWAE evaluation on ONNX
 * Runtime agrees with the engine's within Monte-Carlo error. (Step-level equality of the ONNX and
 * parallel steps with makeTrainStep is tested in speed-onnx and speed-parallel.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, random } from "../src/engine/index.js";
import { loadOnnxRuntime } from "../src/engine/onnxRuntime.js";
import { loadDataset } from "../src/data/load.js";
import { subset, type Dataset } from "../src/data/datasets.js";
import { parseVaeConfig, type VaeConfig } from "../src/models/config.js";
import { buildVae } from "../src/models/vae.js";
import { loadModel } from "../src/models/files.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, trainVae, type EngineInfo, type EpochMetrics } from "../src/train/trainer.js";
import { prepareData, runTraining, METRICS_FILE } from "../src/train/run.js";
import { evaluateWithEngine, makeEvaluator } from "../src/train/evaluate.js";
import { loadEvalData } from "../src/cli/common.js";
import { VaekitError } from "../src/errors.js";

await initEngine("wasm");
const needsOrt = (await loadOnnxRuntime()) ? {} : { skip: "onnxruntime-node is not installed (optional dependency)" };
const tmp = () => mkdtempSync(join(tmpdir(), "vaekit-engines-"));
const cli = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, "../src/cli/main.js"), ...args], { encoding: "utf8" });

/** A small MLP on 28×28 digits with a KL warm-up, so the per-step KL weight matters. */
const config: VaeConfig = parseVaeConfig({
  inputShape: [28, 28, 1],
  latentDim: 8,
  encoder: { type: "mlp", hidden: [64] },
  decoder: { type: "mlp", hidden: [64] },
  likelihood: { type: "bernoulli" },
  objective: { type: "elbo", klSchedule: { type: "linear", warmupSteps: 30 } },
});
const digits: Dataset = subset(loadDataset("mnist", "train"), Int32Array.from({ length: 1200 }, (_, i) => i));
const tcFor = (over: Partial<TrainConfig> = {}) => TrainConfig.parse({ epochs: 2, batchSize: 50, lr: 3e-3, seed: 3, binarize: "dynamic", ...over });
const data = prepareData(digits, 200, tcFor());

async function train(over: Partial<TrainConfig>, cfg: VaeConfig = config, d = data) {
  const tc = tcFor(over);
  let info: EngineInfo | undefined;
  const losses: number[] = [];
  const state = await trainVae(cfg, tc, d, initTrainState(buildVae(cfg), tc.seed), {
    onStart: (i) => (info = i),
    onStep: ({ loss }) => losses.push(loss),
  });
  return { state, history: state.history, info: info!, losses };
}

const initialValidation = (await makeEvaluator(buildVae(config))(initTrainState(buildVae(config), 3).params, data.validation, { seed: 3 })).neg_elbo;
const jaxRun = await train({});
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

test("TrainConfig: engine defaults to jax with one worker and round-trips through JSON", () => {
  const tc = TrainConfig.parse({ epochs: 1 });
  assert.equal(tc.engine, "jax");
  assert.equal(tc.workers, 1);
  const onnx = TrainConfig.parse({ epochs: 1, engine: "onnx", workers: 2 });
  assert.deepEqual(TrainConfig.parse(JSON.parse(JSON.stringify(onnx))), onnx);
  assert.equal(TrainConfig.safeParse({ epochs: 1, engine: "torch" }).success, false);
  assert.equal(TrainConfig.safeParse({ epochs: 1, workers: 0 }).success, false);
  assert.equal(jaxRun.info.summary, "jax on wasm");
});

test("the onnx engine lowers the validation loss and follows the jax engine's trajectory", needsOrt, async () => {
  const onnx = await train({ engine: "onnx" });
  assert.equal(onnx.info.engine, "onnx");
  assert.equal(onnx.info.device, "cpu");
  const [e1, e2] = onnx.history;
  assert.ok(e1.val_neg_elbo < initialValidation - 100, `epoch 1 ${e1.val_neg_elbo} vs initial ${initialValidation}`);
  assert.ok(e2.val_neg_elbo < e1.val_neg_elbo, `epoch 2 ${e2.val_neg_elbo} ≥ epoch 1 ${e1.val_neg_elbo}`);
  // the same batches and KL weights, different noise: epoch means agree within a few percent
  onnx.history.forEach((h, i) => {
    const j = jaxRun.history[i];
    assert.equal(h.step, j.step);
    assert.equal(h.kl_weight, j.kl_weight);
    assert.ok(rel(h.train_loss, j.train_loss) < 0.03, `epoch ${i + 1} train loss: onnx ${h.train_loss}, jax ${j.train_loss}`);
    assert.ok(rel(h.val_neg_elbo, j.val_neg_elbo) < 0.03, `epoch ${i + 1} validation: onnx ${h.val_neg_elbo}, jax ${j.val_neg_elbo}`);
  });
  // step by step: the per-step differences are noise around zero, small against the loss
  const d = onnx.losses.map((l, i) => l - jaxRun.losses[i]);
  assert.equal(d.length, 40);
  assert.ok(Math.abs(mean(d)) < 0.02 * mean(jaxRun.losses), `mean step difference ${mean(d)}`);
  // the KL weight reaches the step: during the warm-up (w = t/30) the loss is recon + w·KL, far below recon + KL
  assert.ok(e1.train_loss - e1.train_recon < 0.7 * e1.train_kl && e1.train_loss > e1.train_recon, JSON.stringify(e1));
  // the state handed back holds ordinary, usable arrays
  const val = await makeEvaluator(buildVae(config))(onnx.state.params, data.validation, { seed: 3 });
  assert.ok(Math.abs(val.neg_elbo - e2.val_neg_elbo) < 1e-3);
});

test("data-parallel workers train like the single-threaded jax step (same random numbers)", async () => {
  const par = await train({ workers: 2 });
  assert.deepEqual([par.info.engine, par.info.workers], ["jax", 2]);
  assert.ok(par.history[1].val_neg_elbo < par.history[0].val_neg_elbo && par.history[0].val_neg_elbo < initialValidation);
  // the same computation up to float32 summation order
  par.losses.forEach((l, i) => assert.ok(rel(l, jaxRun.losses[i]) < 1e-3, `step ${i + 1}: ${l} vs ${jaxRun.losses[i]}`));
  par.history.forEach((h, i) => assert.ok(rel(h.val_neg_elbo, jaxRun.history[i].val_neg_elbo) < 1e-3));
});

test("--micro-batch computes the same steps as the whole batch, a chunk at a time", async () => {
  const micro = await train({ microBatch: 16 }); // batch 50 → 4 chunks of 12–13 rows
  assert.equal(micro.info.summary, "jax on wasm, gradients over 4 micro-batches of ≤ 13");
  micro.losses.forEach((l, i) => assert.ok(rel(l, jaxRun.losses[i]) < 1e-4, `step ${i + 1}: ${l} vs ${jaxRun.losses[i]}`));
  micro.history.forEach((h, i) => assert.ok(rel(h.val_neg_elbo, jaxRun.history[i].val_neg_elbo) < 1e-4));
  await assert.rejects(train({ microBatch: 16, workers: 2 }), /--micro-batch splits the jax engine's step on one thread/);
});

test("a run resumed mid-way on the onnx engine continues exactly as the uninterrupted run", needsOrt, async () => {
  const small = subset(digits, Int32Array.from({ length: 500 }, (_, i) => i));
  const run = (outDir: string, epochs: number, resume = false, engine: "jax" | "onnx" = "onnx") =>
    runTraining({ config, train: tcFor({ epochs, engine }), data: small, validation: 100, outDir, resume });
  const whole = await run(tmp(), 3);
  const dir = tmp();
  await run(dir, 1);
  const resumed = await run(dir, 3, true);
  assert.equal(resumed.epoch, 3);
  assert.equal(resumed.step, whole.step);
  // each epoch's ONNX noise is seeded by (seed, epoch): the resumed epochs replay the uninterrupted ones
  for (const key of ["train_loss", "val_neg_elbo", "kl_weight"] as const) {
    assert.deepEqual(resumed.history.map((h) => h[key]), whole.history.map((h) => h[key]), key);
  }
  const lines = readFileSync(join(dir, METRICS_FILE), "utf8").trim().split("\n").map((l) => JSON.parse(l) as EpochMetrics);
  assert.deepEqual(lines.map((l) => l.epoch), [1, 2, 3]);
  // the checkpoint holds ordinary parameters: the jax engine (or other workers) may take over
  const jaxDir = tmp();
  await run(jaxDir, 1, false, "onnx");
  const switched = await run(jaxDir, 2, true, "jax");
  assert.equal(switched.epoch, 2);
  assert.ok(switched.history[1].val_neg_elbo < switched.history[0].val_neg_elbo);
  const saved = loadModel(jaxDir).extras as { training: { train: TrainConfig } };
  assert.equal(saved.training.train.engine, "jax");
  // other settings still may not change
  await assert.rejects(runTraining({ config, train: tcFor({ epochs: 3, engine: "onnx", lr: 1e-3 }), data: small, validation: 100, outDir: dir, resume: true }), /only --epochs, --engine, --workers and --micro-batch may change/);
});

test("models the fast paths cannot train fail with one line that names the way out", async () => {
  const freeBits = parseVaeConfig({ ...config, objective: { type: "elbo", freeBits: 0.5 } });
  const vamp = parseVaeConfig({ ...config, prior: { type: "vamp", components: 5 } });
  const ladder = parseVaeConfig({ ...config, hierarchy: { latents: [4] } });
  const flow = parseVaeConfig({ ...config, posterior: { type: "iaf", steps: 1, hidden: [8], context: 0 } });
  const oneLine = (re: RegExp) => (e: Error) => e instanceof VaekitError && re.test(e.message) && !e.message.includes("\n");
  await assert.rejects(train({ engine: "onnx" }, freeBits), oneLine(/^--engine onnx cannot train this model: free bits .*; use --engine jax --workers 1$/));
  await assert.rejects(train({ workers: 2 }, freeBits), oneLine(/^--workers 2 cannot train this model: free bits .*; use --workers 1$/));
  await assert.rejects(train({ engine: "onnx" }, vamp), oneLine(/VampPrior is not the N\(0, I\) prior.*use --engine jax/));
  await assert.rejects(train({ workers: 2 }, ladder), oneLine(/ladder \(hierarchical\) VAE.*use --workers 1/));
  await assert.rejects(train({ engine: "onnx" }, flow), oneLine(/IAF flow posterior.*use --engine jax/));
  await assert.rejects(train({ workers: 51 }), oneLine(/--workers 51 is more than the batch size 50/));
});

test("a diverging run stops with the same one-line error on every engine", needsOrt, async () => {
  // NaN pixels (kept: no binarisation) make the first loss NaN
  const bad = { train: data.train.slice(0, 100 * 784).fill(Number.NaN), validation: data.validation };
  for (const over of [{ engine: "onnx" as const }, { workers: 2 }, {}]) {
    await assert.rejects(train({ ...over, binarize: "none" }, config, bad), (e: Error) => e instanceof VaekitError && e.message === "training diverged: the loss became NaN at epoch 1, batch 1; try a lower --lr or --clip-norm");
  }
});

test("IWAE on ONNX Runtime agrees with the engine's within Monte-Carlo error (API and vaekit eval --engine onnx)", needsOrt, async () => {
  const dir = tmp();
  await runTraining({ config, train: tcFor({ epochs: 1, engine: "onnx" }), data: digits, validation: 200, outDir: dir });
  const bundle = loadModel(dir);
  const model = buildVae(bundle.config);
  const ds = loadEvalData("mnist", "test", "static", 0, 100);
  const opts = { iwaeK: 100, seed: 0 };
  const jax = await evaluateWithEngine(model, bundle.params, ds.x, { ...opts, engine: "jax" });
  const onnx = await evaluateWithEngine(model, bundle.params, ds.x, { ...opts, engine: "onnx" });
  assert.equal(onnx.neg_elbo, jax.neg_elbo, "the ELBO part runs on the engine in both");
  assert.equal(onnx.iwae_k, 100);
  // paired per-example differences: mean within 4 standard errors of zero
  const d = Array.from(onnx.perExample.iwaeNll!, (v, i) => v - jax.perExample.iwaeNll![i]);
  const se = Math.sqrt(d.reduce((s, v) => s + (v - mean(d)) ** 2, 0) / (d.length - 1) / d.length);
  assert.ok(se > 0 && Math.abs(mean(d)) < 4 * se, `mean difference ${mean(d)}, standard error ${se}`);
  assert.ok(onnx.iwae_nll! <= onnx.neg_elbo + 4 * se, "IWAE is a tighter bound than the ELBO");

  const r = cli(["eval", "--model", dir, "--limit", "100", "--iwae-k", "100", "--engine", "onnx", "--json", "--quiet"]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.engine, "onnx");
  assert.equal(out.neg_elbo, jax.neg_elbo);
  // the graph's samples are seeded by --seed: the CLI reproduces the API's estimate
  assert.ok(Math.abs(out.iwae_nll - onnx.iwae_nll!) < 1e-4, `CLI onnx ${out.iwae_nll} vs API onnx ${onnx.iwae_nll}`);
  // two ONNX Runtime threads: the same graph and noise, the same estimate (up to summation order)
  const r2 = cli(["eval", "--model", dir, "--limit", "100", "--iwae-k", "100", "--engine", "onnx", "--workers", "2", "--json"]);
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stderr, /IWAE on ONNX Runtime CPU, 2 threads/);
  assert.ok(Math.abs(JSON.parse(r2.stdout).iwae_nll - onnx.iwae_nll!) < 1e-3, `2 threads ${JSON.parse(r2.stdout).iwae_nll} vs 1 thread ${onnx.iwae_nll}`);

  const vamp = buildVae(parseVaeConfig({ ...config, prior: { type: "vamp", components: 5 } }));
  await assert.rejects(evaluateWithEngine(vamp, vamp.init(random.key(0)), ds.x, { iwaeK: 10, engine: "onnx" }), (e: Error) => e instanceof VaekitError && /^--engine onnx cannot evaluate this model: the VampPrior .*; use --engine jax$/.test(e.message));
});

test("a batch too large for the wasm device's 4 GiB ends in one line that names the way out", () => {
  const r = cli(["train", "--arch", "conv", "--channels", "64,128", "--batch-size", "7000", "--epochs", "1", "--out", join(tmp(), "run"), "--quiet"]);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, "vaekit: the wasm device ran out of memory (an array would exceed its 4 GiB address space): use a smaller --batch-size or (train) --micro-batch, or --engine onnx where the command has it\n");
});

test("vaekit train/eval reject bad --engine and --workers values with one line and exit code 2", () => {
  for (const args of [["train", "--engine", "torch"], ["train", "--workers", "0"], ["train", "--workers", "1.5"], ["eval", "--model", "x", "--engine", "gpu"]]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^vaekit: option '--(engine|workers) /);
  }
  const jaxWorkers = cli(["eval", "--model", "x", "--workers", "2"]);
  assert.equal(jaxWorkers.status, 2);
  assert.match(jaxWorkers.stderr, /^vaekit: --workers applies to --engine onnx .*\n$/);
});

test("vaekit train --engine onnx --workers N prints the engine it used", needsOrt, () => {
  const out = tmp();
  const r = cli(["train", "--data", "mnist", "--epochs", "1", "--latent", "4", "--hidden", "16", "--batch-size", "500", "--validation", "0.5", "--engine", "onnx", "--workers", "2", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^engine: onnx \(ONNX Runtime CPU, 2 threads\)$/m);
  const fb = cli(["train", "--epochs", "1", "--free-bits", "0.5", "--engine", "onnx", "--out", tmp(), "--quiet"]);
  assert.equal(fb.status, 1);
  assert.equal(fb.stderr, "vaekit: --engine onnx cannot train this model: free bits clamp the batch-mean KL, which does not split over examples; use --engine jax --workers 1\n");
});
