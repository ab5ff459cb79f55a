/**
 * vaekit ↔ PyTorch: a vaekit model file loads into the PyTorch reference module with
 * load_state_dict(strict=True) and evaluates to the same numbers; PyTorch-initialised weights
 * import into vaekit and give the same KL. Skips when no Python with torch is installed.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSafetensors, initEngine, random } from "../src/engine/index.js";
import { referenceConfig } from "../src/models/config.js";
import { loadModel, saveModel } from "../src/models/files.js";
import { toStateDict } from "../src/models/io.js";
import { buildVae } from "../src/models/vae.js";
import { makeEvaluator } from "../src/train/evaluate.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, trainVae } from "../src/train/trainer.js";
import { loadDataset } from "../src/data/load.js";
import { binarize } from "../src/data/datasets.js";
import { probeTorch, runTorchReference, writeRawF32 } from "../bench/torch.js";

const probe = probeTorch();
const skip = probe.ok ? false : `PyTorch unavailable: ${probe.reason}`;

await initEngine("wasm");
const dir = mkdtempSync(join(tmpdir(), "vaekit-torch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const D = 784;
const N_TEST = 256;
const config = referenceConfig(20);
const model = buildVae(config);
const evaluate = makeEvaluator(model);

/** The first examples of a split of the embedded digits, binarised once with seed 0 (as `vaekit eval` does). */
function digits(split: "train" | "test", n: number): Float32Array {
  const ds = loadDataset("mnist", split);
  return binarize({ ...ds, n, x: ds.x.slice(0, n * D), labels: undefined }, "static", 0).x;
}

const testX = digits("test", N_TEST);
const testFile = join(dir, "test.f32");
writeRawF32(testFile, testX);

const torch = (args: string[]) => (probe.ok ? runTorchReference(probe.python, args, { quiet: true }) : Promise.reject(new Error("no torch")));
const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;

/**
 * Standard error of the difference between two independent evaluations' means, from the
 * per-example Monte-Carlo noise: two vaekit evaluations with different seeds on the same data
 * differ per example only by sampling noise, so var(a−b)/2 is that noise's variance.
 */
function seOfDifference(a: Float64Array, b: Float64Array): number {
  const d = a.map((v, i) => v - b[i]);
  const m = mean(d);
  const mcVar = d.reduce((s, v) => s + (v - m) ** 2, 0) / (d.length - 1) / 2;
  return Math.sqrt((2 * mcVar) / d.length);
}

test("a vaekit model loads into PyTorch with strict=True and evaluates to the same KL and, within noise, ELBO and IWAE", { skip }, async (ctx) => {
  // a briefly trained model, so the posterior is far from the prior and KL is not trivial
  const tc = TrainConfig.parse({ epochs: 1, batchSize: 100, seed: 1 });
  const state = await trainVae(config, tc, { train: digits("train", 1500), validation: testX.slice(0, 100 * D) }, initTrainState(model, 1));
  const modelDir = join(dir, "vaekit-model");
  await saveModel(modelDir, { config, params: state.params, extras: { note: "interop test" } });

  const k = 20;
  const a = await evaluate(state.params, testX, { iwaeK: k, seed: 0 });
  const b = await evaluate(state.params, testX, { iwaeK: k, seed: 1 });
  const t = await torch(["eval", "--weights", join(modelDir, "model.safetensors"), "--test", testFile, "--iwae-k", String(k)]);
  assert.equal(t.n, N_TEST);

  // KL is deterministic given weights and data: only float32 rounding may differ
  assert.ok(a.kl > 1, `KL ${a.kl} should be well above 0 after training`);
  assert.ok(Math.abs((t.kl as number) - a.kl) <= 1e-4 * a.kl, `KL: PyTorch ${t.kl}, vaekit ${a.kl}`);

  // one-sample ELBO and IWAE-k are Monte-Carlo estimates: agree within 5 standard errors
  const seElbo = seOfDifference(a.perExample.negElbo, b.perExample.negElbo);
  const seIwae = seOfDifference(a.perExample.iwaeNll!, b.perExample.iwaeNll!);
  ctx.diagnostic(`KL ${a.kl} vs ${t.kl}; neg-ELBO ${a.neg_elbo} vs ${t.neg_elbo} (se ${seElbo.toFixed(3)}); IWAE-${k} ${a.iwae_nll} vs ${t.iwae_nll} (se ${seIwae.toFixed(3)})`);
  assert.ok(seElbo > 0 && seIwae > 0);
  assert.ok(Math.abs((t.neg_elbo as number) - a.neg_elbo) < 5 * seElbo, `neg-ELBO: PyTorch ${t.neg_elbo}, vaekit ${a.neg_elbo} (se ${seElbo})`);
  assert.ok(Math.abs((t.iwae_nll as number) - a.iwae_nll!) < 5 * seIwae, `IWAE-${k}: PyTorch ${t.iwae_nll}, vaekit ${a.iwae_nll} (se ${seIwae})`);
  // and the two estimates keep their order on both sides
  assert.ok((t.iwae_nll as number) < (t.neg_elbo as number));
});

test("PyTorch's strict load rejects a vaekit model of another shape", { skip }, async () => {
  const small = referenceConfig(8);
  const smallDir = join(dir, "small-model");
  await saveModel(smallDir, { config: small, params: buildVae(small).init(random.key(0)), extras: {} });
  await assert.rejects(
    torch(["eval", "--weights", join(smallDir, "model.safetensors"), "--test", testFile, "--latent", "20", "--iwae-k", "1"]),
    /does not match the seed VAE with latent 20/,
  );
});

test("PyTorch-initialised weights import into vaekit unchanged and give the same KL", { skip }, async (ctx) => {
  const initFile = join(dir, "torch-init.safetensors");
  await torch(["export-init", "--seed", "3", "--latent", "20", "--out", initFile]);
  const bundle = loadModel(initFile, referenceConfig(20));

  // the imported parameters, exported again, are the PyTorch tensors bit for bit
  const original = decodeSafetensors(new Uint8Array(readFileSync(initFile)), initFile).tensors;
  const roundTrip = await toStateDict(bundle.params);
  assert.deepEqual(Object.keys(roundTrip).sort(), Object.keys(original).sort());
  for (const [name, t] of Object.entries(original)) {
    assert.deepEqual(roundTrip[name].shape, t.shape, name);
    assert.deepEqual(roundTrip[name].data, t.data, name);
  }

  const v = await evaluate(bundle.params, testX, { seed: 0 });
  const t = await torch(["eval", "--weights", initFile, "--test", testFile, "--iwae-k", "1"]);
  ctx.diagnostic(`KL at PyTorch's initialisation: vaekit ${v.kl}, PyTorch ${t.kl}`);
  assert.ok(v.kl > 0);
  assert.ok(Math.abs((t.kl as number) - v.kl) <= 1e-4 * v.kl, `KL: PyTorch ${t.kl}, vaekit ${v.kl}`);
});
