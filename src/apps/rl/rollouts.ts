/**
 * Random-policy rollouts: the frames a VAE is trained on in the World Models recipe (browser-safe).
 */
import { VaekitError } from "../../errors.js";
import { Rng } from "../../data/rng.js";
import type { Dataset } from "../../data/datasets.js";
import { actionSize, obsSize, randomAction, type Env } from "./env.js";

export interface RandomRollouts {
  /** n frames, n*h*w*c values in [0,1] (HWC per frame); frame i is the observation action i was taken in. */
  frames: Float32Array;
  /** [h, w, c] of one frame. */
  shape: [number, number, number];
  /** Number of frames (= number of steps taken). */
  n: number;
  /** n * actionSize values. */
  actions: Float32Array;
  actionSize: number;
  /** Reward received after action i. */
  rewards: Float32Array;
  /** 1 where step i ended its episode. */
  dones: Uint8Array;
  /** Index of the first frame of each episode. */
  episodeStarts: Int32Array;
  /** Total reward of each episode under the random policy (the random baseline). */
  episodeReturns: Float64Array;
}

export interface RandomRolloutOptions {
  /**
   * Each random action is held for a number of steps drawn uniformly from [minHold, maxHold]: held
   * actions move the agent further than step-by-step noise, so frames cover more of the state space.
   */
  minHold: number;
  maxHold: number;
}

export const defaultRandomRolloutOptions: RandomRolloutOptions = { minHold: 1, maxHold: 8 };

/** Seed of episode i for a base seed: distinct, well-mixed and reproducible. */
export function episodeSeeds(seed: number, count: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => rng.nextUint32());
}

/**
 * Run `episodes` episodes with random actions and keep every frame. Memory: 4*h*w*c bytes per step
 * (16 KiB for a 64×64 grayscale frame, 48 KiB for RGB).
 */
export function collectRandomFrames(
  env: Env,
  episodes: number,
  seed: number,
  options: Partial<RandomRolloutOptions> = {},
): RandomRollouts {
  const opts = { ...defaultRandomRolloutOptions, ...options };
  if (!Number.isInteger(episodes) || episodes < 1) throw new VaekitError(`rollouts: episodes must be a positive integer, got ${episodes}`);
  if (!Number.isInteger(opts.minHold) || !Number.isInteger(opts.maxHold) || opts.minHold < 1 || opts.maxHold < opts.minHold) {
    throw new VaekitError(`rollouts: need integers 1 <= minHold <= maxHold, got ${opts.minHold}, ${opts.maxHold}`);
  }
  const seeds = episodeSeeds(seed, episodes);
  const actionRng = new Rng(seed).fork();
  const uniform = () => actionRng.uniform();
  const frameSize = obsSize(env);
  const aSize = actionSize(env.actionSpace);
  const capacity = episodes * env.maxSteps;
  const frames = new Float32Array(capacity * frameSize);
  const actions = new Float32Array(capacity * aSize);
  const rewards = new Float32Array(capacity);
  const dones = new Uint8Array(capacity);
  const episodeStarts = new Int32Array(episodes);
  const episodeReturns = new Float64Array(episodes);
  let n = 0;
  for (let e = 0; e < episodes; e++) {
    episodeStarts[e] = n;
    let obs = env.reset(seeds[e]);
    let action = randomAction(env.actionSpace, uniform);
    let holdLeft = 0;
    for (let t = 0; t < env.maxSteps; t++) {
      if (holdLeft === 0) {
        action = randomAction(env.actionSpace, uniform);
        holdLeft = opts.minHold + actionRng.int(opts.maxHold - opts.minHold + 1);
      }
      holdLeft--;
      frames.set(obs, n * frameSize);
      actions.set(action, n * aSize);
      const r = env.step(action);
      rewards[n] = r.reward;
      dones[n] = r.done ? 1 : 0;
      episodeReturns[e] += r.reward;
      n++;
      obs = r.obs;
      if (r.done) break;
    }
  }
  return {
    frames: frames.subarray(0, n * frameSize),
    shape: [...env.obsShape],
    n,
    actions: actions.subarray(0, n * aSize),
    actionSize: aSize,
    rewards: rewards.subarray(0, n),
    dones: dones.subarray(0, n),
    episodeStarts,
    episodeReturns,
  };
}

/** View rollout frames as a vaekit dataset (shares memory), ready for VAE training. */
export function rolloutsAsDataset(rollouts: RandomRollouts, name = "rollouts"): Dataset {
  return { name, x: rollouts.frames, shape: [...rollouts.shape], n: rollouts.n };
}
