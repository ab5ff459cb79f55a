/**
 * The training loop, browser-safe: an Adam step over mini-batches, validation each epoch,
 * hooks for progress and checkpoints. Every epoch's shuffle and noise derive from (seed, epoch),
 * so a run resumed from an epoch checkpoint continues exactly as if never interrupted.
 *
 * The step runs on one of three engines (TrainConfig.engine / workers): the jitted engine step
 * on the active device; data-parallel worker threads (parallel.ts, same random numbers as the
 * jitted step); or ONNX Runtime (onnxStep.ts, its own noise stream, seeded per epoch). The last
 * two are Node-only and are loaded with import() only when asked for; both hold the parameters
 * outside `state` during an epoch and hand back ordinary arrays at its end, so validation,
 * checkpoints and resuming see the same state whatever the engine.
 */
import { activeDevice, adamInit, adamUpdate, defaultAdam, jitted, keyFromWords, np, toHost, random, tree, valueAndGrad, type AdamState, type Array } from "../engine/index.js";
import { Rng } from "../data/rng.js";
import { trainingLoss } from "../objectives/objective.js";
import { klWeightAt } from "../objectives/schedules.js";
import { buildVae, type Vae, type VaeParams } from "../models/vae.js";
import { inputSize, objectiveOf, type VaeConfig } from "../models/config.js";
import { makeEvaluator } from "./evaluate.js";
import { ONNX_NEEDS_WASM, type TrainConfig, type TrainEngine } from "./config.js";
import { batchNoise, flatLayout, makeFlatAdamFn, SHARD_STATS, shardGradient, shardingProblem, shardRange, shardRows } from "./parallelShard.js";
import { VaekitError } from "../errors.js";
import type * as OnnxStepModule from "./onnxStep.js";
import type * as ParallelModule from "./parallel.js";

export interface EpochMetrics {
  epoch: number;
  step: number;
  train_loss: number;
  train_recon: number;
  train_kl: number;
  val_neg_elbo: number;
  val_recon: number;
  val_kl: number;
  seconds: number;
  samples_per_s: number;
  /** β·w(t) at the epoch's last step (KL warm-up / cyclical schedules). */
  kl_weight?: number;
}

export interface TrainState {
  params: VaeParams;
  opt: AdamState<VaeParams>;
  /** Epochs completed. */
  epoch: number;
  step: number;
  history: EpochMetrics[];
}

/** What computes the steps, for logs. */
export interface EngineInfo {
  engine: TrainEngine;
  /** jax: the engine device (wasm | webgpu); onnx: "cpu" (ONNX Runtime's CPU provider). */
  device: string;
  /** jax: threads computing each step (1 = this thread); onnx: ONNX Runtime intra-op threads. */
  workers: number;
  /** One line, e.g. "jax on wasm, data-parallel over 2 worker threads". */
  summary: string;
}

export interface TrainHooks {
  /** Called once before the first step with the engine that runs it. */
  onStart?: (info: EngineInfo) => void;
  onStep?: (info: { epoch: number; batch: number; batches: number; loss: number }) => void;
  /** Called after each validated epoch with the new state (save a checkpoint here). */
  onEpoch?: (state: TrainState, metrics: EpochMetrics) => void | Promise<void>;
}

/** Deterministic per-(seed, epoch) streams: one for shuffling, one for the device keys of each step. */
function epochStreams(seed: number, epoch: number) {
  const rng = new Rng(seed * 1_000_003 + epoch);
  return { rng, keyRng: rng.fork() };
}

export function initTrainState(model: Vae, seed: number): TrainState {
  const params = model.init(random.key(seed));
  return { params, opt: adamInit(params), epoch: 0, step: 0, history: [] };
}

/**
 * The jitted Adam step on the model config's objective. `klWeight` is β·w(t) as a scalar array
 * (default β): a schedule changes its value, never the traced step.
 */
