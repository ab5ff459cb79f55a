/**
 * The training loop, browser-safe: a jitted Adam step over mini-batches, validation each epoch,
 * hooks for progress and checkpoints. Every epoch's shuffle and noise derive from (seed, epoch),
 * so a run resumed from an epoch checkpoint continues exactly as if never interrupted.
 */
import { adamInit, adamUpdate, defaultAdam, jitted, keyFromWords, np, random, valueAndGrad, type AdamState, type Array } from "../engine/index.js";
import { Rng } from "../data/rng.js";
import { trainingLoss } from "../objectives/objective.js";
import { klWeightAt } from "../objectives/schedules.js";
import { buildVae, type Vae, type VaeParams } from "../models/vae.js";
import { inputSize, objectiveOf, type VaeConfig } from "../models/config.js";
import { makeEvaluator } from "./evaluate.js";
import type { TrainConfig } from "./config.js";
import { VaekitError } from "../errors.js";

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

export interface TrainHooks {
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
  const step = makeTrainStep(model, tc);
  const evaluate = makeEvaluator(model);
  const schedule = objectiveOf(config).klSchedule;
  let klWeight = config.beta * klWeightAt(schedule, state.step);
  const xb = new Float32Array(B * D);
  while (state.epoch < tc.epochs) {
    const epoch = state.epoch + 1;
    const { rng, keyRng } = epochStreams(tc.seed, epoch);
    const order = rng.permutation(n);
    const t0 = performance.now();
    let sumLoss = 0, sumRecon = 0, sumKl = 0;
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < B; i++) xb.set(data.train.subarray(order[b * B + i] * D, (order[b * B + i] + 1) * D), i * D);
      const kStep = keyFromWords(keyRng.nextUint32(), keyRng.nextUint32());
      klWeight = config.beta * klWeightAt(schedule, state.step);
      const out = step(state.params, state.opt, np.array(xb).reshape([B, D]), kStep, scalar(klWeight));
      const [loss, recon, kl] = out.stats.dataSync();
      if (!Number.isFinite(loss)) {
        throw new VaekitError(
          `training diverged: the loss became ${loss} at epoch ${epoch}, batch ${b + 1}; try a lower --lr or --clip-norm`,
        );
      }
      state.params = out.params;
      state.opt = out.opt;
      state.step++;
      sumLoss += loss;
      sumRecon += recon;
      sumKl += kl;
      hooks.onStep?.({ epoch, batch: b + 1, batches, loss });
      // let timers (progress bars, UI) run: the step itself blocks the event loop
      if (b % 16 === 15) await new Promise((r) => setTimeout(r, 0));
    }
    const seconds = (performance.now() - t0) / 1000;
    const val = evaluate(state.params, data.validation, { seed: tc.seed });
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
  return state;
}
