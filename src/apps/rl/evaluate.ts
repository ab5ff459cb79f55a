/**
 * Running policies in an environment on a feature representation of the frames (browser-safe).
 *
 * Any feature function plugs in: raw downsampled pixels, hand-coded true state, or a VAE encoder's
 * mean. Episodes run side by side in lockstep, so a batched feature function (e.g. one encoder call
 * for all live episodes) is called once per time step rather than once per frame.
 */
import { VaekitError } from "../../errors.js";
import { Rng } from "../../data/rng.js";
import { obsSize, randomAction, type Env } from "./env.js";
import { downsampleGray } from "./frames.js";
import type { Policy } from "./policy.js";
import { episodeSeeds } from "./rollouts.js";

/** Features of one observation; `env` is the episode's env (true-state features read it). */
export type FeatureFn = (obs: Float32Array, env: Env) => Float32Array | Promise<Float32Array>;

/** Features of `count` observations packed as count*h*w*c values; returns count*d values. */
export interface BatchFeatureFn {
  batch(obs: Float32Array, count: number): Float32Array | Promise<Float32Array>;
}

export type Features = FeatureFn | BatchFeatureFn;

export interface EvaluationResult {
  /** Return of each episode. */
  returns: number[];
  mean: number;
  /** Sample standard deviation of the returns (0 for one episode). */
  std: number;
  /** Environment steps taken. */
  steps: number;
}

/** Mean and sample standard deviation. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: 0 };
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/** Raw-pixel baseline: the frame average-pooled to target×target grayscale (256 features by default). */
export function pixelFeatures(shape: readonly [number, number, number], target = 16): FeatureFn {
  return (obs) => downsampleGray(obs, shape, target);
}

function isPromise<T>(x: T | Promise<T>): x is Promise<T> {
  return typeof (x as { then?: unknown })?.then === "function";
}

/** Features for the live slots, in order; checks the feature count is consistent. */
async function computeFeatures(features: Features, obs: Float32Array[], envs: Env[], live: number[]): Promise<Float32Array[]> {
  if (typeof features === "function") {
    return Promise.all(
      live.map(async (s) => {
        const f = features(obs[s], envs[s]);
        return isPromise(f) ? await f : f;
      }),
    );
  }
  const size = obs[live[0]].length;
  const packed = new Float32Array(live.length * size);
  live.forEach((s, k) => packed.set(obs[s], k * size));
  const res = features.batch(packed, live.length);
  const flat = isPromise(res) ? await res : res;
  if (flat.length % live.length !== 0 || flat.length === 0) {
    throw new VaekitError(`batched features returned ${flat.length} values for ${live.length} observations`);
  }
  const d = flat.length / live.length;
  return live.map((_, k) => flat.subarray(k * d, (k + 1) * d));
}

/**
 * Run every policy on every episode seed (common random numbers: all policies face the same
 * episodes). Returns returns[policy][episode] and the number of environment steps taken.
 */
export async function evaluatePolicies(
  env: Env,
  policies: readonly Policy[],
  features: Features,
  seeds: readonly number[],
): Promise<{ returns: number[][]; steps: number }> {
  const slots = policies.length * seeds.length;
  const envs = Array.from({ length: slots }, () => env.spawn());
  const obs = envs.map((e, s) => e.reset(seeds[s % seeds.length]));
  const totals = new Float64Array(slots);
  const stepsTaken = new Int32Array(slots);
  let live = Array.from({ length: slots }, (_, s) => s);
  let steps = 0;
  while (live.length > 0) {
    const feats = await computeFeatures(features, obs, envs, live);
    const next: number[] = [];
    live.forEach((s, k) => {
      const policy = policies[Math.floor(s / seeds.length)];
      const r = envs[s].step(policy.act(feats[k]));
      if (!Number.isFinite(r.reward)) throw new VaekitError(`${env.name}: non-finite reward ${r.reward}`);
      totals[s] += r.reward;
      stepsTaken[s]++;
      steps++;
      obs[s] = r.obs;
      // The step limit guards against envs that never report done.
      if (!r.done && stepsTaken[s] < env.maxSteps) next.push(s);
    });
    live = next;
  }
  const returns = policies.map((_, p) => Array.from(totals.subarray(p * seeds.length, (p + 1) * seeds.length)));
  return { returns, steps };
}

/** Return statistics of one policy over `episodes` seeded episodes. */
export async function evaluatePolicy(
  env: Env,
  policy: Policy,
  features: Features,
  episodes: number,
  seed: number,
): Promise<EvaluationResult> {
  if (!Number.isInteger(episodes) || episodes < 1) throw new VaekitError(`evaluation: episodes must be a positive integer, got ${episodes}`);
  const { returns, steps } = await evaluatePolicies(env, [policy], features, episodeSeeds(seed, episodes));
  return { returns: returns[0], ...meanStd(returns[0]), steps };
}

/** The random-policy reference: a fresh uniformly random action at every step. */
export function evaluateRandomPolicy(env: Env, episodes: number, seed: number): EvaluationResult {
  const rng = new Rng(seed).fork();
  const uniform = () => rng.uniform();
  const returns: number[] = [];
  let steps = 0;
  const e = env.spawn();
  for (const s of episodeSeeds(seed, episodes)) {
    e.reset(s);
    let total = 0;
    for (let t = 0; t < e.maxSteps; t++) {
      const r = e.step(randomAction(e.actionSpace, uniform));
      total += r.reward;
      steps++;
      if (r.done) break;
    }
    returns.push(total);
  }
  return { returns, ...meanStd(returns), steps };
}

/** Feature vector length for this env and feature function (runs the function on one reset frame). */
export async function featureSize(env: Env, features: Features): Promise<number> {
  const e = env.spawn();
  const obs = e.reset(0);
  if (obs.length !== obsSize(e)) throw new VaekitError(`${env.name}: observation has ${obs.length} values, expected ${obsSize(e)}`);
  const [f] = await computeFeatures(features, [obs], [e], [0]);
  return f.length;
}