export function makeTrainStep(model: Vae, tc: TrainConfig) {
  const adam = { ...defaultAdam, lr: tc.lr, clipNorm: tc.clipNorm };
  const step = jitted((params: VaeParams, opt: AdamState<VaeParams>, x: Array, key: Array, klWeight: Array) => {
    const [kBin, kLoss] = np.unstack(random.split(key, 2));
    const xb = tc.binarize === "dynamic" ? random.uniform(kBin, x.shape).less(x).astype(np.float32) : (kBin.dispose(), x);
    const lossFn = (p: VaeParams) => trainingLoss(model, p, xb, kLoss, klWeight);
    const [[loss, aux], grads] = valueAndGrad(lossFn, { hasAux: true })(params);
    const [p1, o1] = adamUpdate(params, grads as VaeParams, opt, adam);
    // one array for the three scalars: a single device→host read per step
    return { params: p1, opt: o1, stats: np.stack([loss, aux.recon, aux.kl]) };
  });
  return (params: VaeParams, opt: AdamState<VaeParams>, x: Array, key: Array, klWeight?: Array) =>
    step(params, opt, x, key, klWeight ?? scalar(model.config.beta));
}

const scalar = (v: number) => np.array(v, { dtype: np.float32 });

interface StepStats {
  loss: number;
  recon: number;
  kl: number;
}

/**
 * One engine's way of running steps. Between begin() and end() the parameters may live outside
 * `state` (worker threads, host vectors); end() puts ordinary engine arrays back into it.
 */
interface StepDriver {
  info: EngineInfo;
  begin(state: TrainState, epoch: number): Promise<void>;
  /** One step on the batch x (B×D); keyRng supplies the step's random key words. */
  step(x: Float32Array, keyRng: Rng, klWeight: number): StepStats | Promise<StepStats>;
  end(state: TrainState): Promise<void>;
  close(): Promise<void>;
}

/** Node-only modules load on request; a computed specifier keeps bundlers from pulling them into browser builds. */
const nodeOnly = <T>(path: string): Promise<T> => import(/* @vite-ignore */ path) as Promise<T>;

/** Replace the state's arrays with the engine's (the old ones are disposed). */
function adopt(state: TrainState, next: { params: VaeParams; opt: AdamState<VaeParams> }): void {
  tree.dispose(state.params);
  tree.dispose(state.opt);
  state.params = next.params;
  state.opt = next.opt;
}

function jaxDriver(model: Vae, tc: TrainConfig, B: number, D: number): StepDriver {
  const step = makeTrainStep(model, tc);
  const device = activeDevice();
  let state: TrainState;
  return {
    info: { engine: "jax", device, workers: 1, summary: `jax on ${device}` },
    async begin(s) {
      state = s;
    },
    async step(x, keyRng, klWeight) {
      const kStep = keyFromWords(keyRng.nextUint32(), keyRng.nextUint32());
      const out = step(state.params, state.opt, np.array(x).reshape([B, D]), kStep, scalar(klWeight));
      const [loss, recon, kl] = await toHost(out.stats);
      state.params = out.params;
      state.opt = out.opt;
      return { loss, recon, kl };
    },
    async end() {},
    async close() {},
  };
}

/**
 * Gradient accumulation on the main thread: the batch's noise drawn once (makeTrainStep's random
 * numbers), then shardGradient over chunks of ≤ tc.microBatch rows one after another, summed, and
 * one Adam update. The same step as jaxDriver's up to float32 summation order, with one chunk's
 * activations in memory; chunk sizes differ by at most one row, so the gradient compiles at most twice.
 */
