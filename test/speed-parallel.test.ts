/**
 * Data-parallel training: a step on W shards (in-process and on real worker threads) equals the
 * single-process makeTrainStep on the same batch and key, and repeated runs are bit-identical.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, keyFromWords, np, tree } from "../src/engine/index.js";
import { buildVae } from "../src/models/vae.js";
import type { VaeConfig } from "../src/models/config.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, makeTrainStep } from "../src/train/trainer.js";
import { flatLayout, flattenToHost, makeFlatAdamFn, makeShardGradFn, shardRange, sumShards, SHARD_STATS } from "../src/train/parallelShard.js";
import { makeParallelTrainStep } from "../src/train/parallel.js";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";

await initEngine("wasm");

const config: VaeConfig = {
  format: "vaekit.vae/1",
  inputShape: [6, 6, 1],
  latentDim: 3,
  encoder: { type: "mlp", hidden: [24, 12] },
  decoder: { type: "mlp", hidden: [12, 24] },
  likelihood: { type: "bernoulli" },
  prior: { type: "standard-normal" },
  beta: 0.7,
};
const D = 36;

function batchOf(B: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: B * D }, () => rng.uniform());
}

/** Max |a−b| / (max|b| + tiny) over two host vectors. */
function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 1e-12;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

/** `steps` single-process steps from seed 0; returns flat params, m, v and each step's stats. */
function singleProcess(tc: TrainConfig, batches: Float32Array[], keys: [number, number][], cfg: VaeConfig = config) {
  const model = buildVae(cfg);
  const state = initTrainState(model, 0);
  const layout = flatLayout(state.params);
  const step = makeTrainStep(model, tc);
  const stats: number[][] = [];
  batches.forEach((x, i) => {
    const out = step(state.params, state.opt, np.array(x).reshape([tc.batchSize, D]), keyFromWords(...keys[i]));
    stats.push(Array.from(out.stats.dataSync()));
    state.params = out.params;
    state.opt = out.opt;
  });
  return { params: flattenToHost(state.params, layout), m: flattenToHost(state.opt.m, layout), v: flattenToHost(state.opt.v, layout), stats };
}

test("shardRange splits a batch into contiguous, near-equal, complete shards", () => {
  for (const [B, W] of [[128, 2], [10, 3], [7, 7], [1024, 16]]) {
    let next = 0;
    for (let w = 0; w < W; w++) {
      const [lo, hi] = shardRange(B, W, w);
      assert.equal(lo, next);
      assert.ok(hi - lo === Math.floor(B / W) || hi - lo === Math.ceil(B / W));
      next = hi;
    }
    assert.equal(next, B);
  }
});

test("sumShards adds in a fixed order and can work on a slice", () => {
  const parts = [Float32Array.of(1, 2, 3, 4), Float32Array.of(10, 20, 30, 40), Float32Array.of(100, 200, 300, 400)];
  const out = new Float32Array(4);
  sumShards(parts, out, 1, 3);
  assert.deepEqual(Array.from(out), [0, 222, 333, 0]);
  sumShards(parts, out);
  assert.deepEqual(Array.from(out), [111, 222, 333, 444]);
});

