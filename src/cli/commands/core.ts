/** The core commands: train, eval, sample, reconstruct. */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { VaekitError } from "../../errors.js";
import { loadDataset } from "../../data/load.js";
import { parseVaeConfig, referenceConfig, type VaeConfig } from "../../models/config.js";
import { loadModel } from "../../models/files.js";
import { makeInference } from "../../models/inference.js";
import { buildVae } from "../../models/vae.js";
import { makeEvaluator } from "../../train/evaluate.js";
import { TrainConfig } from "../../train/config.js";
import { runTraining } from "../../train/run.js";
import { checkShape, dataHelp, loadEvalData, startEngine, withCommon, writeGrid } from "../common.js";
import { choiceArg, floatArg, intArg, sizeArg } from "../options.js";
import { progressBar } from "../progress.js";

function parseHidden(v: string): number[] {
  const xs = v.split(",").map(Number);
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new VaekitError(`--hidden expects sizes like 400,200, got "${v}"`);
  return xs;
}

/** The model config from --config (JSON file) or from the flags, flags overriding the file. */
function modelConfigFrom(o: Record<string, unknown>, inputShape: [number, number, number]): VaeConfig {
  let base: VaeConfig = referenceConfig(o.latent as number);
  if (o.config) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(o.config as string, "utf8"));
    } catch (e) {
      throw new VaekitError(`--config ${o.config}: ${(e as Error).message.split("\n")[0]}`);
    }
    base = parseVaeConfig(json, o.config as string);
  }
  const hidden = o.hidden ? parseHidden(o.hidden as string) : base.encoder.hidden;
  const cfg: VaeConfig = {
    ...base,
    inputShape,
    latentDim: o.config && o.latentGiven === false ? base.latentDim : (o.latent as number),
    encoder: { type: "mlp", hidden },
    decoder: { type: "mlp", hidden: o.hidden ? [...hidden].reverse() : base.decoder.hidden },
    beta: o.beta as number,
  };
  if (o.likelihood === "gaussian") cfg.likelihood = { type: "gaussian", variance: "network", sigma: 1 };
  else if (o.likelihood === "bernoulli") cfg.likelihood = { type: "bernoulli" };
  return parseVaeConfig(cfg);
}