function microBatchDriver(model: Vae, tc: TrainConfig, B: number, D: number): StepDriver {
  const chunks = Math.ceil(B / tc.microBatch);
  const noiseFn = jitted((key: Array) => {
    const { u, eps } = batchNoise(model.config, tc, B, key);
    return u ? [eps, u] : [eps];
  });
  const gradFn = jitted((p: VaeParams, xb: Array, eps: Array, klWeight: Array) => shardGradient(model, p, xb, eps, klWeight, B));
  const device = activeDevice();
  let state: TrainState;
  let size = 0;
  let adamFn: ReturnType<typeof makeFlatAdamFn>;
  return {
    info: { engine: "jax", device, workers: 1, summary: `jax on ${device}, gradients over ${chunks} micro-batches of ≤ ${Math.ceil(B / chunks)}` },
    async begin(s) {
      state = s;
      const layout = flatLayout(s.params);
      size = layout.size;
      adamFn ??= makeFlatAdamFn(layout, tc);
    },
    async step(x, keyRng, klWeight) {
      const [eps, u = null] = noiseFn(keyFromWords(keyRng.nextUint32(), keyRng.nextUint32())) as Array[];
      let sum: Array | null = null;
      for (let i = 0; i < chunks; i++) {
        const [lo, hi] = shardRange(B, chunks, i);
        const rows = shardRows({ u: u?.ref ?? null, eps: eps.ref }, np.array(x.subarray(lo * D, hi * D)).reshape([hi - lo, D]), lo, hi);
        const g = gradFn(tree.ref(state.params), rows.xb, rows.eps, scalar(klWeight));
        await toHost(g.ref.slice([size, size + 1])); // run this chunk before queueing the next: one chunk's memory at a time
        sum = sum === null ? g : sum.add(g);
      }
      eps.dispose();
      u?.dispose();
      const stats = sum!.ref.slice([size, size + SHARD_STATS]);
      const out = adamFn(state.params, state.opt, sum!);
      state.params = out.params;
      state.opt = out.opt;
      const [loss, recon, kl] = await toHost(stats);
      return { loss, recon: recon / B, kl: kl / B };
    },
    async end() {},
    async close() {},
  };
}

async function parallelDriver(config: VaeConfig, tc: TrainConfig): Promise<StepDriver> {
  const workers = tc.workers;
  if (activeDevice() !== "wasm") {
    throw new VaekitError(`--workers ${workers} runs the wasm engine in worker threads, not ${activeDevice()}; use --device wasm or --workers 1`);
  }
  const mod = await nodeOnly<typeof ParallelModule>("./parallel.js");
  const par = await mod.makeParallelTrainStep(config, tc, workers);
  let loaded = false;
  return {
    info: { engine: "jax", device: "wasm", workers, summary: `jax on wasm, data-parallel over ${workers} worker threads` },
    async begin(state) {
      // the workers keep their copies between epochs; end() only reads them back
      if (!loaded) await par.load(state.params, state.opt);
      loaded = true;
    },
    step: (x, keyRng, klWeight) => par.step(x, [keyRng.nextUint32(), keyRng.nextUint32()], klWeight),
    async end(state) {
      adopt(state, await par.state());
    },
    close: () => par.close(),
  };
}

/** The seed of the ONNX graph's noise in an epoch (24 bits: it is stored as a float attribute). */
export function onnxEpochSeed(seed: number, epoch: number): number {
  return new Rng((seed * 1_000_003 + epoch) ^ 0x6f6e6e78).nextUint32() >>> 8;
}

async function onnxDriver(model: Vae, tc: TrainConfig): Promise<StepDriver> {
  const mod = await nodeOnly<typeof OnnxStepModule>("./onnxStep.js");
  const missing = await mod.onnxRuntimeProblem();
  if (missing) throw new VaekitError(`--engine onnx needs onnxruntime-node, which could not be loaded (${missing}); install it or use --engine jax`);
  const threads = tc.workers;
  // one session per epoch, its noise seeded by (seed, epoch): a resumed run draws what an uninterrupted one would
  let current: OnnxStepModule.OnnxTrainStep | null = null;
  return {
    info: { engine: "onnx", device: "cpu", workers: threads, summary: `onnx (ONNX Runtime CPU, ${threads} thread${threads === 1 ? "" : "s"})` },
    async begin(state, epoch) {
      current = await mod.makeOnnxTrainStep(model, tc, { threads, seed: onnxEpochSeed(tc.seed, epoch) });
      current.load(state.params, state.opt);
    },
    step: (x, _keyRng, klWeight) => current!.step(x, undefined, klWeight),
    async end(state) {
      adopt(state, current!.state());
      await current!.close();
      current = null;
    },
    async close() {
      await current?.close();
      current = null;
    },
  };
}

/**
 * The driver for tc.engine / tc.workers, or a one-line VaekitError naming why this model or
 * runtime cannot use it and what to use instead.
 */
