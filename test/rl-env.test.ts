import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { VaekitError } from "../src/errors.js";
import {
  CatchEnv,
  ballOutcome,
  catchStateFeatures,
  cmaMinimize,
  collectRandomFrames,
  createPolicy,
  defaultCatchConfig,
  downsampleGray,
  encodeGif,
  episodeSeeds,
  evaluatePolicies,
  evaluatePolicy,
  evaluateRandomPolicy,
  meanStd,
  moveObjects,
  paddleTop,
  paramCount,
  pixelFeatures,
  renderCatch,
  rolloutsAsDataset,
  sideBySide,
  symmetricEigen,
  trainController,
  type CatchState,
  type PolicySpec,
} from "../src/apps/rl/index.js";
import { renderGif, writeFramePng } from "../src/apps/rl/render.js";

const cfg = defaultCatchConfig;

function state(over: Partial<CatchState>): CatchState {
  return { ballX: 0.5, ballY: 0.3, ballVX: 0, ballVY: 0.04, prevBallX: 0.5, prevBallY: 0.26, paddleX: 0.5, t: 0, caught: 0, missed: 0, ...over };
}

/** Play an episode with a fixed action pattern; returns its frames and rewards. */
function play(env: CatchEnv, seed: number): { frames: Float32Array[]; rewards: number[] } {
  const frames = [env.reset(seed)];
  const rewards: number[] = [];
  for (let t = 0; t < env.maxSteps; t++) {
    const r = env.step([Math.sin(t / 7)]);
    frames.push(r.obs);
    rewards.push(r.reward);
    if (r.done) break;
  }
  return { frames, rewards };
}

test("same seed gives identical frames and rewards; different seeds differ", () => {
  const a = play(new CatchEnv(), 42);
  const b = play(new CatchEnv(), 42);
  assert.equal(a.frames.length, cfg.maxSteps + 1);
  assert.deepEqual(a.rewards, b.rewards);
  a.frames.forEach((f, i) => assert.deepEqual(f, b.frames[i]));
  const c = play(new CatchEnv(), 43);
  assert.notDeepEqual(a.frames[0], c.frames[0]);
  // Resetting an env that already ran reproduces the episode too.
  const env = new CatchEnv();
  play(env, 7);
  assert.deepEqual(play(env, 42).rewards, a.rewards);
});

test("ball outcome: 0 above the paddle line, +1 over the paddle, -1 beside it", () => {
  const top = paddleTop(cfg);
  const r = cfg.ballRadius;
  const reach = cfg.paddleWidth / 2 + r / 2;
  assert.equal(ballOutcome(state({ ballY: top - r - 1e-6 }), cfg), 0);
  assert.equal(ballOutcome(state({ ballY: top - r, ballX: 0.5 }), cfg), 1);
  assert.equal(ballOutcome(state({ ballY: top - r + 0.01, ballX: 0.5 + reach }), cfg), 1);
  assert.equal(ballOutcome(state({ ballY: top - r + 0.01, ballX: 0.5 - reach - 1e-6 }), cfg), -1);
  assert.equal(ballOutcome(state({ ballY: top, ballX: 0.1, paddleX: 0.8 }), cfg), -1);
});

test("stepping resolves the ball, counts it and respawns a new one at the top", () => {
  const env = new CatchEnv();
  env.reset(1);
  const top = paddleTop(cfg);
  // Ball one step above the paddle line, right over the paddle: caught.
  env.setState(state({ ballX: 0.4, paddleX: 0.4, ballY: top - cfg.ballRadius - 0.02, ballVY: 0.04 }));
  const caught = env.step([0]);
  assert.equal(caught.reward, 1);
  let s = env.getState()!;
  assert.equal(s.caught, 1);
  assert.equal(s.ballY, cfg.ballRadius);
  assert.ok(s.ballVY >= cfg.minFallSpeed && s.ballVY <= cfg.maxFallSpeed);
  assert.ok(Math.abs(s.ballVX) <= cfg.maxDrift);
  // Same, but the paddle is far away: missed.
  env.setState(state({ ballX: 0.15, paddleX: 0.85, ballY: top - cfg.ballRadius - 0.02, ballVY: 0.04 }));
  assert.equal(env.step([0]).reward, -1);
  s = env.getState()!;
  assert.equal(s.missed, 1);
  // Still falling: no reward.
  env.setState(state({ ballY: 0.3 }));
  assert.equal(env.step([0]).reward, 0);
});

