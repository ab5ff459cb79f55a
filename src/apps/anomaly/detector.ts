/**
 * One entry point for scoring with either kind of model (browser-safe): prepares inputs the way
 * the model saw its training data, computes any score kind, fits and applies thresholds.
 */
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { imageLatentModel, type LatentModel } from "./latent-model.js";
import { binaryPngBits, pngBits } from "./compress.js";
import { buildTabularVae } from "./tabular/model.js";
import type { AnomalyModel } from "./model-file.js";
import { makeScorer, natsToBits, relevantOptions, typicalityScores, DEFAULT_SCORE_OPTIONS, type ScoreKind, type ScoreOptions, type Scorer } from "./scoring.js";
import { flaggedFraction, thresholdForFpr, typicalityThreshold, type Calibration } from "./calibration.js";

/**
 * How image inputs reach a Bernoulli model: as grey levels used as Bernoulli targets (cross-entropy,
 * the usual practice; for a fixed z it is the expected log-likelihood of a binarisation), or
 * binarised once with a seeded per-example pattern.
 */
export type ImageInputMode = "none" | "static";

export interface DetectorOptions extends ScoreOptions {
  /** Image models with a Bernoulli likelihood only (default "none"). */
  binarize: ImageInputMode;
}

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = { ...DEFAULT_SCORE_OPTIONS, binarize: "none" };

/** Binarisations averaged for the compressed length of grey-level inputs to a Bernoulli model. */
export const COMPLEXITY_BINARISATIONS = 4;

export interface Detector {
  model: AnomalyModel;
  scorer: Scorer;
  /** Values per example as the model reads them. */
  inputDim: number;
  /** [h, w, c] for image models. */
  imageShape?: [number, number, number];
  /** Scores (higher = more anomalous) for n×D inputs already in the model's encoding. */
  score(kind: ScoreKind, x: Float32Array, opts?: Partial<DetectorOptions>, reference?: { entropy: number }): Promise<Float64Array>;
  /** Per-value reconstruction error maps, n×D. */
  errorMaps(x: Float32Array, opts?: Partial<DetectorOptions>): Promise<Float32Array>;
  /** The compressed length in bits the complexity score subtracts (image models). */
  complexityBits(x: Float32Array, opts?: Partial<DetectorOptions>): Float64Array;
  /** Fit a threshold for a target false-positive rate on normal inputs. */
  calibrate(kind: ScoreKind, x: Float32Array, fpr: number, opts?: Partial<DetectorOptions>): Promise<Calibration>;
}

/** Options that affect a score's value for this model (what a calibration records). */
export function optionsRecord(model: AnomalyModel, kind: ScoreKind, o: DetectorOptions): Partial<DetectorOptions> {
  const rec: Partial<DetectorOptions> = relevantOptions(kind, o);
  if (model.type === "image" && model.bundle.config.likelihood.type === "bernoulli") rec.binarize = o.binarize;
  return rec;
}

/** Each example binarised against the same seeded uniform pattern, so its result does not depend on the batch. */
function binarizePerExample(x: Float32Array, D: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const u = Float32Array.from({ length: D }, () => rng.uniform());
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = u[i % D] < x[i] ? 1 : 0;
  return out;
}

