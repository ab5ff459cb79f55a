/**
 * "Catch": a paddle at the bottom of the screen must catch balls that fall from the top (browser-safe).
 *
 * The agent sees only the rendered frame; the positions of ball and paddle are drawn as anti-aliased
 * shapes, so sub-pixel positions show up in the pixel values. Coordinates are normalised: x from 0
 * (left) to 1 (right), y from 0 (top) to 1 (bottom).
 *
 * Dynamics per step:
 *   1. paddle x += clip(action, -1, 1) * paddleSpeed, kept inside the screen;
 *   2. the ball moves by its velocity (vx drifts sideways, vy > 0 falls) and bounces off the side walls;
 *   3. when the ball's bottom reaches the paddle's top edge the ball is resolved: reward +1 if its
 *      centre is within paddleWidth/2 + ballRadius/2 of the paddle centre (at least half the ball over
 *      the paddle), else -1; a new ball then appears at the top at a random x with random velocity.
 * Every other step gives reward 0. Episodes last exactly maxSteps steps (about 10 balls with defaults).
 *
 * Action space: continuous, one number in [-1, 1] (paddle velocity as a fraction of paddleSpeed).
 * A random policy scores about -4 per episode; tracking the ball scores close to +10.
 */
import { VaekitError } from "../../errors.js";
import { Rng } from "../../data/rng.js";
import { checkAction, type ActionSpace, type Env, type StepResult } from "./env.js";

export interface CatchConfig {
  /** Frame side in pixels (frames are square). */
  size: number;
  /** 1: grayscale, 3: RGB. */
  channels: 1 | 3;
  /** Steps per episode. */
  maxSteps: number;
  paddleWidth: number;
  paddleHeight: number;
  /** Paddle displacement per step at |action| = 1. */
  paddleSpeed: number;
  ballRadius: number;
  minFallSpeed: number;
  maxFallSpeed: number;
  /** Largest sideways ball speed; drawn uniformly in [-maxDrift, maxDrift] for each ball. */
  maxDrift: number;
  /** Also draw the ball's previous position, dimmer, so one frame shows the ball's velocity. */
  trail: boolean;
}

export const defaultCatchConfig: CatchConfig = {
  size: 64,
  channels: 1,
  maxSteps: 200,
  paddleWidth: 0.22,
  paddleHeight: 0.06,
  paddleSpeed: 0.06,
  ballRadius: 0.06,
  minFallSpeed: 0.03,
  maxFallSpeed: 0.05,
  maxDrift: 0.02,
  trail: false,
};

/** Full simulator state; JSON-serialisable, so tests can build situations by hand. */
export interface CatchState {
  ballX: number;
  ballY: number;
  ballVX: number;
  ballVY: number;
  /** Ball position one step earlier (drawn when `trail` is on). */
  prevBallX: number;
  prevBallY: number;
  paddleX: number;
  /** Steps taken in this episode. */
  t: number;
  caught: number;
  missed: number;
}

/** Gap between the paddle's bottom edge and the bottom of the screen. */
const BOTTOM_MARGIN = 0.02;

/** y of the paddle's top edge. */
export function paddleTop(config: CatchConfig): number {
  return 1 - BOTTOM_MARGIN - config.paddleHeight;
}

/**
 * Reward for the ball in this state: 0 while it is still above the paddle's top edge, otherwise
 * +1 (caught) or -1 (missed).
 */
export function ballOutcome(state: CatchState, config: CatchConfig): -1 | 0 | 1 {
  if (state.ballY + config.ballRadius < paddleTop(config)) return 0;
  const reach = config.paddleWidth / 2 + config.ballRadius / 2;
  return Math.abs(state.ballX - state.paddleX) <= reach ? 1 : -1;
}

/** Move paddle and ball one step (no resolution, no respawn); returns a new state. */
export function moveObjects(state: CatchState, action: number, config: CatchConfig): CatchState {
  const a = Math.max(-1, Math.min(1, action));
  const half = config.paddleWidth / 2;
  const paddleX = Math.max(half, Math.min(1 - half, state.paddleX + a * config.paddleSpeed));
  const r = config.ballRadius;
  let ballX = state.ballX + state.ballVX;
  let ballVX = state.ballVX;
  // Reflect off the side walls so the ball always stays fully visible.
  if (ballX < r) {
    ballX = 2 * r - ballX;
    ballVX = -ballVX;
  } else if (ballX > 1 - r) {
    ballX = 2 * (1 - r) - ballX;
    ballVX = -ballVX;
  }
  return {
    ...state,
    ballX,
    ballY: state.ballY + state.ballVY,
    ballVX,
    prevBallX: state.ballX,
    prevBallY: state.ballY,
    paddleX,
  };
}

