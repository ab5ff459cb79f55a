/**
 * The World Models pipeline on the catch task (browser-safe): random rollouts → VAE on the frames →
 * controller on z = μ(x) → evaluation, next to the same controller on raw downsampled pixels.
 *
 * Environment-step accounting: the latent controller is charged for the random rollouts its VAE was
 * trained on, so at a total budget B it trains its controller for B − (rollout steps) steps, while
 * the pixel baseline trains for all B steps. Evaluation episodes are never counted (they are the
 * same for both and only measure the result).
 */
import { z } from "zod";
import { VaekitError } from "../../errors.js";
import type { ModelBundle } from "../../models/io.js";
import { CatchEnv, catchStateFeatures, defaultCatchConfig, type CatchConfig } from "./catch.js";
import type { Env } from "./env.js";
import { evaluateRandomPolicy, featureSize, pixelFeatures, type EvaluationResult, type Features } from "./evaluate.js";
import { createPolicy, paramCount, policySpecFor, type PolicySpec } from "./policy.js";
import { collectRandomFrames, episodeSeeds, rolloutsAsDataset, type RandomRollouts } from "./rollouts.js";
import { defaultTrainControllerConfig, trainController, type TrainControllerConfig, type TrainControllerResult } from "./train.js";
import {
  defaultFrameVaeOptions,
  defaultFrameVaeTraining,
  frameVaeConfig,
  latentEncoder,
  reconstructionMse,
  trainFrameVae,
  type FrameVaeOptions,
  type FrameVaeTraining,
  type LatentEncoder,
} from "./world-model.js";

/** Join rollouts of the same frame shape into one (episode starts shifted accordingly). */
export function concatRollouts(parts: readonly RandomRollouts[]): RandomRollouts {
  if (parts.length === 0) throw new VaekitError("rollouts: nothing to join");
  const shape = parts[0].shape;
  const aSize = parts[0].actionSize;
  for (const p of parts) {
    if (p.shape.join("×") !== shape.join("×") || p.actionSize !== aSize) throw new VaekitError("rollouts: cannot join rollouts of different shapes");
  }
  const n = parts.reduce((s, p) => s + p.n, 0);
  const frameSize = shape[0] * shape[1] * shape[2];
  const out: RandomRollouts = {
    frames: new Float32Array(n * frameSize),
    shape: [...shape],
    n,
    actions: new Float32Array(n * aSize),
    actionSize: aSize,
    rewards: new Float32Array(n),
    dones: new Uint8Array(n),
    episodeStarts: new Int32Array(parts.reduce((s, p) => s + p.episodeStarts.length, 0)),
    episodeReturns: new Float64Array(parts.reduce((s, p) => s + p.episodeReturns.length, 0)),
  };
  let at = 0;
  let episode = 0;
  for (const p of parts) {
    out.frames.set(p.frames, at * frameSize);
    out.actions.set(p.actions, at * aSize);
    out.rewards.set(p.rewards, at);
    out.dones.set(p.dones, at);
    p.episodeStarts.forEach((s, k) => (out.episodeStarts[episode + k] = s + at));
    out.episodeReturns.set(p.episodeReturns, episode);
    episode += p.episodeStarts.length;
    at += p.n;
  }
  return out;
}

/**
 * Random-policy rollouts, one episode at a time (episode e depends only on the e-th seed derived from
 * `seed`), with a callback after each episode for progress bars.
 */
export function collectRollouts(env: Env, episodes: number, seed: number, onEpisode?: (done: number, total: number) => void): RandomRollouts {
  if (!Number.isInteger(episodes) || episodes < 1) throw new VaekitError(`rollouts: episodes must be a positive integer, got ${episodes}`);
  const parts = episodeSeeds(seed, episodes).map((s, e) => {
    const part = collectRandomFrames(env, 1, s);
    onEpisode?.(e + 1, episodes);
    return part;
  });
  return concatRollouts(parts);
}

/** Standard error of the mean of an evaluation's returns. */
export function standardError(e: Pick<EvaluationResult, "std" | "returns">): number {
  return e.returns.length > 0 ? e.std / Math.sqrt(e.returns.length) : NaN;
}

/** What a controller sees, as stored with a trained controller. */
export type FeatureSpec = { kind: "latent"; latentDim: number } | { kind: "pixels"; size: number };

/** The feature function a spec describes; latent features need the VAE. */
export function featuresFor(spec: FeatureSpec, env: Env, vae?: ModelBundle): { features: Features; encoder?: LatentEncoder } {
  if (spec.kind === "pixels") return { features: pixelFeatures(env.obsShape, spec.size) };
  if (vae === undefined) throw new VaekitError("a latent-state controller needs its VAE");
  if (vae.config.latentDim !== spec.latentDim) {
    throw new VaekitError(`the controller expects ${spec.latentDim} latent dimensions but the VAE has ${vae.config.latentDim}`);
  }
  if (vae.config.inputShape.join("×") !== env.obsShape.join("×")) {
    throw new VaekitError(`the VAE expects frames of ${vae.config.inputShape.join("×")} but the environment renders ${env.obsShape.join("×")}`);
  }
  const encoder = latentEncoder(vae);
  return { features: encoder, encoder };
}

