/**
 * Baseline experiment for the catch task (Node-only): random policy, linear controller on the true
 * state (upper reference) and on raw downsampled pixels, each trained with CMA-ES under the same
 * budget of environment steps and evaluated on the same held-out episodes.
 *
 *   node dist/src/apps/rl/experiment.js [budgetSteps] [out.json] [policy.gif]
 */
import { pathToFileURL } from "node:url";
import { writeFileAtomic } from "../../io/atomic.js";
import { CatchEnv, catchStateFeatures, type CatchConfig } from "./catch.js";
import { evaluateRandomPolicy, pixelFeatures, type Features } from "./evaluate.js";
import { createPolicy } from "./policy.js";
import { renderGif } from "./render.js";
import { defaultTrainControllerConfig, trainController, type TrainControllerConfig, type TrainControllerResult } from "./train.js";

export interface BaselineRun {
  name: string;
  seconds: number;
  result: TrainControllerResult;
}

export interface BaselineReport {
  env: CatchConfig;
  training: TrainControllerConfig;
  random: { mean: number; std: number; episodes: number };
  runs: BaselineRun[];
}

export async function runBaselineExperiment(
  budgetSteps: number,
  log: (line: string) => void = console.log,
  envConfig: Partial<CatchConfig> = {},
): Promise<BaselineReport> {
  const env = new CatchEnv(envConfig);
  const training: TrainControllerConfig = { ...defaultTrainControllerConfig, budgetSteps, episodesPerCandidate: 2, sigma0: 1, seed: 1 };
  const random = evaluateRandomPolicy(env, training.evalEpisodes, training.evalSeed);
  log(`random policy: ${random.mean.toFixed(2)} ± ${random.std.toFixed(2)} over ${training.evalEpisodes} episodes`);
  const contenders: { name: string; features: Features; overrides?: Partial<TrainControllerConfig> }[] = [
    { name: "true state (4 features), linear", features: catchStateFeatures },
    { name: "pixels 8×8 (64 features), linear", features: pixelFeatures(env.obsShape, 8) },
    { name: "pixels 16×16 (256 features), linear", features: pixelFeatures(env.obsShape, 16) },
  ];
  const runs: BaselineRun[] = [];
  for (const c of contenders) {
    const t0 = performance.now();
    const result = await trainController(env, c.features, { ...training, ...c.overrides }, (p) => {
      if (p.meanPolicyReturn !== undefined) log(`  ${c.name}: ${p.envSteps} steps, mean policy ${p.meanPolicyReturn.toFixed(2)}`);
    });
    const seconds = (performance.now() - t0) / 1000;
    const e = result.evaluation;
    log(
      `${c.name}: ${e.mean.toFixed(2)} ± ${e.std.toFixed(2)} over ${e.returns.length} episodes ` +
        `(${result.envSteps} steps, ${result.generations} generations, ${result.covariance} CMA-ES λ=${result.populationSize}, ${seconds.toFixed(1)} s)`,
    );
    runs.push({ name: c.name, seconds, result });
  }
  return { env: env.config, training, random: { mean: random.mean, std: random.std, episodes: random.returns.length }, runs };
}

/** GIF of one episode played by a trained controller. */
export async function recordEpisodeGif(env: CatchEnv, run: TrainControllerResult, features: Features, seed: number, path: string): Promise<void> {
  const policy = createPolicy(run.spec, run.params);
  const e = env.spawn();
  let obs = e.reset(seed);
  const frames = [obs];
  for (let t = 0; t < e.maxSteps; t++) {
    const f = typeof features === "function" ? await features(obs, e) : await features.batch(obs, 1);
    const r = e.step(policy.act(f));
    obs = r.obs;
    frames.push(obs);
    if (r.done) break;
  }
  renderGif(frames, path, 20);
}

async function main(): Promise<void> {
  const budget = Number(process.argv[2] ?? 300_000);
  const report = await runBaselineExperiment(budget);
  if (process.argv[3]) writeFileAtomic(process.argv[3], JSON.stringify(report, null, 1));
  if (process.argv[4]) {
    const env = new CatchEnv(report.env);
    const pixels = report.runs[report.runs.length - 1];
    await recordEpisodeGif(env, pixels.result, pixelFeatures(env.obsShape, 16), 7, process.argv[4]);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