function spawnBall(state: CatchState, config: CatchConfig, rng: Rng): CatchState {
  const r = config.ballRadius;
  const ballX = r + (1 - 2 * r) * rng.uniform();
  const ballY = r;
  return {
    ...state,
    ballX,
    ballY,
    prevBallX: ballX,
    prevBallY: ballY,
    ballVX: config.maxDrift * (2 * rng.uniform() - 1),
    ballVY: config.minFallSpeed + (config.maxFallSpeed - config.minFallSpeed) * rng.uniform(),
  };
}

type Rgb = readonly [number, number, number];
const BALL: Rgb = [1.0, 0.35, 0.25];
const TRAIL: Rgb = [0.5, 0.17, 0.12];
const PADDLE: Rgb = [0.3, 0.75, 1.0];
const BALL_GRAY = 1.0;
const TRAIL_GRAY = 0.45;
const PADDLE_GRAY = 0.7;

/** Paint `coverage * colour` into pixel (i, j), keeping the brighter value per channel. */
function paint(img: Float32Array, size: number, channels: number, i: number, j: number, coverage: number, rgb: Rgb, gray: number) {
  const base = (i * size + j) * channels;
  if (channels === 1) {
    img[base] = Math.max(img[base], coverage * gray);
  } else {
    for (let k = 0; k < 3; k++) img[base + k] = Math.max(img[base + k], coverage * rgb[k]);
  }
}

/** Anti-aliased disc: coverage falls linearly over one pixel at the rim. */
function drawDisc(img: Float32Array, config: CatchConfig, cx: number, cy: number, rgb: Rgb, gray: number) {
  const s = config.size;
  const r = config.ballRadius * s;
  const x = cx * s;
  const y = cy * s;
  const i0 = Math.max(0, Math.floor(y - r - 1));
  const i1 = Math.min(s - 1, Math.ceil(y + r + 1));
  const j0 = Math.max(0, Math.floor(x - r - 1));
  const j1 = Math.min(s - 1, Math.ceil(x + r + 1));
  for (let i = i0; i <= i1; i++) {
    for (let j = j0; j <= j1; j++) {
      const d = Math.hypot(j + 0.5 - x, i + 0.5 - y);
      const coverage = Math.min(1, Math.max(0, r + 0.5 - d));
      if (coverage > 0) paint(img, s, config.channels, i, j, coverage, rgb, gray);
    }
  }
}

/** Rectangle with exact per-pixel area coverage. */
function drawRect(img: Float32Array, config: CatchConfig, x0: number, x1: number, y0: number, y1: number, rgb: Rgb, gray: number) {
  const s = config.size;
  const [px0, px1, py0, py1] = [x0 * s, x1 * s, y0 * s, y1 * s];
  for (let i = Math.max(0, Math.floor(py0)); i <= Math.min(s - 1, Math.ceil(py1) - 1); i++) {
    const cy = Math.max(0, Math.min(i + 1, py1) - Math.max(i, py0));
    for (let j = Math.max(0, Math.floor(px0)); j <= Math.min(s - 1, Math.ceil(px1) - 1); j++) {
      const cx = Math.max(0, Math.min(j + 1, px1) - Math.max(j, px0));
      if (cx * cy > 0) paint(img, s, config.channels, i, j, cx * cy, rgb, gray);
    }
  }
}

/** Render a state to a size×size×channels frame in [0,1] on a black background. */
export function renderCatch(state: CatchState, config: CatchConfig): Float32Array {
  const img = new Float32Array(config.size * config.size * config.channels);
  const top = paddleTop(config);
  const half = config.paddleWidth / 2;
  drawRect(img, config, state.paddleX - half, state.paddleX + half, top, top + config.paddleHeight, PADDLE, PADDLE_GRAY);
  if (config.trail) drawDisc(img, config, state.prevBallX, state.prevBallY, TRAIL, TRAIL_GRAY);
  drawDisc(img, config, state.ballX, state.ballY, BALL, BALL_GRAY);
  return img;
}

