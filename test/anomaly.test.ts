import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, keyFromWords, np } from "../src/engine/index.js";
import { Bernoulli, DiagGaussian } from "../src/distributions/index.js";
import { DiscretizedLogisticMixture } from "../src/distributions/likelihoods.js";
import { makeInference } from "../src/models/inference.js";
import { parseVaeConfig } from "../src/models/config.js";
import { buildVae } from "../src/models/vae.js";
import { saveModel } from "../src/models/files.js";
import { initTrainState, trainVae } from "../src/train/trainer.js";
import { TrainConfig } from "../src/train/config.js";
import { loadDataset } from "../src/data/load.js";
import { Rng } from "../src/data/rng.js";
import { createImage } from "../src/io/image.js";
import { encodePng } from "../src/io/png.js";
import { auroc, auprc, fprAtTpr, rocCurve } from "../src/apps/anomaly/metrics.js";
import {
  flaggedFraction,
  optionsForCalibration,
  pickCalibration,
  readCalibrations,
  thresholdForFpr,
  typicalityThreshold,
  withCalibration,
  type Calibration,
} from "../src/apps/anomaly/calibration.js";
import { makeDetector } from "../src/apps/anomaly/detector.js";
import { binaryPngBits, pngBits } from "../src/apps/anomaly/compress.js";
import { loadAnomalyModel } from "../src/apps/anomaly/files.js";
import { DEFAULT_SCORE_OPTIONS, relevantOptions, SCORE_KINDS, typicalityScores, type ScoreKind } from "../src/apps/anomaly/scoring.js";
import type { AnomalyModel } from "../src/apps/anomaly/model-file.js";

await initEngine("wasm");
const tmp = () => mkdtempSync(join(tmpdir(), "vaekit-anomaly-"));
const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol;

// ---------------------------------------------------------------------------------------------
// Metrics against hand-computed cases

test("AUROC, AUPRC and FPR@95%TPR match hand-computed values", () => {
  // scores 0.1, 0.4 (normal) and 0.35, 0.8 (anomalous): 3 of 4 pairs ranked right
  assert.ok(close(auroc([0.1, 0.4], [0.35, 0.8]), 0.75));
  // ranked: 0.8 (+) P=1 R=½; 0.4 (−); 0.35 (+) P=⅔ R=1 → AP = ½·1 + ½·⅔
  assert.ok(close(auprc([0.1, 0.4], [0.35, 0.8]), 0.5 + 1 / 3));
  // TPR reaches 1 only at threshold 0.35, where 1 of 2 normals is above
  assert.equal(fprAtTpr([0.1, 0.4], [0.35, 0.8]), 0.5);
  assert.equal(auroc([1, 2, 3], [4, 5]), 1);
  assert.equal(auroc([4, 5], [1, 2, 3]), 0);
  assert.equal(auprc([1, 2, 3], [4, 5]), 1);
});

test("ties count one half in AUROC and form one threshold in the ROC curve and AUPRC", () => {
  // normal 1,2,2 vs anomalous 2,3: pairs 2>1, 2=2, 2=2, 3>1, 3>2, 3>2 → (1 + ½ + ½ + 3) / 6
  assert.ok(close(auroc([1, 2, 2], [2, 3]), 5 / 6));
  // thresholds 3: P=1 R=½; 2: TP=2 of 4 seen, P=½ R=1 → AP = ½ + ¼
  assert.ok(close(auprc([1, 2, 2], [2, 3]), 0.75));
  const roc = rocCurve([1, 2, 2], [2, 3]);
  assert.deepEqual(Array.from(roc.fpr), [0, 0, 2 / 3, 1]);
  assert.deepEqual(Array.from(roc.tpr), [0, 0.5, 1, 1]);
  assert.deepEqual(Array.from(roc.thresholds), [Infinity, 3, 2, 1]);
  assert.ok(close(fprAtTpr([1, 2, 2], [2, 3]), 2 / 3));
  assert.equal(auroc([7, 7, 7], [7, 7]), 0.5);
});