test("paddle and ball physics: clipped actions, walls, bounces", () => {
  const s0 = state({ paddleX: 0.5 });
  assert.equal(moveObjects(s0, 1, cfg).paddleX, 0.5 + cfg.paddleSpeed);
  assert.equal(moveObjects(s0, 5, cfg).paddleX, 0.5 + cfg.paddleSpeed, "actions are clipped to [-1, 1]");
  assert.equal(moveObjects(s0, -0.5, cfg).paddleX, 0.5 - 0.5 * cfg.paddleSpeed);
  assert.equal(moveObjects(state({ paddleX: 0.12 }), -1, cfg).paddleX, cfg.paddleWidth / 2);
  const r = cfg.ballRadius;
  const bounced = moveObjects(state({ ballX: r + 0.005, ballVX: -0.02 }), 0, cfg);
  assert.ok(Math.abs(bounced.ballX - (r + 0.015)) < 1e-12);
  assert.equal(bounced.ballVX, 0.02);
  assert.equal(bounced.prevBallX, r + 0.005);
});

test("env rejects bad actions and stepping outside an episode", () => {
  const env = new CatchEnv({ maxSteps: 2 });
  assert.throws(() => env.step([0]), /before reset/);
  env.reset(0);
  assert.throws(() => env.step([NaN]), VaekitError);
  assert.throws(() => env.step([0, 1]), /2 values, expected 1/);
  env.step([0]);
  assert.equal(env.step([0]).done, true);
  assert.throws(() => env.step([0]), /after the episode ended/);
  assert.throws(() => new CatchEnv({ channels: 2 as 1 }), /channels must be 1 or 3/);
});

test("rendering: shape, range, ball area, paddle area", () => {
  const S = cfg.size;
  const ballOnly = state({ ballX: 0.5, ballY: 0.4, paddleX: 0.5 });
  const img = renderCatch(ballOnly, cfg);
  assert.equal(img.length, S * S);
  assert.ok(img.every((v) => v >= 0 && v <= 1));
  // Rows above the paddle hold only the ball: its anti-aliased mass is π(R² + 1/12) (R in pixels).
  const top = Math.floor(paddleTop(cfg) * S);
  let ballMass = 0;
  for (let i = 0; i < top; i++) for (let j = 0; j < S; j++) ballMass += img[i * S + j];
  const R = cfg.ballRadius * S;
  assert.ok(Math.abs(ballMass - Math.PI * (R * R + 1 / 12)) / ballMass < 0.01, `ball mass ${ballMass}`);
  assert.equal(img[Math.floor(0.4 * S) * S + Math.floor(0.5 * S)], 1, "ball centre is fully bright");
  // The paddle rectangle's coverage is exact: area in pixels × its gray level 0.7.
  let paddleMass = 0;
  for (let i = top; i < S; i++) for (let j = 0; j < S; j++) paddleMass += img[i * S + j];
  assert.ok(Math.abs(paddleMass - cfg.paddleWidth * S * cfg.paddleHeight * S * 0.7) < 1e-3);
  // RGB has three channels; the trail adds mass.
  const rgb = { ...cfg, channels: 3 as const };
  assert.equal(renderCatch(ballOnly, rgb).length, S * S * 3);
  const withTrail = renderCatch(state({ prevBallX: 0.2, prevBallY: 0.2 }), { ...cfg, trail: true });
  const noTrail = renderCatch(state({ prevBallX: 0.2, prevBallY: 0.2 }), cfg);
  assert.ok(withTrail.reduce((a, b) => a + b) > noTrail.reduce((a, b) => a + b) + 10);
  // Observations from the env match the renderer.
  const env = new CatchEnv({ channels: 3 });
  const obs = env.reset(3);
  assert.deepEqual(obs, renderCatch(env.getState()!, env.config));
});