export function registerCore(program: Command): void {
  withCommon(
    program
      .command("train")
      .description("train a VAE; writes model.safetensors, config.json, checkpoint.safetensors and metrics.jsonl to --out")
      .option("--data <spec>", dataHelp, "mnist")
      .option("--config <file>", "model config JSON (flags below override it)")
      .option("--binarize <mode>", "none|dynamic|static", choiceArg(["none", "dynamic", "static"] as const), "dynamic")
      .option("--latent <n>", "latent dimensions", intArg(1), 20)
      .option("--hidden <sizes>", "encoder hidden sizes, decoder mirrored (default 400,200)")
      .option("--likelihood <kind>", "bernoulli|gaussian (gaussian: decoder outputs mean and variance)", choiceArg(["bernoulli", "gaussian"] as const))
      .option("--epochs <n>", "epochs", intArg(1), 10)
      .option("--batch-size <n>", "batch size", intArg(1), 128)
      .option("--lr <x>", "Adam learning rate", floatArg(0, true), 1e-3)
      .option("--beta <x>", "weight of the KL term", floatArg(0), 1)
      .option("--clip-norm <x>", "clip the global gradient norm (0 = off)", floatArg(0), 0)
      .option("--seed <n>", "random seed", intArg(0), 0)
      .option("--validation <size>", "validation examples held out of the training split (count or fraction)", sizeArg, 0.1)
      .option("--out <dir>", "output directory", "runs/train")
      .option("--resume", "continue the run in --out from its last checkpoint", false),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const data = loadDataset(o.data, "train");
    const latentGiven = program.commands.find((c) => c.name() === "train")!.getOptionValueSource("latent") === "cli";
    const config = modelConfigFrom({ ...o, latentGiven }, data.shape as [number, number, number]);
    const tc = TrainConfig.parse({ epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, binarize: o.binarize, clipNorm: o.clipNorm });
    const nVal = o.validation < 1 ? Math.round(data.n * o.validation) : o.validation;
    const batches = Math.floor((data.n - nVal) / tc.batchSize);
    let bar = progressBar("train", tc.epochs * batches, o.quiet);
    const state = await runTraining({
      config,
      train: tc,
      data,
      validation: o.validation,
      outDir: o.out,
      resume: o.resume,
      dataSpec: o.data,
      hooks: {
        onStep: ({ epoch, batch, loss }) => bar.update((epoch - 1) * batches + batch, { epoch, loss }),
        onEpoch: (_s, m) => {
          bar.stop();
          process.stdout.write(JSON.stringify(m) + "\n");
          if (m.epoch < tc.epochs) {
            bar = progressBar("train", tc.epochs * batches, o.quiet);
            bar.update(m.epoch * batches);
          }
        },
      },
    });
    bar.stop();
    process.stderr.write(`trained ${state.epoch} epochs; model in ${o.out}/model.safetensors\n`);
  });

  withCommon(
    program
      .command("eval")
      .description("negative ELBO (recon + KL) and IWAE negative log-likelihood per example, in nats")
      .requiredOption("--model <path>", "model directory or .safetensors file")
      .option("--data <spec>", dataHelp, "mnist")
      .option("--split <split>", "train|test", choiceArg(["train", "test"] as const), "test")
      .option("--binarize <mode>", "static (binarised once with --seed) or none", choiceArg(["static", "none"] as const))
      .option("--iwae-k <k>", "importance samples for the IWAE estimate (0 = skip)", intArg(0), 1000)
      .option("--limit <n>", "only the first n examples", intArg(1))
      .option("--seed <n>", "seed for test binarisation and sampling", intArg(0), 0)
      .option("--json", "print one JSON object", false),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const bundle = loadModel(o.model);
    const mode = o.binarize ?? (bundle.config.likelihood.type === "bernoulli" ? "static" : "none");
    const ds = loadEvalData(o.data, o.split, mode, o.seed, o.limit);
    checkShape(ds, bundle);
    const k = o.iwaeK;
    const bar = progressBar("eval", 1, o.quiet);
    const t0 = performance.now();
    const r = makeEvaluator(buildVae(bundle.config))(bundle.params, ds.x, {
      iwaeK: k,
      seed: o.seed,
      onProgress: (d, t) => bar.fraction(d, t),
    });
    bar.stop();
    const seconds = (performance.now() - t0) / 1000;
    const out = { neg_elbo: r.neg_elbo, recon: r.recon, kl: r.kl, iwae_nll: r.iwae_nll ?? null, iwae_k: k, n: r.n, data: ds.name, binarize: mode, seconds };
    if (o.json) process.stdout.write(JSON.stringify(out) + "\n");
    else {
      const f = (v: number | null | undefined) => (v == null ? "-" : v.toFixed(2));
      process.stdout.write(
        `${ds.name} (${r.n} examples, ${mode} binarisation), nats per example:\n` +
          `  negative ELBO ${f(r.neg_elbo)} = reconstruction ${f(r.recon)} + KL ${f(r.kl)}\n` +
          (k > 0 ? `  IWAE (k=${k}) negative log-likelihood ${f(r.iwae_nll)}\n` : ""),
      );
    }
  });

  withCommon(
    program
      .command("sample")
      .description("decode samples from the prior into a PNG grid")
      .requiredOption("--model <path>", "model directory or .safetensors file")
      .option("-n, --count <n>", "number of samples", intArg(1), 64)
      .option("--temperature <t>", "scale of the prior's standard deviation", floatArg(0), 1)
      .option("--seed <n>", "random seed", intArg(0), 0)
      .option("--out <file>", "output PNG", "samples.png"),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const inf = makeInference(loadModel(o.model));
    const { x } = inf.sample(o.count, o.seed, o.temperature);
    writeGrid(o.out, x, inf.config.inputShape, Math.ceil(Math.sqrt(o.count)));
    process.stderr.write(`wrote ${o.out}\n`);
  });

  withCommon(
    program
      .command("reconstruct")
      .description("originals (odd rows) above their reconstructions (even rows), as a PNG grid")
      .requiredOption("--model <path>", "model directory or .safetensors file")
      .option("--data <spec>", dataHelp, "mnist")
      .option("--split <split>", "train|test", choiceArg(["train", "test"] as const), "test")
      .option("-n, --count <n>", "number of examples", intArg(1), 16)
      .option("--out <file>", "output PNG", "reconstructions.png"),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const bundle = loadModel(o.model);
    const ds = loadEvalData(o.data, o.split, "none", 0, o.count);
    checkShape(ds, bundle);
    writeGrid(o.out, reconstructionPairs(ds.x, makeInference(bundle).reconstruct(ds.x), ds.x.length / ds.n), ds.shape, Math.min(ds.n, 8));
    process.stderr.write(`wrote ${o.out}\n`);
  });
}

/** Rows of `cols` originals, each followed by a row of their reconstructions (short rows padded blank). */
export function reconstructionPairs(x: Float32Array, r: Float32Array, D: number, cols = 8): Float32Array {
  const n = x.length / D;
  const rows = Math.ceil(n / cols);
  const out = new Float32Array(2 * rows * cols * D).fill(1);
  for (let s = 0, row = 0; s < n; s += cols, row += 2) {
    const m = Math.min(cols, n - s);
    out.set(x.subarray(s * D, (s + m) * D), row * cols * D);
    out.set(r.subarray(s * D, (s + m) * D), (row + 1) * cols * D);
  }
  return out;
}
