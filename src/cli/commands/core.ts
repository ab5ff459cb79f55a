/** The core commands: train, eval, sample, reconstruct. */
import { Command } from "commander";
import { activeDevice } from "../../engine/index.js";
import { loadDataset } from "../../data/load.js";
import { loadModel } from "../../models/files.js";
import { makeInference } from "../../models/inference.js";
import { buildVae } from "../../models/vae.js";
import { evaluateWithEngine } from "../../train/evaluate.js";
import { TrainConfig } from "../../train/config.js";
import { runTraining } from "../../train/run.js";
import { checkShape, dataHelp, deviceFor, loadEvalData, startEngine, withCommon, writeGrid } from "../common.js";
import { choiceArg, ENGINE_CHOICES, ENGINE_HELP, floatArg, intArg, sizeArg } from "../options.js";
import { progressBar } from "../progress.js";
import { addModelOptions, modelConfigFrom } from "../model-options.js";
import { UsageError } from "../../errors.js";

export function registerCore(program: Command): void {
  const train = withCommon(
    addModelOptions(
      program
        .command("train")
        .description("train a VAE; writes model.safetensors, config.json, checkpoint.safetensors and metrics.jsonl to --out")
        .option("--data <spec>", dataHelp, "mnist")
        .option("--binarize <mode>", "none|dynamic|static (default: dynamic for bernoulli, else none)", choiceArg(["none", "dynamic", "static"] as const)),
    )
      .option("--epochs <n>", "epochs", intArg(1), 10)
      .option("--batch-size <n>", "batch size", intArg(1), 128)
      .option("--lr <x>", "Adam learning rate", floatArg(0, true), 1e-3)
      .option("--clip-norm <x>", "clip the global gradient norm (0 = off)", floatArg(0), 0)
      .option("--seed <n>", "random seed", intArg(0), 0)
      .option("--engine <engine>", `what runs the training step: ${ENGINE_HELP}`, choiceArg(ENGINE_CHOICES), "jax")
      .option("--workers <n>", "jax: data-parallel worker threads (wasm); onnx: ONNX Runtime threads", intArg(1), 1)
      .option("--micro-batch <n>", "jax, one thread: compute each batch's gradient in chunks of n rows (the same step in less memory)", intArg(1))
      .option("--validation <size>", "validation examples held out of the training split (count or fraction)", sizeArg, 0.1)
      .option("--out <dir>", "output directory", "runs/train")
      .option("--resume", "continue the run in --out from its last checkpoint", false),
  );
  train.action(async (o) => {
    await startEngine(deviceFor(o), o.quiet);
    const data = loadDataset(o.data, "train");
    const config = modelConfigFrom(o, (name) => train.getOptionValueSource(name) === "cli", data.shape as [number, number, number]);
    const binarize = o.binarize ?? (config.likelihood.type === "bernoulli" ? "dynamic" : "none");
    const tc = TrainConfig.parse({
      epochs: o.epochs,
      batchSize: o.batchSize,
      lr: o.lr,
      seed: o.seed,
      binarize,
      clipNorm: o.clipNorm,
      engine: o.engine,
      workers: o.workers,
      microBatch: o.microBatch ?? 0,
    });
    const nVal = o.validation < 1 ? Math.round(data.n * o.validation) : o.validation;
    const batches = Math.floor((data.n - nVal) / tc.batchSize);
    // the bar starts once the engine is up, so the engine line is printed above it
    let bar = progressBar("train", 1, true);
    const state = await runTraining({
      config,
      train: tc,
      data,
      validation: o.validation,
      outDir: o.out,
      resume: o.resume,
      dataSpec: o.data,
      hooks: {
        onStart: (info) => {
          if (!o.quiet) process.stderr.write(`engine: ${info.summary}\n`);
          bar = progressBar("train", tc.epochs * batches, o.quiet);
        },
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
      .option("--engine <engine>", `what computes the IWAE estimate: ${ENGINE_HELP}`, choiceArg(ENGINE_CHOICES), "jax")
      .option("--workers <n>", "onnx: ONNX Runtime threads for the IWAE estimate", intArg(1), 1)
      .option("--json", "print one JSON object", false),
  ).action(async (o) => {
    if (o.workers > 1 && o.engine !== "onnx") throw new UsageError("--workers applies to --engine onnx (the IWAE estimate on ONNX Runtime threads)");
    await startEngine(deviceFor(o), o.quiet);
    const bundle = loadModel(o.model);
    const mode = o.binarize ?? (bundle.config.likelihood.type === "bernoulli" ? "static" : "none");
    const ds = loadEvalData(o.data, o.split, mode, o.seed, o.limit);
    checkShape(ds, bundle);
    const k = o.iwaeK;
    if (!o.quiet) {
      const where = o.engine === "onnx" && k > 0 ? `IWAE on ONNX Runtime CPU, ${o.workers} thread${o.workers > 1 ? "s" : ""}; ELBO on ${activeDevice()}` : `on ${activeDevice()}`;
      process.stderr.write(`engine: ${o.engine} (${where})\n`);
    }
    const bar = progressBar("eval", 1, o.quiet);
    const t0 = performance.now();
    const r = await evaluateWithEngine(buildVae(bundle.config), bundle.params, ds.x, {
      engine: o.engine,
      threads: o.workers,
      iwaeK: k,
      seed: o.seed,
      onProgress: (d, t) => bar.fraction(d, t),
    });
    bar.stop();
    const seconds = (performance.now() - t0) / 1000;
    const out = {
      neg_elbo: r.neg_elbo,
      recon: r.recon,
      kl: r.kl,
      iwae_nll: r.iwae_nll ?? null,
      iwae_k: k,
      neg_elbo_bpd: r.neg_elbo_bpd,
      iwae_bpd: r.iwae_bpd ?? null,
      n: r.n,
      data: ds.name,
      binarize: mode,
      engine: o.engine,
      seconds,
    };
    if (o.json) process.stdout.write(JSON.stringify(out) + "\n");
    else {
      const f = (v: number | null | undefined) => (v == null ? "-" : v.toFixed(2));
      const bpd = (v: number | null | undefined) => (v == null ? "-" : v.toFixed(4));
      process.stdout.write(
        `${ds.name} (${r.n} examples, ${mode} binarisation), nats per example:\n` +
          `  negative ELBO ${f(r.neg_elbo)} = reconstruction ${f(r.recon)} + KL ${f(r.kl)}  (${bpd(r.neg_elbo_bpd)} bits/dim)\n` +
          (k > 0 ? `  IWAE (k=${k}) negative log-likelihood ${f(r.iwae_nll)}  (${bpd(r.iwae_bpd)} bits/dim)\n` : ""),
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
    const { x } = await inf.sample(o.count, o.seed, o.temperature);
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
    writeGrid(o.out, reconstructionPairs(ds.x, await makeInference(bundle).reconstruct(ds.x), ds.x.length / ds.n), ds.shape, Math.min(ds.n, 8));
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
