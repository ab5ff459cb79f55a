/**
 * `vaekit rl ...`: the World Models pipeline on the pixel catch task, step by step:
 *   collect → train-vae → train-policy → evaluate → render.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import { VaekitError } from "../../errors.js";
import { TrainConfig } from "../../train/config.js";
import { runTraining } from "../../train/run.js";
import { CatchEnv } from "../../apps/rl/catch.js";
import { evaluatePolicy, evaluateRandomPolicy } from "../../apps/rl/evaluate.js";
import { createPolicy } from "../../apps/rl/policy.js";
import { rolloutsAsDataset } from "../../apps/rl/rollouts.js";
import { defaultTrainControllerConfig, trainController, type TrainControllerConfig } from "../../apps/rl/train.js";
import { frameVaeConfig } from "../../apps/rl/world-model.js";
import {
  catchEnvFrom,
  collectRollouts,
  featuresFor,
  generationSteps,
  learningCurve,
  playEpisode,
  reconstructFrames,
  standardError,
  type ControllerFile,
  type FeatureSpec,
  wholeGenerations,
} from "../../apps/rl/pipeline.js";
import { attachRlExtras, loadController, loadRlVae, loadRollouts, saveController, saveRollouts } from "../../apps/rl/files.js";
import { renderGif } from "../../apps/rl/render.js";
import { startEngine, withCommon } from "../common.js";
import { choiceArg, floatArg, intArg, sizeArg } from "../options.js";
import { progressBar } from "../progress.js";

function parseSizes(flag: string, v: string): number[] {
  const xs = v.split(",").map(Number);
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new VaekitError(`${flag} expects sizes like 256 or 32,64, got "${v}"`);
  return xs;
}

function ensureParent(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
}

const fmt = (v: number) => v.toFixed(2);

export function registerRl(program: Command): void {
  const rl = program.command("rl").description("reinforcement learning on pixels with a VAE state (World Models): collect, train-vae, train-policy, evaluate, render");

  withCommon(
    rl
      .command("collect")
      .description("roll out a random policy in the catch environment and save every frame (safetensors)")
      .option("--episodes <n>", "episodes to play (200 steps each)", intArg(1), 30)
      .option("--seed <n>", "random seed", intArg(0), 1)
      .option("--trail", "draw the ball's previous position too, so a frame shows its velocity", false)
      .option("--out <file>", "output file", "runs/rl/rollouts.safetensors"),
  ).action(async (o) => {
    const env = new CatchEnv({ trail: o.trail });
    const bar = progressBar("collect", o.episodes, o.quiet);
    const rollouts = collectRollouts(env, o.episodes, o.seed, (done) => bar.update(done));
    bar.stop();
    ensureParent(o.out);
    saveRollouts(o.out, { rollouts, env: env.config, seed: o.seed });
    const returns = Array.from(rollouts.episodeReturns);
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
    process.stdout.write(`${rollouts.n} frames (${o.episodes} episodes, random return ${fmt(mean)} per episode) written to ${o.out}\n`);
  });

  withCommon(
    rl
      .command("train-vae")
      .description("train a VAE on collected frames; writes model.safetensors (with the environment and rollout steps), config.json, metrics.jsonl to --out")
      .requiredOption("--rollouts <file>", "frames from `vaekit rl collect`")
      .option("--latent <n>", "latent dimensions", intArg(1), 8)
      .option("--encoder <kind>", "conv (4 stride-2 conv layers) or mlp", choiceArg(["mlp", "conv"] as const), "conv")
      .option("--hidden <sizes>", "MLP encoder hidden sizes, decoder mirrored", "256")
      .option("--channels <sizes>", "conv encoder channels per stride-2 layer, decoder mirrored", "8,16,16,32")
      .option("--epochs <n>", "epochs", intArg(1), 10)
      .option("--batch-size <n>", "batch size", intArg(1), 64)
      .option("--lr <x>", "Adam learning rate", floatArg(0, true), 1e-3)
      .option("--beta <x>", "weight of the KL term", floatArg(0), 1)
      .option("--kl-warmup <steps>", "linear KL warm-up over this many steps against posterior collapse (0 = off)", intArg(0), 300)
      .option("--free-bits <x>", "free bits per latent dimension (0 = off)", floatArg(0), 0)
      .option("--seed <n>", "random seed", intArg(0), 0)
      .option("--validation <size>", "frames held out for validation (count or fraction)", sizeArg, 0.05)
      .option("--out <dir>", "output directory", "runs/rl/vae"),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const { rollouts, env } = loadRollouts(o.rollouts);
    const config = frameVaeConfig(rollouts.shape, {
      latentDim: o.latent,
      encoder: o.encoder,
      hidden: parseSizes("--hidden", o.hidden),
      channels: parseSizes("--channels", o.channels),
      beta: o.beta,
      klWarmupSteps: o.klWarmup,
      freeBits: o.freeBits,
    });
    const tc = TrainConfig.parse({ epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, binarize: "none" });
    const nVal = o.validation < 1 ? Math.round(rollouts.n * o.validation) : o.validation;
    const batches = Math.floor((rollouts.n - nVal) / tc.batchSize);
    mkdirSync(o.out, { recursive: true });
    const bar = progressBar("train-vae", tc.epochs * batches, o.quiet);
    await runTraining({
      config,
      train: tc,
      data: rolloutsAsDataset(rollouts, o.rollouts),
      validation: o.validation,
      outDir: o.out,
      dataSpec: o.rollouts,
      hooks: {
        onStep: ({ epoch, batch, loss }) => bar.update((epoch - 1) * batches + batch, { epoch, loss }),
        onEpoch: (_s, m) => {
          if (o.quiet) return;
          process.stderr.write(`\nepoch ${m.epoch}: validation recon ${fmt(m.val_recon)} KL ${fmt(m.val_kl)} nats/frame\n`);
        },
      },
    });
    bar.stop();
    await attachRlExtras(o.out, { env, rolloutSteps: rollouts.n, rollouts: o.rollouts });
    process.stdout.write(`VAE (latent ${o.latent}, ${o.encoder}) trained on ${rollouts.n} frames; model in ${o.out}/model.safetensors\n`);
  });

  withCommon(
    rl
      .command("train-policy")
      .description("train a controller with CMA-ES on VAE latents (z = μ(x)) or on downsampled pixels, under an environment-step budget")
      .option("--features <kind>", "latent|pixels", choiceArg(["latent", "pixels"] as const), "latent")
      .option("--vae <dir>", "VAE from `vaekit rl train-vae` (required for latent features; for pixels it only sets the environment)")
      .option("--trail", "pixels without --vae: use the environment with the ball's trail", false)
      .option("--pixel-size <n>", "pixels: frames are average-pooled to n×n gray", intArg(1), 16)
      .option("--budget <steps>", "total environment steps (whole CMA-ES generations within it); latent controllers are charged for the VAE's random rollouts too", intArg(1), 50_000)
      .option("--policy <kind>", "linear|mlp", choiceArg(["linear", "mlp"] as const), "linear")
      .option("--hidden-size <n>", "mlp hidden units", intArg(1), 16)
      .option("--episodes-per-candidate <n>", "episodes per CMA-ES candidate", intArg(1), 2)
      .option("--population <n>", "CMA-ES population size (default 4 + 3 ln n)", intArg(2))
      .option("--sigma <x>", "initial CMA-ES step size", floatArg(0, true), 1)
      .option("--seed <n>", "random seed", intArg(0), 1)
      .option("--eval-episodes <n>", "held-out evaluation episodes at the end", intArg(1), defaultTrainControllerConfig.evalEpisodes)
      .option("--out <file>", "controller file (JSON)", "runs/rl/controller.json"),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    if (o.features === "latent" && !o.vae) throw new VaekitError("latent features need --vae <dir> (train one with `vaekit rl train-vae`)");
    const loaded = o.vae ? loadRlVae(o.vae) : undefined;
    const env = loaded ? catchEnvFrom(loaded.rl.env as unknown as Record<string, unknown>) : new CatchEnv({ trail: o.trail });
    const featureSpec: FeatureSpec = o.features === "latent" ? { kind: "latent", latentDim: loaded!.bundle.config.latentDim } : { kind: "pixels", size: o.pixelSize };
    const { features } = featuresFor(featureSpec, env, loaded?.bundle);
    const rolloutSteps = featureSpec.kind === "latent" ? loaded!.rl.rolloutSteps : 0;
    const controllerBudget = o.budget - rolloutSteps;
    if (controllerBudget <= 0) {
      throw new VaekitError(`--budget ${o.budget} is used up by the VAE's ${rolloutSteps} random rollout steps; give a larger budget`);
    }
    const training: TrainControllerConfig = {
      ...defaultTrainControllerConfig,
      budgetSteps: controllerBudget,
      episodesPerCandidate: o.episodesPerCandidate,
      populationSize: o.population,
      sigma0: o.sigma,
      policy: o.policy,
      hiddenSize: o.hiddenSize,
      seed: o.seed,
      evalEpisodes: o.evalEpisodes,
    };
    // Whole CMA-ES generations only, so the run never exceeds its budget.
    training.budgetSteps = wholeGenerations(controllerBudget, await generationSteps(env, features, training));
    const bar = progressBar("train-policy", o.budget, o.quiet);
    bar.update(rolloutSteps);
    let lastReturn = NaN;
    const t0 = performance.now();
    const result = await trainController(env, features, training, (p) => {
      if (p.meanPolicyReturn !== undefined) lastReturn = p.meanPolicyReturn;
      bar.update(Math.min(o.budget, rolloutSteps + p.envSteps), { gen: p.generation, return: lastReturn });
    });
    const seconds = (performance.now() - t0) / 1000;
    bar.stop();
    const file: ControllerFile = {
      format: "vaekit.rl-controller/1",
      env: { name: "catch", config: { ...env.config } },
      features: featureSpec,
      spec: result.spec,
      params: result.params,
      training: { ...training },
      envSteps: { rollouts: rolloutSteps, controller: result.envSteps, total: rolloutSteps + result.envSteps },
      seconds,
      curve: learningCurve(result, rolloutSteps),
      evaluation: result.evaluation,
    };
    ensureParent(o.out);
    saveController(o.out, file, featureSpec.kind === "latent" ? o.vae : undefined);
    const e = result.evaluation;
    process.stdout.write(
      `${featureSpec.kind} controller: return ${fmt(e.mean)} ± ${fmt(e.std)} (s.e. ${fmt(standardError(e))}) over ${e.returns.length} held-out episodes; ` +
        `${file.envSteps.total} env steps, ${seconds.toFixed(1)} s; saved to ${o.out}\n`,
    );
  });

  withCommon(
    rl
      .command("evaluate")
      .description("mean return ± std of a trained controller over seeded episodes, next to the random policy")
      .requiredOption("--controller <file>", "controller from `vaekit rl train-policy`")
      .option("--vae <dir>", "use this VAE instead of the controller's own")
      .option("--episodes <n>", "evaluation episodes", intArg(1), 24)
      .option("--seed <n>", "seed of the evaluation episodes", intArg(0), defaultTrainControllerConfig.evalSeed)
      .option("--json", "print one JSON object", false),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const { controller, vaePath } = loadController(o.controller);
    const env = catchEnvFrom(controller.env.config);
    const vae = controller.features.kind === "latent" ? loadRlVae(o.vae ?? vaePath!).bundle : undefined;
    const { features } = featuresFor(controller.features, env, vae);
    const bar = progressBar("evaluate", 1, o.quiet);
    const e = await evaluatePolicy(env, createPolicy(controller.spec, controller.params), features, o.episodes, o.seed);
    bar.fraction(1, 1);
    bar.stop();
    const random = evaluateRandomPolicy(env, o.episodes, o.seed);
    const out = {
      features: controller.features,
      mean: e.mean,
      std: e.std,
      standard_error: standardError(e),
      episodes: o.episodes,
      random_mean: random.mean,
      random_std: random.std,
      train_env_steps: controller.envSteps.total,
      returns: e.returns,
    };
    if (o.json) process.stdout.write(JSON.stringify(out) + "\n");
    else {
      process.stdout.write(
        `${controller.features.kind} controller (${controller.envSteps.total} training env steps), ${o.episodes} episodes:\n` +
          `  return ${fmt(e.mean)} ± ${fmt(e.std)} (standard error ${fmt(standardError(e))})\n` +
          `  random policy ${fmt(random.mean)} ± ${fmt(random.std)}\n`,
      );
    }
  });

  withCommon(
    rl
      .command("render")
      .description("GIF of the controller playing one episode, with the VAE's reconstruction beside each frame")
      .requiredOption("--controller <file>", "controller from `vaekit rl train-policy`")
      .option("--vae <dir>", "VAE for the reconstructions (default: the controller's own; needed for pixel controllers)")
      .option("--seed <n>", "episode seed", intArg(0), 7)
      .option("--frames <n>", "at most this many frames", intArg(1), 201)
      .option("--fps <n>", "frames per second", intArg(1), 20)
      .option("--scale <n>", "pixel upscaling", intArg(1), 3)
      .option("--out <file>", "output GIF", "runs/rl/agent.gif"),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const { controller, vaePath } = loadController(o.controller);
    const env = catchEnvFrom(controller.env.config);
    const vaeDir = o.vae ?? vaePath;
    const vae = vaeDir ? loadRlVae(vaeDir).bundle : undefined;
    const { features } = featuresFor(controller.features, env, vae);
    const bar = progressBar("render", 2, o.quiet);
    const { frames, total } = await playEpisode(env, controller.spec, controller.params, features, o.seed, o.frames);
    bar.update(1);
    const right = vae ? await reconstructFrames(featuresFor({ kind: "latent", latentDim: vae.config.latentDim }, env, vae).encoder!, frames) : undefined;
    ensureParent(o.out);
    renderGif(frames, o.out, o.fps, { scale: o.scale, right });
    bar.update(2);
    bar.stop();
    process.stdout.write(
      `${frames.length} frames (return ${fmt(total)})${right ? " with VAE reconstructions on the right" : ""} written to ${o.out}\n`,
    );
  });
}