test("AUROC equals the brute-force pair count on random scores with many ties", () => {
  const rng = new Rng(3);
  const normal = Array.from({ length: 300 }, () => rng.int(20));
  const anomalous = Array.from({ length: 200 }, () => rng.int(20) + 3);
  let wins = 0;
  for (const a of anomalous) for (const n of normal) wins += a > n ? 1 : a === n ? 0.5 : 0;
  assert.ok(close(auroc(normal, anomalous), wins / (300 * 200), 1e-12));
  // the area under the drawn ROC curve (trapezoids through tied steps) is the same number
  const roc = rocCurve(normal, anomalous);
  let area = 0;
  for (let i = 1; i < roc.fpr.length; i++) area += ((roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1])) / 2;
  assert.ok(close(area, wins / (300 * 200), 1e-12));
  assert.throws(() => auroc([], [1]), /empty/);
  assert.throws(() => auroc([NaN], [1]), /NaN/);
});

// ---------------------------------------------------------------------------------------------
// Calibration

test("thresholdForFpr takes the conformal order statistic and refuses too little data", () => {
  const s = Array.from({ length: 99 }, (_, i) => i + 1);
  assert.equal(thresholdForFpr(s, 0.1), 90); // ⌈100·0.9⌉ = 90th smallest
  assert.ok(close(flaggedFraction(s, 90), 9 / 99));
  assert.throws(() => thresholdForFpr([1, 2, 3], 0.01), /at least 99 normal examples/);
  assert.throws(() => thresholdForFpr(s, 1.5), /fpr/);
});

test("a threshold fitted for FPR α flags about α of fresh normal data (Gaussian scores, 400 repeats)", () => {
  const rng = new Rng(11);
  const alpha = 0.05;
  let total = 0;
  const repeats = 400;
  for (let r = 0; r < repeats; r++) {
    const fit = Array.from({ length: 200 }, () => rng.normal());
    const fresh = Array.from({ length: 200 }, () => rng.normal());
    total += flaggedFraction(fresh, thresholdForFpr(fit, alpha));
  }
  const mean = total / repeats;
  // conformal guarantee: E[FPR] ≤ α, and ≥ α − 1/(n+1); Monte-Carlo error of the mean ≈ 0.001
  assert.ok(mean <= alpha + 0.004 && mean >= alpha - 1 / 201 - 0.004, `mean FPR ${mean}`);
});

test("the typicality threshold: per example it is the calibration quantile of |NLL − Ĥ|; for batches the bootstrap matches the normal theory", () => {
  const rng = new Rng(5);
  const nll = Array.from({ length: 5000 }, () => 100 + 10 * rng.normal());
  const one = typicalityThreshold(nll, 1, 0.05);
  assert.ok(Math.abs(one.entropy - 100) < 0.5);
  assert.ok(Math.abs(one.threshold - 1.96 * 10) < 1.0, `m=1 threshold ${one.threshold}`);
  const batch = typicalityThreshold(nll, 25, 0.05, 4000, 1);
  // mean of 25 has sd 10/5 = 2: two-sided 95% bound ≈ 1.96·2
  assert.ok(Math.abs(batch.threshold - 3.92) < 0.35, `m=25 threshold ${batch.threshold}`);
  const scores = typicalityScores([1, 3, 10, 10, 5], 4, 2);
  assert.deepEqual(Array.from(scores), [2, 2, 6, 6, 1]);
});

test("calibrations are stored per score kind and FPR, picked by --fpr, and insist on their own options", () => {
  const cal = (score: ScoreKind, fpr: number, threshold: number): Calibration => ({ score, fpr, threshold, n: 100, fitted_fpr: fpr, options: { iwaeK: 64, seed: 0 } });
  let extras: Record<string, unknown> = { training: { epochs: 3 } };
  extras = withCalibration(extras, cal("iwae-nll", 0.01, 5));
  extras = withCalibration(extras, cal("iwae-nll", 0.05, 4));
  extras = withCalibration(extras, cal("iwae-nll", 0.01, 6)); // replaces the first
  assert.deepEqual(extras.training, { epochs: 3 });
  const cals = readCalibrations(JSON.parse(JSON.stringify(extras)));
  assert.equal(cals.length, 2);
  assert.equal(pickCalibration(cals, "iwae-nll", 0.01)?.threshold, 6);
  assert.throws(() => pickCalibration(cals, "iwae-nll"), /pick one with --fpr/);
  assert.throws(() => pickCalibration(cals, "regret", 0.01), /no regret threshold calibrated for FPR 0.01/);
  assert.equal(pickCalibration(cals, "regret"), undefined);
  assert.throws(() => optionsForCalibration(cals[0], { iwaeK: 8 }), /calibrated with iwaeK=64, not 8/);
  assert.deepEqual(optionsForCalibration(cals[0], { iwaeK: 64, samples: 2 }), { iwaeK: 64, samples: 2, seed: 0 });
  // a recon-error threshold from before --recon-measure existed is a squared-error threshold
  const legacy: Calibration = { score: "recon-error", fpr: 0.01, threshold: 3, n: 100, fitted_fpr: 0.01, options: {} };
  assert.throws(() => optionsForCalibration(legacy, { reconMeasure: "deviance" }), /calibrated with reconMeasure=squared, not deviance/);
  assert.deepEqual(optionsForCalibration(legacy, {}), { reconMeasure: "squared" });
});