test("downsampling keeps the mean and uses luma weights for RGB", () => {
  const gray = new Float32Array(64 * 64).map((_, i) => (i % 97) / 97);
  const small = downsampleGray(gray, [64, 64, 1], 16);
  assert.equal(small.length, 256);
  const mean = (x: Float32Array) => x.reduce((a, b) => a + b, 0) / x.length;
  assert.ok(Math.abs(mean(small) - mean(gray)) < 1e-6);
  // First cell = average of the top-left 4×4 block.
  let block = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) block += gray[i * 64 + j] / 16;
  assert.ok(Math.abs(small[0] - block) < 1e-6);
  const rgb = new Float32Array(8 * 8 * 3);
  for (let p = 0; p < 64; p++) rgb.set([1, 0.5, 0], p * 3);
  const luma = downsampleGray(rgb, [8, 8, 3], 2);
  for (const v of luma) assert.ok(Math.abs(v - (0.299 + 0.587 * 0.5)) < 1e-6);
  assert.throws(() => downsampleGray(gray, [64, 64, 1], 10), /not a multiple/);
});

test("PNG and side-by-side GIF files are written and decode to the frames", () => {
  const dir = mkdtempSync(join(tmpdir(), "vaekit-rl-"));
  const env = new CatchEnv();
  const frames = collectRandomFrames(env, 1, 4);
  const size = 64 * 64;
  const seq = Array.from({ length: 12 }, (_, i) => frames.frames.slice(i * size, (i + 1) * size));
  const pngPath = join(dir, "f.png");
  writeFramePng(seq[0], pngPath, 2);
  const png = PNG.sync.read(readFileSync(pngPath));
  assert.equal(png.width, 128);
  for (const [i, j] of [[0, 0], [40, 33], [61, 10], [63, 63]]) {
    const expected = Math.round(seq[0][i * 64 + j] * 255);
    assert.equal(png.data[((2 * i + 1) * 128 + 2 * j + 1) * 4], expected);
  }
  const gifPath = join(dir, "pair.gif");
  const recon = seq.map((f) => f.map((v) => 1 - v));
  renderGif(seq, gifPath, 10, { scale: 2, right: recon });
  const gif = readFileSync(gifPath);
  assert.equal(gif.subarray(0, 6).toString("latin1"), "GIF89a");
  // Logical screen size: two 64-pixel frames and a 2-pixel gap, scaled by 2.
  assert.equal(gif.readUInt16LE(6), (64 + 2 + 64) * 2);
  assert.equal(gif.readUInt16LE(8), 64 * 2);
  // RGB frames go through the quantiser; gray and RGB can be paired.
  const rgbEnv = new CatchEnv({ channels: 3 });
  const rgbFrame = rgbEnv.reset(1);
  const bytes = encodeGif([rgbFrame, rgbEnv.step([1]).obs], { right: [seq[0], seq[1]] });
  assert.equal(Buffer.from(bytes.subarray(0, 6)).toString("latin1"), "GIF89a");
  assert.equal(sideBySide(rgbFrame, seq[0]).channels, 3);
  assert.throws(() => encodeGif(seq, { right: seq.slice(1) }), /12 left frames but 11 right frames/);
  assert.throws(() => encodeGif([new Float32Array(10)]), /not a square/);
});

test("random rollouts: shapes, replayable actions, returns, dataset view", () => {
  const env = new CatchEnv({ maxSteps: 50 });
  const ro = collectRandomFrames(env, 3, 11);
  assert.equal(ro.n, 150);
  assert.equal(ro.frames.length, 150 * 64 * 64);
  assert.deepEqual(ro.shape, [64, 64, 1]);
  assert.deepEqual(Array.from(ro.episodeStarts), [0, 50, 100]);
  assert.equal(ro.dones.reduce((a, b) => a + b, 0), 3);
  assert.ok(ro.actions.every((a) => a >= -1 && a <= 1));
  assert.ok(ro.frames.every((v) => v >= 0 && v <= 1));
  // Replaying the recorded actions from the first frame reproduces frames and rewards.
  const again = collectRandomFrames(env, 3, 11);
  assert.deepEqual(again.frames, ro.frames);
  // Replaying episode 1's recorded actions from its seed reproduces its frames and rewards.
  const replay = env.spawn();
  const start = ro.episodeStarts[1];
  let obs = replay.reset(episodeSeeds(11, 3)[1]);
  for (let i = start; i < start + 50; i++) {
    assert.deepEqual(obs, ro.frames.subarray(i * 4096, (i + 1) * 4096));
    const r = replay.step(ro.actions.subarray(i, i + 1));
    assert.equal(r.reward, ro.rewards[i]);
    obs = r.obs;
  }
  for (let e = 0; e < 3; e++) {
    let s = 0;
    for (let i = ro.episodeStarts[e]; i < ro.episodeStarts[e] + 50; i++) s += ro.rewards[i];
    assert.equal(s, ro.episodeReturns[e]);
  }
  const ds = rolloutsAsDataset(ro, "catch");
  assert.equal(ds.n, 150);
  assert.equal(ds.x, ro.frames);
  assert.notDeepEqual(collectRandomFrames(env, 1, 12).frames, ro.frames.subarray(0, 50 * 64 * 64));
});