function validateConfig(c: CatchConfig): void {
  const bad = (what: string) => {
    throw new VaekitError(`catch env: ${what}`);
  };
  if (!Number.isInteger(c.size) || c.size < 8) bad(`size must be an integer >= 8, got ${c.size}`);
  if (c.channels !== 1 && c.channels !== 3) bad(`channels must be 1 or 3, got ${c.channels}`);
  if (!Number.isInteger(c.maxSteps) || c.maxSteps < 1) bad(`maxSteps must be a positive integer, got ${c.maxSteps}`);
  const positive: (keyof CatchConfig)[] = ["paddleWidth", "paddleHeight", "paddleSpeed", "ballRadius", "minFallSpeed"];
  for (const k of positive) if (!((c[k] as number) > 0)) bad(`${k} must be > 0, got ${c[k]}`);
  if (!(c.maxFallSpeed >= c.minFallSpeed)) bad(`maxFallSpeed (${c.maxFallSpeed}) must be >= minFallSpeed (${c.minFallSpeed})`);
  if (!(c.maxDrift >= 0)) bad(`maxDrift must be >= 0, got ${c.maxDrift}`);
  if (c.paddleWidth >= 1 || c.ballRadius >= 0.25) bad("paddle or ball too large for the screen");
}

export class CatchEnv implements Env {
  readonly name = "catch";
  readonly config: CatchConfig;
  readonly obsShape: readonly [number, number, number];
  readonly actionSpace: ActionSpace = { kind: "continuous", size: 1, low: -1, high: 1 };
  readonly maxSteps: number;
  private state: CatchState | null = null;
  private rng = new Rng(0);

  constructor(config: Partial<CatchConfig> = {}) {
    this.config = { ...defaultCatchConfig, ...config };
    validateConfig(this.config);
    this.obsShape = [this.config.size, this.config.size, this.config.channels];
    this.maxSteps = this.config.maxSteps;
  }

  reset(seed: number): Float32Array {
    this.rng = new Rng(seed);
    const half = this.config.paddleWidth / 2;
    const start: CatchState = {
      ballX: 0.5, ballY: 0, ballVX: 0, ballVY: 0, prevBallX: 0.5, prevBallY: 0,
      paddleX: half + (1 - 2 * half) * this.rng.uniform(),
      t: 0, caught: 0, missed: 0,
    };
    this.state = spawnBall(start, this.config, this.rng);
    return renderCatch(this.state, this.config);
  }

  step(action: ArrayLike<number>): StepResult {
    const s = this.state;
    if (s === null) throw new VaekitError("catch env: step() called before reset()");
    if (s.t >= this.maxSteps) throw new VaekitError("catch env: step() called after the episode ended; call reset()");
    checkAction(this.name, this.actionSpace, action);
    let next = moveObjects(s, action[0], this.config);
    const reward = ballOutcome(next, this.config);
    if (reward !== 0) {
      next = spawnBall(
        { ...next, caught: next.caught + (reward > 0 ? 1 : 0), missed: next.missed + (reward < 0 ? 1 : 0) },
        this.config,
        this.rng,
      );
    }
    next.t = s.t + 1;
    this.state = next;
    return { obs: renderCatch(next, this.config), reward, done: next.t >= this.maxSteps };
  }

  /** A copy of the current state (null before the first reset). */
  getState(): CatchState | null {
    return this.state === null ? null : { ...this.state };
  }

  /** Replace the current state (for tests and demos); the random stream for new balls is kept. */
  setState(state: CatchState): Float32Array {
    this.state = { ...state };
    return renderCatch(this.state, this.config);
  }

  spawn(): CatchEnv {
    return new CatchEnv(this.config);
  }
}

/**
 * Hand-coded features from the true state (not from pixels), centred near 0 and of order 1:
 * [ballX, ballY, ballVX / maxDrift, paddleX] minus 0.5 where positional. Used to show the task is
 * learnable by a linear policy, as an upper reference for pixel- or latent-based features.
 */
export function catchStateFeatures(_obs: Float32Array, env: Env): Float32Array {
  if (!(env instanceof CatchEnv)) throw new VaekitError(`catchStateFeatures needs the catch env, got "${env.name}"`);
  const s = env.getState();
  if (s === null) throw new VaekitError("catchStateFeatures: env has not been reset");
  const drift = env.config.maxDrift > 0 ? s.ballVX / env.config.maxDrift : 0;
  return Float32Array.of(s.ballX - 0.5, s.ballY - 0.5, drift, s.paddleX - 0.5);
}