// ---------------------------------------------------------------------------------------------
// Scores on a small trained model

const config = parseVaeConfig({
  inputShape: [28, 28, 1],
  latentDim: 8,
  encoder: { type: "mlp", hidden: [128] },
  decoder: { type: "mlp", hidden: [128] },
  likelihood: { type: "bernoulli" },
});
const digits = loadDataset("mnist", "train");
const D = 784;
const trainX = digits.x.slice(0, 3000 * D);
const tc = TrainConfig.parse({ epochs: 4, batchSize: 64, lr: 2e-3, seed: 1 });
const state = await trainVae(config, tc, { train: trainX, validation: digits.x.slice(3000 * D, 3256 * D) }, initTrainState(buildVae(config), tc.seed));
const model: AnomalyModel = { type: "image", bundle: { config, params: state.params, extras: {} } };
const det = makeDetector(model, 64);

const normalX = digits.x.slice(4000 * D, 4200 * D);
const noiseRng = new Rng(9);
const noiseX = Float32Array.from({ length: 200 * D }, () => noiseRng.uniform());
const opts = { samples: 4, iwaeK: 16, regretSteps: 8, regretLr: 0.05 };
const reference = { entropy: 0 };

test("every score separates uniform-noise images from normal digits (AUROC > 0.95)", async () => {
  const nll = await det.score("iwae-nll", normalX, opts);
  reference.entropy = nll.reduce((a, b) => a + b, 0) / nll.length;
  for (const kind of SCORE_KINDS) {
    const a = await det.score(kind, normalX, opts, reference);
    const b = await det.score(kind, noiseX, opts, reference);
    assert.ok(a.every(Number.isFinite) && b.every(Number.isFinite), `${kind} gave a non-finite score`);
    const auc = auroc(a, b);
    assert.ok(auc > 0.95, `${kind}: AUROC ${auc}`);
  }
});

test("scores are per-example functions of the input: the same alone as inside a batch", async () => {
  const one = normalX.slice(5 * D, 6 * D);
  for (const kind of ["neg-elbo", "iwae-nll", "regret", "recon-error"] as ScoreKind[]) {
    const inBatch = (await det.score(kind, normalX.slice(0, 10 * D), opts))[5];
    const alone = (await det.score(kind, one, opts))[0];
    assert.ok(Math.abs(inBatch - alone) < 1e-3 * Math.max(1, Math.abs(alone)), `${kind}: ${inBatch} vs ${alone}`);
  }
});

test("regret with the whole encoder re-optimised (Xiao et al.): no steps give 0, each input is optimised alone, noise stands out", async () => {
  const enc = { ...opts, regretLr: 1e-3, regretScope: "encoder" as const };
  const x = normalX.slice(0, 6 * D);
  // the same estimator before and after: without steps the regret is exactly 0
  assert.deepEqual(Array.from(await det.score("regret", x, { ...enc, regretSteps: 0 })), [0, 0, 0, 0, 0, 0]);
  // per-example encoder copies: an input's result does not depend on the others in its batch
  const inBatch = (await det.score("regret", x, enc))[5];
  const alone = (await det.score("regret", x.slice(5 * D), enc))[0];
  assert.ok(Math.abs(inBatch - alone) < 1e-3 * Math.max(1, Math.abs(alone)), `${inBatch} vs ${alone}`);
  const a = await det.score("regret", normalX.slice(0, 100 * D), enc);
  const b = await det.score("regret", noiseX.slice(0, 100 * D), enc);
  assert.ok(a.every(Number.isFinite) && b.every(Number.isFinite));
  assert.ok(auroc(a, b) > 0.95, `AUROC ${auroc(a, b)}`);
  // Adam on the encoder raises the ELBO on average (regret > 0)
  assert.ok(a.reduce((s, v) => s + v, 0) > 0);
  // the scope is part of what a calibration records
  assert.equal(relevantOptions("regret", { ...DEFAULT_SCORE_OPTIONS, regretScope: "encoder" }).regretScope, "encoder");
});

