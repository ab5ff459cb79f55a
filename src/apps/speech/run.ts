/**
 * A speech training run on disk (Node): load the espeak-ng manifest as segments, hold out whole
 * voices, train with the masked ELBO, and after every epoch write the model directory atomically
 * (model.safetensors with the speech settings in its extras, config.json, metrics.jsonl).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { jitted, np, toHost, tree, type Array } from "../../engine/index.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { inputSize, type VaeConfig } from "../../models/config.js";
import type { ModelBundle } from "../../models/io.js";
import { saveModel } from "../../models/files.js";
import { buildVae, type VaeParams } from "../../models/vae.js";
import { loadSpeechSegments, splitByVoice, type SpeechSegments, type VoiceSplit } from "./dataset.js";
import {
  checkSpeechConfig,
  contentLengths,
  fitLengthModel,
  selectSegments,
  trainSpeechVae,
  type SegmentSet,
  type SpeechEpochMetrics,
  type SpeechModel,
  type SpeechModelInfo,
  type SpeechTrainHooks,
  type SpeechTrainOptions,
} from "./model.js";

export const SPEECH_METRICS_FILE = "metrics.jsonl";

export interface SpeechRunOptions {
  /** manifest.json of an espeak-ng dataset (see espeak.ts). */
  manifest: string;
  outDir: string;
  config: VaeConfig;
  training: SpeechTrainOptions;
  /** Voices held out for validation/evaluation; default: a quarter drawn with splitSeed. */
  testVoices?: string[];
  testVoiceCount?: number;
  splitSeed?: number;
  trimDb?: number;
  peak?: number;
  hooks?: SpeechTrainHooks;
  /** Called once the segments are loaded and split (before training starts). */
  onData?: (segments: SpeechSegments, split: VoiceSplit) => void;
}

export interface SpeechRunResult {
  model: SpeechModel;
  segments: SpeechSegments;
  split: VoiceSplit;
  train: SegmentSet;
  test: SegmentSet;
  history: SpeechEpochMetrics[];
}

/** Posterior means μ(x) for every segment, in fixed-size jitted chunks. */
export function makeLatentMeans(config: VaeConfig, chunk = 64) {
  const model = buildVae(config);
  const D = inputSize(config);
  const L = config.latentDim;
  const enc = jitted((p: VaeParams, x: Array) => model.encode(p, x).loc);
  return async (params: VaeParams, data: Float32Array): Promise<Float32Array> => {
    const n = data.length / D;
    const out = new Float32Array(n * L);
    for (let s = 0; s < n; s += chunk) {
      const m = Math.min(chunk, n - s);
      const xb = new Float32Array(chunk * D);
      xb.set(data.subarray(s * D, (s + m) * D));
      const mu = await toHost(enc(tree.ref(params), np.array(xb).reshape([chunk, D])));
      out.set(mu.subarray(0, m * L), s * L);
    }
    return out;
  };
}

export async function runSpeechTraining(o: SpeechRunOptions): Promise<SpeechRunResult> {
  const trimDb = o.trimDb ?? 40;
  const peak = o.peak ?? 0.9;
  const frames = o.config.inputShape[1];
  const segments = loadSpeechSegments(o.manifest, { frames, trimDb, peak });
  checkSpeechConfig(o.config, segments.nMels, frames);
  const split = splitByVoice(segments.entries, { testVoices: o.testVoices, testVoiceCount: o.testVoiceCount, seed: o.splitSeed ?? 0 });
  o.onData?.(segments, split);
  const all: SegmentSet = { count: segments.count, data: segments.data, mask: segments.mask };
  const train = selectSegments(all, split.train);
  const test = selectSegments(all, split.test);
  const trainLengths = contentLengths(train);
  const latentMeans = makeLatentMeans(o.config);
  mkdirSync(o.outDir, { recursive: true });

  const bundleFor = async (params: VaeParams, history: SpeechEpochMetrics[]): Promise<ModelBundle> => {
    const info: SpeechModelInfo = {
      format: "vaekit.speech/1",
      features: segments.features,
      frames,
      trimDb,
      peak,
      length: fitLengthModel(await latentMeans(params, train.data), trainLengths, o.config.latentDim),
      trainVoices: split.trainVoices,
      testVoices: split.testVoices,
      words: segments.words,
    };
    return {
      config: o.config,
      params,
      extras: { speech: info, training: { ...o.training, epochsDone: history.length, manifest: o.manifest, last: history[history.length - 1] ?? null } },
    };
  };

  const history: SpeechEpochMetrics[] = [];
  const saved: { bundle: ModelBundle | null } = { bundle: null };
  const result = await trainSpeechVae(o.config, o.training, { train, validation: test }, {
    onStep: o.hooks?.onStep,
    onEpoch: async (params, m) => {
      history.push(m);
      saved.bundle = await bundleFor(params, history);
      await saveModel(o.outDir, saved.bundle);
      writeFileAtomic(join(o.outDir, SPEECH_METRICS_FILE), history.map((h) => JSON.stringify(h)).join("\n") + "\n");
      await o.hooks?.onEpoch?.(params, m);
    },
  });
  const finalBundle: ModelBundle = saved.bundle ?? (await bundleFor(result.params, result.history));
  finalBundle.params = result.params;
  return {
    model: { bundle: finalBundle, info: finalBundle.extras.speech as SpeechModelInfo },
    segments,
    split,
    train,
    test,
    history: result.history,
  };
}