export function makeDetector(model: AnomalyModel, batchSize = 128): Detector {
  let latent: LatentModel;
  let imageShape: [number, number, number] | undefined;
  if (model.type === "image") {
    latent = imageLatentModel(model.bundle.config);
    imageShape = [...model.bundle.config.inputShape];
  } else {
    latent = buildTabularVae(model.bundle.config);
  }
  const scorer = makeScorer(latent, model.bundle.params as never, batchSize);
  const D = latent.inputDim;
  const bernoulli = model.type === "image" && model.bundle.config.likelihood.type === "bernoulli";
  const full = (o?: Partial<DetectorOptions>): DetectorOptions => ({ ...DEFAULT_DETECTOR_OPTIONS, ...o });
  const prepared = (x: Float32Array, o: DetectorOptions) => (bernoulli && o.binarize === "static" ? binarizePerExample(x, D, o.seed) : x);

  async function score(kind: ScoreKind, x0: Float32Array, opts?: Partial<DetectorOptions>, reference?: { entropy: number }): Promise<Float64Array> {
    const o = full(opts);
    const x = prepared(x0, o);
    switch (kind) {
      case "neg-elbo":
        return scorer.negElbo(x, o);
      case "iwae-nll":
        return scorer.iwaeNll(x, o);
      case "recon-error":
        return (await scorer.reconError(x, o)).scores;
      case "regret":
        return scorer.regret(x, o);
      case "complexity": {
        if (!imageShape) throw new VaekitError("the complexity score needs images (it compares the NLL with the PNG-compressed size)");
        const nll = await scorer.iwaeNll(x, o);
        const bits = compressedBits(x, imageShape, o);
        return nll.map((v, i) => natsToBits(v) - bits[i]);
      }
      case "typicality": {
        if (!reference) throw new VaekitError("the typicality score needs the normal data's mean NLL: run `vaekit calibrate --score typicality` first");
        return typicalityScores(await scorer.iwaeNll(x, o), reference.entropy, o.typicalityBatch);
      }
    }
  }

  /**
   * The compressor must code the data the likelihood is over. A Bernoulli likelihood is over
   * binary images: with grey-level inputs its log-likelihood is the expected code length of a
   * binarisation, so the compressed length is averaged over COMPLEXITY_BINARISATIONS seeded
   * binarisations, each coded at one bit per pixel. Other likelihoods are over the 8-bit image itself.
   */
  function compressedBits(x: Float32Array, shape: [number, number, number], o: DetectorOptions): Float64Array {
    if (!bernoulli) return pngBits(x, shape);
    if (o.binarize === "static") return binaryPngBits(x, shape);
    const acc = new Float64Array(x.length / D);
    for (let r = 0; r < COMPLEXITY_BINARISATIONS; r++) {
      const bits = binaryPngBits(binarizePerExample(x, D, o.seed + 1000 + r), shape);
      for (let i = 0; i < acc.length; i++) acc[i] += bits[i] / COMPLEXITY_BINARISATIONS;
    }
    return acc;
  }

  async function calibrate(kind: ScoreKind, x0: Float32Array, fpr: number, opts?: Partial<DetectorOptions>): Promise<Calibration> {
    const o = full(opts);
    const n = x0.length / D;
    const options = optionsRecord(model, kind, o);
    if (kind === "typicality") {
      const nll = await scorer.iwaeNll(prepared(x0, o), o);
      const { entropy, threshold } = typicalityThreshold(nll, o.typicalityBatch, fpr, 2000, o.seed);
      const scores = typicalityScores(nll, entropy, o.typicalityBatch);
      return {
        score: kind,
        fpr,
        threshold,
        n,
        fitted_fpr: flaggedFraction(scores, threshold),
        options,
        reference: { entropy, batchSize: o.typicalityBatch, bootstrap: o.typicalityBatch > 1 ? 2000 : 0 },
      };
    }
    const scores = await score(kind, x0, o);
    const threshold = thresholdForFpr(scores, fpr);
    return { score: kind, fpr, threshold, n, fitted_fpr: flaggedFraction(scores, threshold), options };
  }

  return {
    model,
    scorer,
    inputDim: D,
    imageShape,
    score,
    errorMaps: async (x, opts) => {
      const o = full(opts);
      return (await scorer.reconError(prepared(x, o), o)).maps;
    },
    complexityBits: (x, opts) => {
      if (!imageShape) throw new VaekitError("the complexity score needs images");
      const o = full(opts);
      return compressedBits(prepared(x, o), imageShape, o);
    },
    calibrate,
  };
}