test("IWAE tightens the ELBO; complexity = NLL in bits minus PNG bits; error maps sum to the recon score", async () => {
  const x = normalX.slice(0, 32 * D);
  const elbo = await det.score("neg-elbo", x, { samples: 64 });
  const iwae = await det.score("iwae-nll", x, { iwaeK: 64 });
  const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(mean(iwae) < mean(elbo), `IWAE ${mean(iwae)} vs −ELBO ${mean(elbo)}`);
  const complexity = await det.score("complexity", x, { iwaeK: 64 });
  const bits = det.complexityBits(x);
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(complexity[i] - (iwae[i] / Math.LN2 - bits[i])) < 1e-6 * Math.abs(complexity[i]));
  // 8-bit images: the PNG file's length; binary images: one bit per pixel, packed, then PNG
  const grey = pngBits(x.slice(0, D), [28, 28, 1])[0];
  assert.equal(grey, encodePng(createImage(28, 28, 1, x.slice(0, D))).length * 8);
  const binary = x.slice(0, D).map((v) => (v > 0.5 ? 1 : 0));
  assert.ok(binaryPngBits(binary, [28, 28, 1])[0] < pngBits(binary, [28, 28, 1])[0]);
  const coin = new Rng(4);
  const randomBits = Float32Array.from({ length: D }, () => (coin.uniform() < 0.5 ? 1 : 0));
  const packed = binaryPngBits(randomBits, [28, 28, 1])[0];
  assert.ok(packed > D && packed < 1.6 * D + 600, `784 random bits took ${packed} bits`);
  assert.ok(binaryPngBits(new Float32Array(D), [28, 28, 1])[0] < binaryPngBits(binary, [28, 28, 1])[0], "a blank image compresses below a digit");
  const maps = await det.errorMaps(x.slice(0, 4 * D));
  const recon = await det.score("recon-error", x.slice(0, 4 * D));
  for (let i = 0; i < 4; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += maps[i * D + j];
    assert.ok(Math.abs(s - recon[i]) < 1e-3 * recon[i]);
  }
});

test("deviance per value: Bernoulli KL(Bern(x) ‖ Bern(p)), Gaussian ½(x−μ)²/σ², discretised logistic log P(bin | loc = x) − log P(bin | loc); 0 at a perfect fit", () => {
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  const xs = [0, 0.3, 1, 0.5];
  const logits = [-2, 0.4, 3, 0];
  const bern = new Bernoulli(np.array(logits)).deviance(np.array(xs)).dataSync();
  xs.forEach((x, j) => {
    const p = sigmoid(logits[j]);
    const kl = (x > 0 ? x * Math.log(x / p) : 0) + (x < 1 ? (1 - x) * Math.log((1 - x) / (1 - p)) : 0);
    assert.ok(Math.abs(bern[j] - kl) < 1e-5, `Bernoulli x=${x}: ${bern[j]} vs ${kl}`);
  });
  // logits = logit(x): a perfect reconstruction of grey levels has deviance 0 (its cross-entropy is H(x) > 0)
  const perfect = new Bernoulli(np.array([Math.log(0.3 / 0.7), 0, -30, 30])).deviance(np.array([0.3, 0.5, 0, 1])).dataSync();
  perfect.forEach((v: number) => assert.ok(Math.abs(v) < 1e-5, `perfect fit: ${v}`));
  const gauss = new DiagGaussian(np.array([0.1, 0.9]), np.array([Math.log(0.25), 0])).deviance(np.array([0.6, 0.4])).dataSync();
  assert.ok(Math.abs(gauss[0] - (0.5 * 0.25) / 0.25) < 1e-5 && Math.abs(gauss[1] - 0.5 * 0.25) < 1e-5, `Gaussian ${Array.from(gauss)}`);
  // single logistic on 256 levels: interior bin, and the first bin (which takes the lower tail)
  const half = 0.5 / 255;
  const [loc, s] = [[0.5, 0.2], [0.05, 0.1]];
  const xv = [100 / 255, 0];
  const binP = (x: number, m: number, sc: number) => (x < half ? sigmoid((x + half - m) / sc) : sigmoid((x + half - m) / sc) - sigmoid((x - half - m) / sc));
  const dl = new DiscretizedLogisticMixture(np.zeros([1, 2]), np.array([loc]), np.array([s.map(Math.log)]), 256).deviance(np.array(xv)).dataSync();
  xv.forEach((x, j) => {
    const want = Math.log(binP(x, x, s[j])) - Math.log(binP(x, loc[j], s[j]));
    assert.ok(Math.abs(dl[j] - want) < 1e-3 * Math.max(1, Math.abs(want)), `discretised logistic x=${x}: ${dl[j]} vs ${want}`);
  });
});