test("linear and MLP policies compute their documented formulas", () => {
  const lin: PolicySpec = { kind: "linear", inputSize: 3, outputSize: 2, output: "tanh" };
  assert.equal(paramCount(lin), 8);
  const p = createPolicy(lin, [1, 2, 3, -1, 0, 1, 0.5, -0.5]);
  const x = Float32Array.of(0.1, -0.2, 0.3);
  const a = p.act(x);
  assert.ok(Math.abs(a[0] - Math.tanh(0.1 - 0.4 + 0.9 + 0.5)) < 1e-6);
  assert.ok(Math.abs(a[1] - Math.tanh(-0.1 + 0.3 - 0.5)) < 1e-6);
  const mlp: PolicySpec = { kind: "mlp", inputSize: 2, hiddenSize: 2, outputSize: 3, output: "argmax" };
  assert.equal(paramCount(mlp), 2 * 2 + 2 + 3 * 2 + 3);
  // hidden = tanh([x0 + x1, x0 - x1]); logits = [h0, h1, -h0] + b2
  const m = createPolicy(mlp, [1, 1, 1, -1, 0, 0, 1, 0, 0, 1, -1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(m.act(Float32Array.of(0.5, 0.2))), [0]);
  assert.deepEqual(Array.from(m.act(Float32Array.of(-0.5, 0.2))), [2]);
  assert.deepEqual(Array.from(m.act(Float32Array.of(0.1, -0.9))), [1]);
  assert.throws(() => createPolicy(lin, [1, 2]), /got 2 parameters/);
  assert.throws(() => p.act(Float32Array.of(1)), /got 1 features, expected 3/);
});

test("symmetric eigendecomposition reconstructs the matrix", () => {
  const n = 6;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = Math.sin(i * 3 + j) + (i === j ? 3 : 0);
  const { values, vectors } = symmetricEigen(a, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
      assert.ok(Math.abs(s - a[i * n + j]) < 1e-10);
    }
  }
});

test("CMA-ES minimises quadratics (full covariance on a rotated, badly scaled one)", () => {
  const shifted = (x: Float64Array) => x.reduce((s, v, i) => s + (i + 1) * (v - 1) ** 2, 0);
  for (const covariance of ["full", "diagonal"] as const) {
    const r = cmaMinimize(shifted, { mean: new Float64Array(8), sigma: 1, seed: 5, maxEvaluations: 20_000, target: 1e-12, covariance });
    assert.ok(r.value <= 1e-12, `${covariance}: ${r.value}`);
    r.x.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-5));
  }
  // (x0 + x1)² + 1000 (x0 - x1 - 1)²: axes rotated 45° with condition 1000; optimum (0.5, -0.5).
  const rotated = (x: Float64Array) => (x[0] + x[1]) ** 2 + 1000 * (x[0] - x[1] - 1) ** 2;
  const r = cmaMinimize(rotated, { mean: [3, 3], sigma: 1, seed: 2, maxEvaluations: 5000, target: 1e-14 });
  assert.ok(Math.abs(r.x[0] - 0.5) < 1e-6 && Math.abs(r.x[1] + 0.5) < 1e-6);
  // Same seed, same path.
  const again = cmaMinimize(rotated, { mean: [3, 3], sigma: 1, seed: 2, maxEvaluations: 5000, target: 1e-14 });
  assert.equal(again.evaluations, r.evaluations);
});