const PolicySpecSchema = z.object({
  kind: z.enum(["linear", "mlp"]),
  inputSize: z.number().int().positive(),
  outputSize: z.number().int().positive(),
  hiddenSize: z.number().int().positive().optional(),
  output: z.enum(["tanh", "argmax"]),
});

const EvaluationSchema = z.object({ returns: z.array(z.number()), mean: z.number(), std: z.number(), steps: z.number() });

/** A trained controller as stored on disk (JSON). */
export const ControllerFileSchema = z.object({
  format: z.literal("vaekit.rl-controller/1"),
  env: z.object({ name: z.literal("catch"), config: z.record(z.string(), z.unknown()) }),
  features: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("latent"), latentDim: z.number().int().positive() }),
    z.object({ kind: z.literal("pixels"), size: z.number().int().positive() }),
  ]),
  /** Path of the VAE (latent controllers), relative to the controller file's folder. */
  vae: z.string().optional(),
  spec: PolicySpecSchema,
  params: z.array(z.number()),
  training: z.record(z.string(), z.unknown()),
  /** Environment steps: random rollouts for the VAE (latent only) + controller training. */
  envSteps: z.object({ rollouts: z.number(), controller: z.number(), total: z.number() }),
  seconds: z.number(),
  curve: z.array(z.object({ envSteps: z.number(), meanReturn: z.number() })),
  evaluation: EvaluationSchema,
});
export type ControllerFile = z.infer<typeof ControllerFileSchema>;

export function parseControllerFile(json: unknown, source: string): ControllerFile {
  const r = ControllerFileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new VaekitError(`${source}: not a vaekit controller file (at "${issue.path.join(".")}": ${issue.message})`);
  }
  return r.data;
}

/** A catch env from a stored config (only known keys are taken, then validated by the env). */
export function catchEnvFrom(config: Record<string, unknown>): CatchEnv {
  const known = Object.fromEntries(Object.entries(config).filter(([k]) => k in defaultCatchConfig)) as Partial<CatchConfig>;
  return new CatchEnv(known);
}

/** Learning-curve points (total env steps, mean return of the search mean) from a training result. */
export function learningCurve(result: TrainControllerResult, offsetSteps: number): { envSteps: number; meanReturn: number }[] {
  return result.curve
    .filter((p) => p.meanPolicyReturn !== undefined)
    .map((p) => ({ envSteps: p.envSteps + offsetSteps, meanReturn: p.meanPolicyReturn! }));
}

/** Play one seeded episode with a controller; returns the frames seen (first = reset frame) and the return. */
export async function playEpisode(
  env: Env,
  spec: PolicySpec,
  params: ArrayLike<number>,
  features: Features,
  seed: number,
  maxFrames = Infinity,
): Promise<{ frames: Float32Array[]; total: number }> {
  const policy = createPolicy(spec, params);
  const e = env.spawn();
  let obs = e.reset(seed);
  const frames = [obs];
  let total = 0;
  for (let t = 0; t < e.maxSteps && frames.length < maxFrames; t++) {
    const f = typeof features === "function" ? await features(obs, e) : await features.batch(obs, 1);
    const r = e.step(policy.act(f));
    total += r.reward;
    obs = r.obs;
    frames.push(obs);
    if (r.done) break;
  }
  return { frames, total };
}

/** Reconstructions of frames through the VAE (one batched pass). */
export async function reconstructFrames(encoder: LatentEncoder, frames: Float32Array[]): Promise<Float32Array[]> {
  if (frames.length === 0) return [];
  const D = frames[0].length;
  const packed = new Float32Array(frames.length * D);
  frames.forEach((f, i) => packed.set(f, i * D));
  const rec = await encoder.reconstruct(packed, frames.length);
  return frames.map((_, i) => rec.slice(i * D, (i + 1) * D));
}

/**
 * Environment steps of one CMA-ES generation: population × episodes per candidate × episode length
 * (catch episodes always last maxSteps; for envs with early termination this is an upper bound).
 */
export async function generationSteps(env: Env, features: Features, ctl: TrainControllerConfig): Promise<number> {
  const spec = policySpecFor(env.actionSpace, await featureSize(env, features), ctl.policy, ctl.hiddenSize);
  const lambda = ctl.populationSize ?? 4 + Math.floor(3 * Math.log(paramCount(spec)));
  return lambda * ctl.episodesPerCandidate * env.maxSteps;
}