test("recon-error with --recon-measure deviance: Σ KL through μ(x) on the trained Bernoulli model, its error maps, options and unsupported likelihoods", async () => {
  const x = normalX.slice(0, 8 * D);
  const dev = await det.score("recon-error", x, { reconMeasure: "deviance" });
  const p = await makeInference(model.bundle).reconstruct(x); // the decoder mean at z = μ(x)
  for (let i = 0; i < 8; i++) {
    let kl = 0;
    for (let j = 0; j < D; j++) {
      const [v, q] = [x[i * D + j], Math.min(Math.max(p[i * D + j], 1e-7), 1 - 1e-7)];
      kl += (v > 0 ? v * Math.log(v / q) : 0) + (v < 1 ? (1 - v) * Math.log((1 - v) / (1 - q)) : 0);
    }
    assert.ok(Math.abs(dev[i] - kl) < 2e-3 * kl, `example ${i}: ${dev[i]} vs ${kl}`);
  }
  const maps = await det.errorMaps(x, { reconMeasure: "deviance" });
  assert.ok(maps.every((v) => v > -1e-4), "deviance is never negative");
  for (let i = 0; i < 8; i++) {
    const sum = maps.subarray(i * D, (i + 1) * D).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - dev[i]) < 1e-3 * dev[i]);
  }
  // the default stays the squared error; the measure is recorded with a calibration
  const squared = await det.score("recon-error", x);
  assert.ok(squared.every((v, i) => Math.abs(v - dev[i]) > 1e-3));
  assert.deepEqual(relevantOptions("recon-error", DEFAULT_SCORE_OPTIONS), { reconMeasure: "squared" });
  const cb = parseVaeConfig({ ...config, likelihood: { type: "continuous-bernoulli" } });
  const cbDet = makeDetector({ type: "image", bundle: { config: cb, params: buildVae(cb).init(keyFromWords(1, 2)), extras: {} } });
  assert.ok((await cbDet.score("recon-error", x)).every(Number.isFinite));
  await assert.rejects(cbDet.score("recon-error", x, { reconMeasure: "deviance" }), /deviance measure needs an image model with a Bernoulli/);
});

test("a neg-elbo threshold calibrated on 1000 digits holds its FPR on 1000 fresh digits", async () => {
  const fit = digits.x.slice(4200 * D, 5200 * D);
  const fresh = digits.x.slice(5200 * D, 6200 * D);
  const cal = await det.calibrate("neg-elbo", fit, 0.05, { samples: 2 });
  assert.equal(cal.score, "neg-elbo");
  assert.ok(cal.fitted_fpr <= 0.05);
  const fpr = flaggedFraction(await det.score("neg-elbo", fresh, cal.options), cal.threshold);
  // binomial sd at n = 1000 is 0.007; allow ≈ 3 sd plus the threshold's own sampling error
  assert.ok(Math.abs(fpr - 0.05) < 0.03, `fresh FPR ${fpr}`);
});

// ---------------------------------------------------------------------------------------------
// Command line

const cli = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, "../src/cli/main.js"), ...args], { encoding: "utf8" });

