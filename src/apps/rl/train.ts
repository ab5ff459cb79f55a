/**
 * Training a controller with CMA-ES on episode returns, under a budget of environment steps
 * (browser-safe). Fitness of a candidate = mean return over a few episodes; within a generation all
 * candidates see the same episodes, so ranking compares policies rather than luck.
 */
import { VaekitError } from "../../errors.js";
import { Rng } from "../../data/rng.js";
import type { Env } from "./env.js";
import { CmaEs } from "./cmaes.js";
import { evaluatePolicies, evaluatePolicy, featureSize, meanStd, type EvaluationResult, type Features } from "./evaluate.js";
import { createPolicy, paramCount, policySpecFor, type PolicySpec } from "./policy.js";

export interface TrainControllerConfig {
  /** Environment steps spent on training candidates (learning-curve and final evaluations are extra). */
  budgetSteps: number;
  /** Episodes per candidate per generation. */
  episodesPerCandidate: number;
  /** CMA-ES population size; default 4 + floor(3 ln n). */
  populationSize?: number;
  /** Initial CMA-ES step size. */
  sigma0: number;
  /** "auto": full covariance up to 100 parameters, diagonal (sep-CMA-ES) above. */
  covariance: "full" | "diagonal" | "auto";
  policy: "linear" | "mlp";
  hiddenSize: number;
  seed: number;
  /** Seed of the final evaluation episodes; keep it fixed to compare feature functions on the same episodes. */
  evalSeed: number;
  /** Final evaluation episodes (at least 20 for a usable mean ± std). */
  evalEpisodes: number;
  /** Evaluate the search mean every this many generations for the learning curve (0: never). */
  curveEvery: number;
  curveEpisodes: number;
}

export const defaultTrainControllerConfig: TrainControllerConfig = {
  budgetSteps: 200_000,
  episodesPerCandidate: 4,
  sigma0: 0.5,
  covariance: "auto",
  policy: "linear",
  hiddenSize: 16,
  seed: 0,
  evalSeed: 20_240_601,
  evalEpisodes: 24,
  curveEvery: 5,
  curveEpisodes: 12,
};

export interface CurvePoint {
  generation: number;
  /** Training environment steps used so far. */
  envSteps: number;
  /** Mean fitness (mean return) over this generation's candidates. */
  populationMean: number;
  /** Best candidate's mean return this generation (optimistic: selected on the same episodes). */
  populationBest: number;
  sigma: number;
  /** Mean return of the search mean on fixed held-out episodes (every curveEvery generations). */
  meanPolicyReturn?: number;
}

export interface TrainControllerResult {
  spec: PolicySpec;
  /** Parameters of the final search mean (the controller returned). */
  params: number[];
  curve: CurvePoint[];
  /** Final search mean on evalEpisodes held-out episodes. */
  evaluation: EvaluationResult;
  envSteps: number;
  generations: number;
  covariance: "full" | "diagonal";
  populationSize: number;
}

function validate(c: TrainControllerConfig): void {
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new VaekitError(`controller training: ${what}`);
  };
  need(Number.isFinite(c.budgetSteps) && c.budgetSteps > 0, `budgetSteps must be > 0, got ${c.budgetSteps}`);
  need(Number.isInteger(c.episodesPerCandidate) && c.episodesPerCandidate >= 1, `episodesPerCandidate must be a positive integer, got ${c.episodesPerCandidate}`);
  need(Number.isInteger(c.evalEpisodes) && c.evalEpisodes >= 1, `evalEpisodes must be a positive integer, got ${c.evalEpisodes}`);
  need(Number.isInteger(c.curveEvery) && c.curveEvery >= 0, `curveEvery must be a non-negative integer, got ${c.curveEvery}`);
  need(c.curveEvery === 0 || (Number.isInteger(c.curveEpisodes) && c.curveEpisodes >= 1), `curveEpisodes must be a positive integer, got ${c.curveEpisodes}`);
  need(["full", "diagonal", "auto"].includes(c.covariance), `unknown covariance "${c.covariance}"`);
}

/**
 * Optimise a linear or MLP controller on `features` with CMA-ES until `budgetSteps` environment
 * steps have been used (the last generation may overshoot by less than one generation's steps).
 */
export async function trainController(
  env: Env,
  features: Features,
  config: Partial<TrainControllerConfig> = {},
  onProgress?: (point: CurvePoint) => void,
): Promise<TrainControllerResult> {
  const c = { ...defaultTrainControllerConfig, ...config };
  validate(c);
  const inputSize = await featureSize(env, features);
  const spec = policySpecFor(env.actionSpace, inputSize, c.policy, c.hiddenSize);
  const n = paramCount(spec);
  const covariance = c.covariance === "auto" ? (n <= 100 ? "full" : "diagonal") : c.covariance;
  const root = new Rng(c.seed);
  const es = new CmaEs({ mean: new Float64Array(n), sigma: c.sigma0, populationSize: c.populationSize, seed: root.nextUint32(), covariance });
  const episodeRng = root.fork();
  const curveSeed = root.nextUint32();
  const curve: CurvePoint[] = [];
  let envSteps = 0;
  while (envSteps < c.budgetSteps) {
    const candidates = es.ask().map((x) => createPolicy(spec, x));
    const seeds = Array.from({ length: c.episodesPerCandidate }, () => episodeRng.nextUint32());
    const { returns, steps } = await evaluatePolicies(env, candidates, features, seeds);
    envSteps += steps;
    const fitness = returns.map((r) => meanStd(r).mean);
    es.tell(fitness.map((f) => -f));
    const point: CurvePoint = {
      generation: es.generation,
      envSteps,
      populationMean: meanStd(fitness).mean,
      populationBest: Math.max(...fitness),
      sigma: es.sigma,
    };
    const last = envSteps >= c.budgetSteps;
    if (c.curveEvery > 0 && (es.generation % c.curveEvery === 0 || last)) {
      const evalRun = await evaluatePolicy(env, createPolicy(spec, es.mean), features, c.curveEpisodes, curveSeed);
      point.meanPolicyReturn = evalRun.mean;
    }
    curve.push(point);
    onProgress?.(point);
  }
  const params = Array.from(es.mean);
  const evaluation = await evaluatePolicy(env, createPolicy(spec, params), features, c.evalEpisodes, c.evalSeed);
  return { spec, params, curve, evaluation, envSteps, generations: es.generation, covariance, populationSize: es.lambda };
}