/**
 * The largest controller budget within `allowed` steps that is a whole number of generations (at
 * least one), so that no method overshoots its share of the budget.
 */
export function wholeGenerations(allowed: number, perGeneration: number): number {
  return Math.max(1, Math.floor(allowed / perGeneration)) * perGeneration;
}

export interface ComparisonConfig {
  env: Partial<CatchConfig>;
  /** Total environment steps each method may use (latent: rollouts + controller training). */
  budgetSteps: number;
  rolloutEpisodes: number;
  rolloutSeed: number;
  vae: Partial<FrameVaeOptions>;
  vaeTraining: Partial<FrameVaeTraining>;
  /** Controller training for every method (budgetSteps is set per method). */
  controller: Partial<TrainControllerConfig>;
  /** Downsampled frame side for the pixel baseline. */
  pixelSize: number;
  /**
   * Also train the pixel baseline for as long (wall clock) as the whole latent pipeline took, at its
   * measured rate of steps per second, but for at most this many steps (0: skip).
   */
  equalWallTimeMaxSteps: number;
  /** Also train on the true state (4 numbers, not from pixels) as an upper reference. */
  trueStateReference: boolean;
}

export const defaultComparisonConfig: ComparisonConfig = {
  env: {},
  budgetSteps: 50_000,
  rolloutEpisodes: 30,
  rolloutSeed: 1,
  vae: { ...defaultFrameVaeOptions },
  vaeTraining: { ...defaultFrameVaeTraining },
  controller: { episodesPerCandidate: 2, sigma0: 1, seed: 1 },
  pixelSize: 16,
  equalWallTimeMaxSteps: 0,
  trueStateReference: false,
};

export interface CurvePointOut {
  /** Environment steps charged so far (latent: including the VAE's rollouts). */
  envSteps: number;
  /** Wall-clock seconds so far (latent: including rollouts and VAE training). */
  seconds: number;
  /** Mean return of the CMA-ES search mean on fixed held-out episodes. */
  meanReturn: number;
}

export interface MethodResult {
  name: string;
  features: FeatureSpec | { kind: "true-state" };
  spec: PolicySpec;
  params: number[];
  evaluation: EvaluationResult;
  standardError: number;
  envSteps: { rollouts: number; controller: number; total: number };
  /** Wall-clock seconds: collecting rollouts, VAE training, controller training, and their sum. */
  seconds: { rollouts: number; vae: number; controller: number; total: number };
  curve: CurvePointOut[];
}

export interface ComparisonResult {
  config: ComparisonConfig;
  random: EvaluationResult & { standardError: number };
  vae: { bundle: ModelBundle; heldOutMse: number; blackFrameMse: number; finalValidation: { recon: number; kl: number }; epochs: number };
  latent: MethodResult;
  pixels: MethodResult;
  pixelsEqualWallTime?: MethodResult;
  trueState?: MethodResult;
}