test("evaluation: seeded, batched features agree with per-frame ones, tracking beats random", async () => {
  const env = new CatchEnv({ maxSteps: 100 });
  const spec: PolicySpec = { kind: "linear", inputSize: 4, outputSize: 1, output: "tanh" };
  // Move towards the ball: action = tanh(10 (ballX - paddleX)).
  const tracker = createPolicy(spec, [10, 0, 0, -10, 0]);
  const good = await evaluatePolicy(env, tracker, catchStateFeatures, 20, 9);
  const random = evaluateRandomPolicy(env, 20, 9);
  assert.equal(good.returns.length, 20);
  assert.equal(good.steps, 2000);
  assert.ok(good.mean > random.mean + 4, `tracker ${good.mean} vs random ${random.mean}`);
  assert.deepEqual(meanStd(good.returns), { mean: good.mean, std: good.std });
  assert.deepEqual((await evaluatePolicy(env, tracker, catchStateFeatures, 20, 9)).returns, good.returns);
  // A batched feature function sees all live frames at once and must give the same result.
  const pix = pixelFeatures(env.obsShape, 8);
  const pixSpec: PolicySpec = { kind: "linear", inputSize: 64, outputSize: 1, output: "tanh" };
  const pixPolicy = createPolicy(pixSpec, Array.from({ length: 65 }, (_, i) => Math.sin(i)));
  let calls = 0;
  const batched = {
    batch(obs: Float32Array, count: number) {
      calls++;
      const out = new Float32Array(count * 64);
      for (let k = 0; k < count; k++) out.set(downsampleGray(obs.subarray(k * 4096, (k + 1) * 4096), [64, 64, 1], 8), k * 64);
      return Promise.resolve(out);
    },
  };
  const perFrame = await evaluatePolicies(env, [pixPolicy, tracker].slice(0, 1), pix, [1, 2, 3]);
  const viaBatch = await evaluatePolicies(env, [pixPolicy], batched, [1, 2, 3]);
  assert.deepEqual(viaBatch.returns, perFrame.returns);
  assert.equal(calls, 100, "one batched call per time step");
});

test("CMA-ES on true-state features learns to catch far better than random", async () => {
  const env = new CatchEnv({ maxSteps: 100 });
  const random = evaluateRandomPolicy(env, 24, 777);
  const run = await trainController(env, catchStateFeatures, {
    budgetSteps: 100_000,
    episodesPerCandidate: 4,
    sigma0: 1,
    seed: 3,
    curveEvery: 0,
    evalEpisodes: 24,
    evalSeed: 777,
  });
  assert.ok(run.envSteps >= 100_000 && run.envSteps < 100_000 + 8 * 4 * 100 + 1);
  assert.equal(run.curve.length, run.generations);
  assert.equal(run.covariance, "full");
  assert.ok(run.evaluation.mean > random.mean + 3, `learned ${run.evaluation.mean} vs random ${random.mean}`);
});

test("raw-pixel features train end to end on a tiny budget, reproducibly", async () => {
  const env = new CatchEnv({ maxSteps: 50 });
  const config = { budgetSteps: 6000, episodesPerCandidate: 1, seed: 4, curveEvery: 2, curveEpisodes: 2, evalEpisodes: 20 };
  const run = await trainController(env, pixelFeatures(env.obsShape, 16), config);
  assert.equal(run.spec.inputSize, 256);
  assert.equal(run.params.length, 257);
  assert.equal(run.covariance, "diagonal");
  assert.equal(run.evaluation.returns.length, 20);
  assert.ok(run.curve.length >= 2 && run.curve.every((p) => Number.isFinite(p.populationMean)));
  assert.ok(run.curve.some((p) => p.meanPolicyReturn !== undefined));
  assert.ok(run.curve.every((p, i) => i === 0 || p.envSteps > run.curve[i - 1].envSteps));
  const again = await trainController(env, pixelFeatures(env.obsShape, 16), config);
  assert.deepEqual(again.params, run.params);
  // An MLP controller goes through the same loop.
  const mlp = await trainController(env, catchStateFeatures, { ...config, budgetSteps: 1000, policy: "mlp", hiddenSize: 4 });
  assert.equal(mlp.params.length, 4 * 4 + 4 + 4 + 1);
  assert.equal(mlp.covariance, "full");
  assert.ok(Number.isFinite(mlp.evaluation.mean));
});
