/**
 * The environment contract used by the RL app (browser-safe).
 *
 * Observations are frames: Float32Array of h*w*c values in [0,1], row-major, channel last (HWC),
 * the same layout as vaekit datasets, so collected frames feed a VAE unchanged.
 */
import { VaekitError } from "../../errors.js";

/**
 * Continuous actions are `size` numbers in [low, high] (values outside are clipped by the env).
 * Discrete actions are passed as a one-element array holding the index in [0, n).
 */
export type ActionSpace =
  | { kind: "continuous"; size: number; low: number; high: number }
  | { kind: "discrete"; n: number };

export interface StepResult {
  /** The observation after the step (a fresh array the caller may keep). */
  obs: Float32Array;
  reward: number;
  /** True when the episode has ended (time limit or terminal state); call reset() before stepping again. */
  done: boolean;
}

export interface Env {
  /** Short name used in reports and file names. */
  readonly name: string;
  /** [height, width, channels] of every observation. */
  readonly obsShape: readonly [number, number, number];
  readonly actionSpace: ActionSpace;
  /** Episode length limit: an episode never runs longer than this many steps. */
  readonly maxSteps: number;
  /** Start a new episode; the same seed always gives the same episode for the same actions. */
  reset(seed: number): Float32Array;
  step(action: ArrayLike<number>): StepResult;
  /** A fresh environment with the same configuration (state is not copied), for running episodes side by side. */
  spawn(): Env;
}

/** Number of numbers an action holds for this action space. */
export function actionSize(space: ActionSpace): number {
  return space.kind === "continuous" ? space.size : 1;
}

/** Number of values in one observation. */
export function obsSize(env: Pick<Env, "obsShape">): number {
  const [h, w, c] = env.obsShape;
  return h * w * c;
}

/** Uniformly random action (continuous: uniform in the box; discrete: uniform index). */
export function randomAction(space: ActionSpace, uniform: () => number): Float32Array {
  if (space.kind === "discrete") return Float32Array.of(Math.floor(uniform() * space.n));
  const a = new Float32Array(space.size);
  for (let i = 0; i < space.size; i++) a[i] = space.low + (space.high - space.low) * uniform();
  return a;
}

/** Reject actions of the wrong length or with non-finite values, naming the env. */
export function checkAction(envName: string, space: ActionSpace, action: ArrayLike<number>): void {
  const want = actionSize(space);
  if (action.length !== want) {
    throw new VaekitError(`${envName}: action has ${action.length} values, expected ${want}`);
  }
  for (let i = 0; i < action.length; i++) {
    if (!Number.isFinite(action[i])) throw new VaekitError(`${envName}: action value ${i} is ${action[i]}`);
  }
  if (space.kind === "discrete") {
    const a = action[0];
    if (!Number.isInteger(a) || a < 0 || a >= space.n) {
      throw new VaekitError(`${envName}: discrete action ${a} is not an integer in [0, ${space.n})`);
    }
  }
}