export interface ComparisonHooks {
  log?: (line: string) => void;
  /** VAE training progress (optimiser steps). */
  onVaeStep?: (done: number, total: number) => void;
  /** Controller training progress of the named method (environment steps of its controller). */
  onControllerSteps?: (method: string, done: number, total: number) => void;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/**
 * Run the latent pipeline and the baselines on the same evaluation episodes. Every controller uses
 * the same CMA-ES settings and seed; only the features differ.
 */
export async function runComparison(config: Partial<ComparisonConfig> = {}, hooks: ComparisonHooks = {}): Promise<ComparisonResult> {
  const c: ComparisonConfig = { ...defaultComparisonConfig, ...config };
  const log = hooks.log ?? (() => {});
  const env = new CatchEnv(c.env);
  const ctl: TrainControllerConfig = { ...defaultTrainControllerConfig, ...c.controller };
  const randomEval = evaluateRandomPolicy(env, ctl.evalEpisodes, ctl.evalSeed);
  log(`random policy: ${randomEval.mean.toFixed(2)} ± ${randomEval.std.toFixed(2)}`);

  let t0 = performance.now();
  const rollouts = collectRollouts(env, c.rolloutEpisodes, c.rolloutSeed);
  const rolloutSeconds = seconds(t0);
  if (rollouts.n >= c.budgetSteps) throw new VaekitError(`the random rollouts (${rollouts.n} steps) use up the whole budget of ${c.budgetSteps} steps`);
  log(`collected ${rollouts.n} random frames in ${rolloutSeconds.toFixed(1)} s`);

  const vaeConfig = frameVaeConfig(env.obsShape, c.vae);
  const vae = await trainFrameVae(rolloutsAsDataset(rollouts, "catch rollouts"), vaeConfig, c.vaeTraining, (i) =>
    hooks.onVaeStep?.((i.epoch - 1) * i.batches + i.batch, (c.vaeTraining.epochs ?? defaultFrameVaeTraining.epochs) * i.batches),
  );
  const lastEpoch = vae.history[vae.history.length - 1];
  const encoder = latentEncoder(vae.bundle);
  const heldOut = collectRollouts(env, 2, c.rolloutSeed + 1_000_003);
  const heldOutMse = await reconstructionMse(encoder, heldOut.frames, heldOut.n);
  const blackFrameMse = heldOut.frames.reduce((s, v) => s + v * v, 0) / heldOut.frames.length;
  log(
    `VAE: ${vae.seconds.toFixed(1)} s, validation recon ${lastEpoch.val_recon.toFixed(1)} KL ${lastEpoch.val_kl.toFixed(1)} nats; ` +
      `held-out MSE ${heldOutMse.toFixed(5)} (black frame ${blackFrameMse.toFixed(5)})`,
  );

  const train = async (
    name: string,
    features: Features,
    featureSpec: MethodResult["features"],
    allowed: number,
    charged: { rollouts: number; rolloutSeconds: number; vaeSeconds: number },
  ): Promise<MethodResult> => {
    const budget = wholeGenerations(allowed, await generationSteps(env, features, ctl));
    const start = performance.now();
    const before = charged.rolloutSeconds + charged.vaeSeconds;
    const curve: CurvePointOut[] = [];
    const result = await trainController(env, features, { ...ctl, budgetSteps: budget }, (p) => {
      hooks.onControllerSteps?.(name, p.envSteps, budget);
      if (p.meanPolicyReturn !== undefined) {
        curve.push({ envSteps: p.envSteps + charged.rollouts, seconds: before + seconds(start), meanReturn: p.meanPolicyReturn });
        log(`  ${name}: ${p.envSteps + charged.rollouts} steps, mean return ${p.meanPolicyReturn.toFixed(2)}`);
      }
    });
    const controllerSeconds = seconds(start);
    const e = result.evaluation;
    log(`${name}: ${e.mean.toFixed(2)} ± ${e.std.toFixed(2)} (s.e. ${standardError(e).toFixed(2)}), ${result.envSteps + charged.rollouts} env steps, ${controllerSeconds.toFixed(1)} s`);
    return {
      name,
      features: featureSpec,
      spec: result.spec,
      params: result.params,
      evaluation: e,
      standardError: standardError(e),
      envSteps: { rollouts: charged.rollouts, controller: result.envSteps, total: charged.rollouts + result.envSteps },
      seconds: { rollouts: charged.rolloutSeconds, vae: charged.vaeSeconds, controller: controllerSeconds, total: before + controllerSeconds },
      curve,
    };
  };
  const free = { rollouts: 0, rolloutSeconds: 0, vaeSeconds: 0 };

  const latent = await train(`VAE latent z (${vaeConfig.latentDim}), ${ctl.policy}`, encoder, { kind: "latent", latentDim: vaeConfig.latentDim }, c.budgetSteps - rollouts.n, {
    rollouts: rollouts.n,
    rolloutSeconds,
    vaeSeconds: vae.seconds,
  });
  const pixelSpec: FeatureSpec = { kind: "pixels", size: c.pixelSize };
  const pixelFeats = pixelFeatures(env.obsShape, c.pixelSize);
  const pixelName = `pixels ${c.pixelSize}×${c.pixelSize}, ${ctl.policy}`;
  const pixels = await train(pixelName, pixelFeats, pixelSpec, c.budgetSteps, free);

  let pixelsEqualWallTime: MethodResult | undefined;
  if (c.equalWallTimeMaxSteps > 0) {
    // Steps the pixel controller takes in the latent pipeline's wall time, at its measured rate.
    const rate = pixels.envSteps.controller / pixels.seconds.controller;
    const allowed = Math.min(c.equalWallTimeMaxSteps, Math.max(c.budgetSteps, Math.round(rate * latent.seconds.total)));
    pixelsEqualWallTime = await train(`${pixelName}, wall time ≤ latent's`, pixelFeats, pixelSpec, allowed, free);
  }
  let trueState: MethodResult | undefined;
  if (c.trueStateReference) {
    trueState = await train(`true state (4 numbers), ${ctl.policy}`, catchStateFeatures, { kind: "true-state" }, c.budgetSteps, free);
  }

  return {
    config: c,
    random: { ...randomEval, standardError: standardError(randomEval) },
    vae: { bundle: vae.bundle, heldOutMse, blackFrameMse, finalValidation: { recon: lastEpoch.val_recon, kl: lastEpoch.val_kl }, epochs: vae.history.length },
    latent,
    pixels,
    pixelsEqualWallTime,
    trueState,
  };
}
