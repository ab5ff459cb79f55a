import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, random } from "../src/engine/index.js";
import { buildVae } from "../src/models/vae.js";
import { VaekitError } from "../src/errors.js";
import {
  CatchEnv,
  collectRandomFrames,
  defaultTrainControllerConfig,
  episodeSeeds,
  evaluateRandomPolicy,
  pixelFeatures,
  rolloutsAsDataset,
  trainController,
} from "../src/apps/rl/index.js";
import {
  collectRollouts,
  concatRollouts,
  generationSteps,
  learningCurve,
  parseControllerFile,
  playEpisode,
  standardError,
  wholeGenerations,
} from "../src/apps/rl/pipeline.js";
import { frameVaeConfig, latentEncoder, reconstructionMse, trainFrameVae, type LatentEncoder } from "../src/apps/rl/world-model.js";
import { loadController, loadRollouts, saveController, saveRollouts } from "../src/apps/rl/files.js";

await initEngine("wasm");

const env = new CatchEnv();
const D = 64 * 64;

test("collectRollouts: one seed per episode, joined with shifted episode starts", () => {
  const r = collectRollouts(env, 3, 5);
  assert.equal(r.n, 600);
  assert.deepEqual(Array.from(r.episodeStarts), [0, 200, 400]);
  // Episode e is exactly a one-episode collection with the e-th derived seed.
  const seeds = episodeSeeds(5, 3);
  const second = collectRandomFrames(env, 1, seeds[1]);
  assert.deepEqual(r.frames.subarray(200 * D, 400 * D), second.frames);
  assert.deepEqual(r.actions.subarray(200, 400), second.actions);
  assert.equal(r.episodeReturns[1], second.episodeReturns[0]);
  assert.equal(r.dones.reduce((a, b) => a + b, 0), 3);
  assert.throws(() => concatRollouts([]), VaekitError);
});

test("standard error; budgets in whole CMA-ES generations", async () => {
  assert.equal(standardError({ std: 3, returns: [1, 2, 3, 4, 5, 6, 7, 8, 9] }), 1);
  // 16×16 pixels + bias = 257 parameters → population 4 + ⌊3 ln 257⌋ = 20; 2 episodes of 200 steps each.
  const ctl = { ...defaultTrainControllerConfig, episodesPerCandidate: 2 };
  assert.equal(await generationSteps(env, pixelFeatures(env.obsShape, 16), ctl), 20 * 2 * 200);
  assert.equal(await generationSteps(env, pixelFeatures(env.obsShape, 16), { ...ctl, populationSize: 6 }), 6 * 2 * 200);
  assert.equal(wholeGenerations(50_000, 8000), 48_000);
  assert.equal(wholeGenerations(48_000, 8000), 48_000);
  assert.equal(wholeGenerations(100, 8000), 8000);
});

test("the default frame VAE is convolutional and maps 64×64 frames to z and back", async () => {
  const config = frameVaeConfig(env.obsShape);
  assert.equal(config.encoder.type, "conv");
  assert.equal(config.decoder.type, "conv");
  assert.equal(config.latentDim, 8);
  const bundle = { config, params: buildVae(config).init(random.key(0)), extras: {} };
  const enc = latentEncoder(bundle);
  const frames = collectRandomFrames(env, 1, 2).frames.subarray(0, 3 * D);
  const z = await enc.batch(frames, 3);
  assert.equal(z.length, 3 * 8);
  const rec = await enc.reconstruct(frames, 3);
  assert.equal(rec.length, 3 * D);
  assert.ok(rec.every((v) => v >= 0 && v <= 1));
  assert.throws(() => frameVaeConfig(env.obsShape, { latentDim: 0 }), /frame VAE config/);
});

// A small VAE trained once on 32×32 frames (4× cheaper than 64×64), shared by the next two tests.
let encoder: LatentEncoder;
const small = new CatchEnv({ size: 32 });
const S = 32 * 32;
const trainFrames = collectRollouts(small, 8, 11);
const heldOut = collectRollouts(small, 1, 12345);

