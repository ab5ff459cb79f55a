/**
 * A training run on disk (Node): data preparation, per-epoch atomic checkpoints (weights +
 * Adam state + history), metrics as JSON lines, --resume, and a clear stop on NaN that keeps
 * the last good checkpoint.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { np, tree, type Array, decodeSafetensors, encodeSafetensors, type HostTensor } from "../engine/index.js";
import { VaekitError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic.js";
import { binarize, trainValidationSplit, type Dataset } from "../data/datasets.js";
import { parseVaeConfig, type VaeConfig } from "../models/config.js";
import { fromStateDict, toStateDict } from "../models/io.js";
import { saveModel } from "../models/files.js";
import { buildVae, type VaeParams } from "../models/vae.js";
import { TrainConfig } from "./config.js";
import { initTrainState, trainVae, type EpochMetrics, type TrainHooks, type TrainState } from "./trainer.js";

export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const METRICS_FILE = "metrics.jsonl";

export interface RunOptions {
  config: VaeConfig;
  train: TrainConfig;
  data: Dataset;
  /** Validation examples held out of `data` (count ≥ 1 or fraction < 1). */
  validation: number;
  outDir: string;
  resume?: boolean;
  /** Extra description stored in the checkpoint (e.g. the --data spec). */
  dataSpec?: string;
  hooks?: TrainHooks;
}

/** Train/validation arrays as the trainer wants them: binarised as configured, validation fixed. */
export function prepareData(data: Dataset, validation: number, tc: TrainConfig) {
  const { train, validation: val } = trainValidationSplit(data, validation, tc.seed);
  if (val.n === 0) throw new VaekitError("the validation split is empty; give --validation a positive size");
  const trainX = tc.binarize === "static" ? binarize(train, "static", tc.seed).x : train.x;
  // the validation set is binarised once (seeded) unless the data stays continuous
  const valX = tc.binarize === "none" ? val.x : binarize(val, "static", tc.seed + 1).x;
  return { train: trainX, validation: valX };
}

function prefixed(prefix: string, dict: Record<string, HostTensor>): Record<string, HostTensor> {
  return Object.fromEntries(Object.entries(dict).map(([k, v]) => [prefix + k, v]));
}
function unprefixed(prefix: string, dict: Record<string, HostTensor>): Record<string, HostTensor> {
  return Object.fromEntries(Object.entries(dict).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

async function saveCheckpoint(dir: string, config: VaeConfig, tc: TrainConfig, state: TrainState, dataSpec: string) {
  const tensors = {
    ...prefixed("params.", await toStateDict(state.params)),
    ...prefixed("adam_m.", await toStateDict(state.opt.m)),
    ...prefixed("adam_v.", await toStateDict(state.opt.v)),
  };
  const meta = {
    format: "vaekit.checkpoint/1",
    config: JSON.stringify(config),
    train: JSON.stringify(tc),
    epoch: String(state.epoch),
    step: String(state.step),
    adam_t: String(state.step),
    history: JSON.stringify(state.history),
    data: dataSpec,
  };
  writeFileAtomic(join(dir, CHECKPOINT_FILE), encodeSafetensors(tensors, meta));
}

function loadCheckpoint(dir: string, config: VaeConfig, tc: TrainConfig): TrainState {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) throw new VaekitError(`--resume: no checkpoint at ${path}`);
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(path)), path);
  if (metadata.format !== "vaekit.checkpoint/1") throw new VaekitError(`${path} is not a vaekit training checkpoint`);
  const saved = parseVaeConfig(JSON.parse(metadata.config), path);
  if (JSON.stringify(saved) !== JSON.stringify(config)) {
    throw new VaekitError(`--resume: ${path} was trained with a different model config; use the same flags or a new --out`);
  }
  const savedTc = TrainConfig.parse(JSON.parse(metadata.train));
  // the engine, its workers and micro-batches change how steps are computed, not what is trained: they may change
  const { epochs: _a, engine: _c, workers: _d, microBatch: _g, ...restSaved } = savedTc;
  const { epochs: _b, engine: _e, workers: _f, microBatch: _h, ...restNow } = tc;
  if (JSON.stringify(restSaved) !== JSON.stringify(restNow)) {
    throw new VaekitError(`--resume: ${path} used different training settings (${JSON.stringify(restSaved)}); only --epochs, --engine, --workers and --micro-batch may change`);
  }
  const params = fromStateDict(config, unprefixed("params.", tensors), path);
  const m = fromStateDict(config, unprefixed("adam_m.", tensors), path);
  const v = fromStateDict(config, unprefixed("adam_v.", tensors), path);
  const step = Number(metadata.step);
  return {
    params,
    opt: { m, v, t: np.array(Number(metadata.adam_t), { dtype: np.float32 }) },
    epoch: Number(metadata.epoch),
    step,
    history: JSON.parse(metadata.history) as EpochMetrics[],
  };
}

/** Run (or resume) training; returns the final state. Files in outDir stay consistent throughout. */
export async function runTraining(opts: RunOptions): Promise<TrainState> {
  const { config, train: tc, outDir } = opts;
  const data = prepareData(opts.data, opts.validation, tc);
  let state = opts.resume ? loadCheckpoint(outDir, config, tc) : initTrainState(buildVae(config), tc.seed);
  if (opts.resume && state.epoch >= tc.epochs) return state;
  let lastGood = state.epoch;
  const hooks: TrainHooks = {
    onStart: opts.hooks?.onStart,
    onStep: opts.hooks?.onStep,
    onEpoch: async (s, m) => {
      await saveCheckpoint(outDir, config, tc, s, opts.dataSpec ?? opts.data.name);
      await saveModel(outDir, { config, params: s.params, extras: { training: { epochs: s.epoch, data: opts.dataSpec ?? opts.data.name, train: tc } } });
      writeFileAtomic(join(outDir, METRICS_FILE), s.history.map((h) => JSON.stringify(h)).join("\n") + "\n");
      lastGood = s.epoch;
      await opts.hooks?.onEpoch?.(s, m);
    },
  };
  try {
    state = await trainVae(config, tc, data, state, hooks);
  } catch (e) {
    if (e instanceof VaekitError && e.message.startsWith("training diverged")) {
      const kept = lastGood > 0 ? `the last good checkpoint (epoch ${lastGood}) is kept in ${outDir}` : "no epoch had completed, nothing was saved";
      throw new VaekitError(`${e.message}; ${kept}`);
    }
    throw e;
  }
  return state;
}

export function disposeParams(params: VaeParams): void {
  tree.dispose(params as unknown as Array[]);
}