test("CLI: calibrate stores a threshold in the model; score writes id,score,flag; detect-eval writes metrics and plots", async () => {
  const dir = tmp();
  const modelDir = join(dir, "model");
  await saveModel(modelDir, model.bundle);
  const idx = join(dir, "normal");
  mkdirSync(idx);
  const common = ["--quiet", "--samples", "2"];
  let r = cli(["calibrate", "--model", modelDir, "--data", "mnist", "--limit", "300", "--score", "neg-elbo", "--fpr", "0.05", ...common]);
  assert.equal(r.status, 0, r.stderr);
  const cal = JSON.parse(r.stdout) as Calibration;
  assert.equal(cal.fpr, 0.05);
  const stored = readCalibrations(loadAnomalyModel(modelDir).bundle.extras);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].threshold, cal.threshold);
  assert.deepEqual(stored[0].options, { samples: 2, seed: 0, binarize: "none" });

  // a folder of PNGs: 3 digits and 1 noise image
  const imgDir = join(dir, "images");
  mkdirSync(imgDir);
  for (let i = 0; i < 3; i++) writeFileSync(join(imgDir, `digit${i}.png`), encodePng(createImage(28, 28, 1, normalX.slice(i * D, (i + 1) * D))));
  writeFileSync(join(imgDir, "noise.png"), encodePng(createImage(28, 28, 1, noiseX.slice(0, D))));
  const out = join(dir, "scores.csv");
  r = cli(["score", "--model", modelDir, "--data", imgDir, "--score", "neg-elbo", "--fpr", "0.05", "--out", out, "--maps", join(dir, "maps"), "--quiet"]);
  assert.equal(r.status, 0, r.stderr);
  const rows = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(rows[0], "id,score,flag");
  const byId = Object.fromEntries(rows.slice(1).map((l) => l.split(",")).map(([id, s, f]) => [id, { s: Number(s), f }]));
  assert.deepEqual(Object.keys(byId).sort(), ["digit0.png", "digit1.png", "digit2.png", "noise.png"]);
  assert.equal(byId["noise.png"].f, "1");
  assert.ok(byId["noise.png"].s > cal.threshold);
  assert.ok(existsSync(join(dir, "maps", "noise.png.png")) && existsSync(join(dir, "maps", "grid.png")));

  // explicit options that contradict the calibration are refused
  r = cli(["score", "--model", modelDir, "--data", imgDir, "--score", "neg-elbo", "--fpr", "0.05", "--samples", "5", "--out", out, "--quiet"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /calibrated with samples=2, not 5/);

  const evalDir = join(dir, "eval");
  r = cli(["detect-eval", "--model", modelDir, "--normal", "mnist", "--anomalous", imgDir, "--limit", "50", "--score", "recon-error", "--out", evalDir, "--quiet"]);
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  assert.equal(m.n_normal, 50);
  assert.equal(m.n_anomalous, 4);
  assert.ok(m.auroc >= 0 && m.auroc <= 1 && m.auprc > 0 && m.fpr_at_95_tpr >= 0);
  for (const f of ["roc.svg", "roc.png", "histogram.svg", "histogram.png", "metrics.json"]) assert.ok(existsSync(join(evalDir, f)), f);
  assert.match(readFileSync(join(evalDir, "roc.svg"), "utf8"), /<svg/);
});

test("CLI: corrupt images, malformed CSVs and wrong data give one clear line", async () => {
  const dir = tmp();
  const modelDir = join(dir, "model");
  await saveModel(modelDir, model.bundle);
  const imgDir = join(dir, "bad");
  mkdirSync(imgDir);
  writeFileSync(join(imgDir, "broken.png"), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  let r = cli(["score", "--model", modelDir, "--data", imgDir, "--out", join(dir, "s.csv"), "--quiet"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^vaekit: .*broken\.png/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  writeFileSync(join(dir, "rows.csv"), "a,b\n1,2\n");
  r = cli(["score", "--model", modelDir, "--data", join(dir, "rows.csv"), "--quiet"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /CSV data needs a tabular model/);
  r = cli(["score", "--model", modelDir, "--data", "mnist", "--score", "typicality", "--quiet", "--limit", "5"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /run `vaekit calibrate --score typicality` first/);
  r = cli(["score", "--model", modelDir, "--data", "mnist", "--score", "nonsense"]);
  assert.equal(r.status, 2);
  r = cli(["train-tabular", "--data", join(dir, "nope.csv"), "--quiet"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nope\.csv: cannot read \(file not found\)/);
  writeFileSync(join(dir, "ragged.csv"), "a,b,c\n1,2,3\n4,5\n");
  r = cli(["train-tabular", "--data", join(dir, "ragged.csv"), "--quiet"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /ragged\.csv: malformed CSV: .*line 3/);
});