test("the frame VAE reconstructs held-out frames far better than a blank or mean frame", async () => {
  const config = frameVaeConfig(small.obsShape, { latentDim: 8, encoder: "mlp", hidden: [64] });
  const { bundle, history } = await trainFrameVae(rolloutsAsDataset(trainFrames), config, { epochs: 16, batchSize: 32, lr: 1e-2, validation: 100 });
  assert.equal(history.length, 16);
  assert.ok(history[15].val_recon < 0.5 * history[0].val_recon);
  encoder = latentEncoder(bundle);
  const mse = await reconstructionMse(encoder, heldOut.frames, heldOut.n);
  // References: an all-black prediction, and the mean training frame.
  const black = heldOut.frames.reduce((s, v) => s + v * v, 0) / heldOut.frames.length;
  const meanFrame = new Float64Array(S);
  for (let i = 0; i < trainFrames.n; i++) for (let p = 0; p < S; p++) meanFrame[p] += trainFrames.frames[i * S + p] / trainFrames.n;
  let meanMse = 0;
  for (let i = 0; i < heldOut.n; i++) for (let p = 0; p < S; p++) meanMse += (heldOut.frames[i * S + p] - meanFrame[p]) ** 2;
  meanMse /= heldOut.frames.length;
  assert.ok(mse < 0.006, `held-out reconstruction MSE ${mse} should be below 0.006 (black frame ${black}, mean frame ${meanMse})`);
  assert.ok(mse < 0.5 * meanMse, `held-out MSE ${mse} vs mean-frame MSE ${meanMse}`);
  // Batched encoding agrees with one-by-one encoding (padding rows do not leak in).
  const z3 = await encoder.batch(heldOut.frames.subarray(0, 3 * S), 3);
  const z1 = await encoder.batch(heldOut.frames.subarray(S, 2 * S), 1);
  z1.forEach((v, k) => assert.ok(Math.abs(v - z3[8 + k]) < 1e-4));
  await assert.rejects(encoder.batch(new Float32Array(5), 1), /latent encoder: got 5 values/);
});

test("a short CMA-ES training on z beats the random policy", async () => {
  const random = evaluateRandomPolicy(small, 16, 99);
  // 40k steps: at 16k, CMA-ES seeds still vary from −4 to +7 on this small VAE; at 40k seeds 1–4 give +1.9..+4.9.
  const result = await trainController(small, encoder, { budgetSteps: 40_000, episodesPerCandidate: 2, sigma0: 1, seed: 1, evalEpisodes: 16, evalSeed: 99, curveEvery: 4, curveEpisodes: 4 });
  assert.equal(result.spec.inputSize, 8);
  assert.ok(result.evaluation.mean > random.mean + 3, `latent controller ${result.evaluation.mean} vs random ${random.mean}`);
  const curve = learningCurve(result, 1600);
  assert.ok(curve.length >= 2 && curve[0].envSteps > 1600);
  assert.ok(curve.every((p, i) => i === 0 || p.envSteps > curve[i - 1].envSteps));
  // Replaying a seed reproduces the evaluation's return for that episode.
  const { total, frames } = await playEpisode(small, result.spec, result.params, encoder, episodeSeeds(99, 1)[0]);
  assert.equal(total, result.evaluation.returns[0]);
  assert.equal(frames.length, small.maxSteps + 1);
});