const iwaeConfig: VaeConfig = { ...config, objective: { type: "iwae", k: 3, freeBits: 0, klSchedule: { type: "constant" } } };
for (const [binarize, cfg] of [["dynamic", config], ["none", config], ["dynamic", iwaeConfig]] as const) {
  test(`summed shard gradients + Adam equal makeTrainStep (binarize ${binarize}, ${cfg.objective?.type ?? "elbo"}, 3 uneven shards)`, () => {
    const tc = TrainConfig.parse({ epochs: 1, batchSize: 10, lr: 3e-3, binarize, clipNorm: binarize === "none" ? 5 : 0 });
    const x = batchOf(10, 1);
    const ref = singleProcess(tc, [x], [[7, 9]], cfg);

    const model = buildVae(cfg);
    const state = initTrainState(model, 0);
    const layout = flatLayout(state.params);
    const W = 3;
    const parts = Array.from({ length: W }, (_, w) => {
      const [lo, hi] = shardRange(10, W, w);
      const f = makeShardGradFn(model, tc, 10, lo, hi);
      const xs = np.array(x.slice(lo * D, hi * D)).reshape([hi - lo, D]);
      return f(tree.ref(state.params), xs, keyFromWords(7, 9), np.array(config.beta, { dtype: np.float32 })).dataSync() as Float32Array;
    });
    const sum = new Float32Array(layout.size + SHARD_STATS);
    sumShards(parts, sum);
    // stats: Σloss/B is the batch-mean loss; recon and kl are sums over the batch
    assert.ok(Math.abs(sum[layout.size] - ref.stats[0][0]) < 1e-4 * Math.abs(ref.stats[0][0]));
    assert.ok(Math.abs(sum[layout.size + 1] / 10 - ref.stats[0][1]) < 1e-4 * Math.abs(ref.stats[0][1]));
    assert.ok(Math.abs(sum[layout.size + 2] / 10 - ref.stats[0][2]) < 1e-4 * Math.abs(ref.stats[0][2]) + 1e-6);
    const out = makeFlatAdamFn(layout, tc)(state.params, state.opt, np.array(sum.slice(0, layout.size)));
    assert.ok(relErr(flattenToHost(out.params, layout), ref.params) < 1e-5);
    assert.ok(relErr(flattenToHost(out.opt.m, layout), ref.m) < 1e-4);
    assert.ok(relErr(flattenToHost(out.opt.v, layout), ref.v) < 1e-4);
  });
}

test("worker threads: 2-worker steps equal single-process steps and are deterministic", async () => {
  const tc = TrainConfig.parse({ epochs: 1, batchSize: 16, lr: 3e-3 });
  const batches = [batchOf(16, 2), batchOf(16, 3), batchOf(16, 4)];
  const keys: [number, number][] = [[1, 2], [3, 4], [0xffffffff, 5]];
  const ref = singleProcess(tc, batches, keys);

  const runParallel = async () => {
    const model = buildVae(config);
    const start = initTrainState(model, 0);
    const par = await makeParallelTrainStep(config, tc, 2);
    try {
      await par.load(start.params, start.opt);
      const stats = [];
      for (let i = 0; i < batches.length; i++) stats.push(await par.step(batches[i], keys[i]));
      const { params, opt } = await par.state();
      const layout = flatLayout(params);
      const t = opt.t.ref.dataSync()[0];
      return { params: flattenToHost(params, layout), m: flattenToHost(opt.m, layout), v: flattenToHost(opt.v, layout), t, stats };
    } finally {
      await par.close();
    }
  };
  const a = await runParallel();
  assert.equal(a.t, 3);
  assert.ok(relErr(a.params, ref.params) < 1e-5, `params differ: ${relErr(a.params, ref.params)}`);
  assert.ok(relErr(a.m, ref.m) < 1e-4);
  assert.ok(relErr(a.v, ref.v) < 1e-4);
  a.stats.forEach((s, i) => {
    assert.ok(Math.abs(s.loss - ref.stats[i][0]) < 1e-4 * Math.abs(ref.stats[i][0]));
    assert.ok(Math.abs(s.recon - ref.stats[i][1]) < 1e-4 * Math.abs(ref.stats[i][1]));
  });
  const b = await runParallel();
  assert.deepEqual(b.params, a.params, "two parallel runs must be bit-identical");
  assert.deepEqual(b.v, a.v);
});

test("parallel training rejects bad settings with one clear message", async () => {
  const tc = TrainConfig.parse({ epochs: 1, batchSize: 4 });
  const freeBits: VaeConfig = { ...config, objective: { type: "elbo", k: 1, freeBits: 0.5, klSchedule: { type: "constant" } } };
  await assert.rejects(makeParallelTrainStep(freeBits, tc, 2), (e: Error) => e instanceof VaekitError && /free bits/.test(e.message));
  await assert.rejects(makeParallelTrainStep(config, tc, 5), (e: Error) => e instanceof VaekitError && /more than the batch size 4/.test(e.message));
  await assert.rejects(makeParallelTrainStep(config, tc, 0), /positive integer/);
  const par = await makeParallelTrainStep(config, tc, 1);
  try {
    const s = initTrainState(buildVae(config), 0);
    await par.load(s.params, s.opt);
    await assert.rejects(par.step(new Float32Array(3), [1, 2]), /batch has 3 values, expected 4×36/);
  } finally {
    await par.close();
  }
});