async function makeDriver(model: Vae, tc: TrainConfig, B: number, D: number): Promise<StepDriver> {
  const problem = shardingProblem(model.config);
  if (tc.microBatch > 0 && tc.microBatch < B) {
    if (tc.engine !== "jax" || tc.workers !== 1) throw new VaekitError("--micro-batch splits the jax engine's step on one thread; use it with --engine jax --workers 1");
    if (problem) throw new VaekitError(`--micro-batch cannot split this model's loss: ${problem}; use a smaller --batch-size`);
    return microBatchDriver(model, tc, B, D);
  }
  if (tc.engine === "jax" && tc.workers === 1) return jaxDriver(model, tc, B, D);
  if (tc.engine === "onnx") {
    if (activeDevice() !== "wasm") throw new VaekitError(ONNX_NEEDS_WASM);
    if (problem) throw new VaekitError(`--engine onnx cannot train this model: ${problem}; use --engine jax --workers 1`);
    return onnxDriver(model, tc);
  }
  if (problem) throw new VaekitError(`--workers ${tc.workers} cannot train this model: ${problem}; use --workers 1`);
  if (tc.workers > B) throw new VaekitError(`--workers ${tc.workers} is more than the batch size ${B}; use fewer workers or a larger --batch-size`);
  return parallelDriver(model.config, tc);
}

/**
 * Train from `state` until `tc.epochs` epochs are complete. `train`/`validation` are n×D pixel
 * arrays already prepared by the caller (static binarisation applied; validation fixed).
 */
export async function trainVae(
  config: VaeConfig,
  tc: TrainConfig,
  data: { train: Float32Array; validation: Float32Array },
  state: TrainState,
  hooks: TrainHooks = {},
): Promise<TrainState> {
  const model = buildVae(config);
  const D = inputSize(config);
  const n = data.train.length / D;
  const B = tc.batchSize;
  const batches = Math.floor(n / B); // drop the ragged last batch: one jitted shape
  if (batches < 1) throw new VaekitError(`training set has ${n} examples, fewer than one batch of ${B}`);
  const evaluate = makeEvaluator(model);
  const schedule = objectiveOf(config).klSchedule;
  let klWeight = config.beta * klWeightAt(schedule, state.step);
  const xb = new Float32Array(B * D);
  const driver = await makeDriver(model, tc, B, D);
  try {
    hooks.onStart?.(driver.info);
    while (state.epoch < tc.epochs) {
      const epoch = state.epoch + 1;
      const { rng, keyRng } = epochStreams(tc.seed, epoch);
      const order = rng.permutation(n);
      await driver.begin(state, epoch);
      const t0 = performance.now();
      let sumLoss = 0, sumRecon = 0, sumKl = 0;
      for (let b = 0; b < batches; b++) {
        for (let i = 0; i < B; i++) xb.set(data.train.subarray(order[b * B + i] * D, (order[b * B + i] + 1) * D), i * D);
        klWeight = config.beta * klWeightAt(schedule, state.step);
        const { loss, recon, kl } = await driver.step(xb, keyRng, klWeight);
        if (!Number.isFinite(loss)) {
          throw new VaekitError(
            `training diverged: the loss became ${loss} at epoch ${epoch}, batch ${b + 1}; try a lower --lr or --clip-norm`,
          );
        }
        state.step++;
        sumLoss += loss;
        sumRecon += recon;
        sumKl += kl;
        hooks.onStep?.({ epoch, batch: b + 1, batches, loss });
        // let timers (progress bars, UI) run: the jitted step blocks the event loop
        if (b % 16 === 15) await new Promise((r) => setTimeout(r, 0));
      }
      const seconds = (performance.now() - t0) / 1000;
      await driver.end(state);
      const val = await evaluate(state.params, data.validation, { seed: tc.seed });
      const metrics: EpochMetrics = {
        epoch,
        step: state.step,
        train_loss: sumLoss / batches,
        train_recon: sumRecon / batches,
        train_kl: sumKl / batches,
        val_neg_elbo: val.neg_elbo,
        val_recon: val.recon,
        val_kl: val.kl,
        seconds,
        samples_per_s: (batches * B) / seconds,
        kl_weight: klWeight,
      };
      if (!Number.isFinite(val.neg_elbo)) throw new VaekitError(`training diverged: validation loss is ${val.neg_elbo} after epoch ${epoch}`);
      state.epoch = epoch;
      state.history.push(metrics);
      await hooks.onEpoch?.(state, metrics);
    }
  } finally {
    await driver.close();
  }
  return state;
}