test("rollout and controller files round trip and reject bad input", () => {
  const dir = mkdtempSync(join(tmpdir(), "vaekit-rl-"));
  const r = collectRollouts(env, 1, 3);
  const path = join(dir, "r.safetensors");
  saveRollouts(path, { rollouts: r, env: env.config, seed: 3 });
  const back = loadRollouts(path);
  assert.deepEqual(back.rollouts.frames, r.frames);
  assert.deepEqual(back.rollouts.dones, r.dones);
  assert.deepEqual(Array.from(back.rollouts.episodeReturns), Array.from(r.episodeReturns));
  assert.deepEqual(back.env, env.config);
  assert.throws(() => loadRollouts(join(dir, "missing.safetensors")), /rollouts file not found/);
  writeFileSync(join(dir, "junk.safetensors"), "not a file");
  assert.throws(() => loadRollouts(join(dir, "junk.safetensors")), VaekitError);

  const file = {
    format: "vaekit.rl-controller/1" as const,
    env: { name: "catch" as const, config: { ...env.config } },
    features: { kind: "latent" as const, latentDim: 4 },
    spec: { kind: "linear" as const, inputSize: 4, outputSize: 1, output: "tanh" as const },
    params: [0.1, 0.2, 0.3, 0.4, 0],
    training: {},
    envSteps: { rollouts: 200, controller: 1000, total: 1200 },
    seconds: 1,
    curve: [],
    evaluation: { returns: [1], mean: 1, std: 0, steps: 200 },
  };
  const cpath = join(dir, "sub", "..", "c.json");
  saveController(join(dir, "c.json"), file, join(dir, "vae"));
  const loaded = loadController(cpath);
  assert.equal(loaded.controller.vae, "vae");
  assert.equal(loaded.vaePath, join(dir, "vae"));
  assert.deepEqual(loaded.controller.params, file.params);
  assert.throws(() => parseControllerFile({ ...file, format: "x" }, "c.json"), /c.json: not a vaekit controller file/);
  writeFileSync(join(dir, "bad.json"), "{");
  assert.throws(() => loadController(join(dir, "bad.json")), /bad.json: not valid JSON/);
});

test("CLI: collect → train-vae → train-policy → evaluate → render produce their files", () => {
  const dir = mkdtempSync(join(tmpdir(), "vaekit-rl-cli-"));
  const cli = (...args: string[]) => spawnSync(process.execPath, ["dist/src/cli/main.js", "rl", ...args, "--quiet"], { encoding: "utf8" });
  const ok = (r: ReturnType<typeof cli>) => assert.equal(r.status, 0, r.stderr);
  const rollouts = join(dir, "rollouts.safetensors");
  const vae = join(dir, "vae");
  const controller = join(dir, "controller.json");
  const gif = join(dir, "agent.gif");
  ok(cli("collect", "--episodes", "2", "--seed", "4", "--out", rollouts));
  ok(cli("train-vae", "--rollouts", rollouts, "--latent", "4", "--encoder", "mlp", "--hidden", "32", "--epochs", "1", "--batch-size", "32", "--validation", "40", "--out", vae));
  assert.ok(existsSync(join(vae, "model.safetensors")));
  let r = cli("train-policy", "--vae", vae, "--budget", "4000", "--eval-episodes", "3", "--out", controller);
  ok(r);
  assert.match(r.stdout, /latent controller: return -?\d+\.\d\d ± \d+\.\d\d/);
  const saved = JSON.parse(readFileSync(controller, "utf8"));
  assert.equal(saved.envSteps.rollouts, 400);
  assert.equal(saved.envSteps.total, saved.envSteps.rollouts + saved.envSteps.controller);
  // 4 latents → 5 parameters → population 8 → 3200 steps per generation: one fits in 4000 − 400.
  assert.equal(saved.envSteps.controller, 3200);
  r = cli("evaluate", "--controller", controller, "--episodes", "3", "--json");
  ok(r);
  const ev = JSON.parse(r.stdout);
  assert.equal(ev.returns.length, 3);
  assert.ok(Number.isFinite(ev.mean) && Number.isFinite(ev.random_mean));
  ok(cli("render", "--controller", controller, "--frames", "6", "--scale", "1", "--out", gif));
  assert.equal(readFileSync(gif).subarray(0, 6).toString(), "GIF89a");
  // Pixel controllers need no VAE; latent ones do, and say so in one line.
  ok(cli("train-policy", "--features", "pixels", "--pixel-size", "8", "--budget", "2000", "--eval-episodes", "2", "--out", join(dir, "pixels.json")));
  r = cli("train-policy", "--budget", "4000");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^vaekit: latent features need --vae/);
  r = cli("train-policy", "--vae", vae, "--budget", "300");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /used up by the VAE's 400 random rollout steps/);
});
