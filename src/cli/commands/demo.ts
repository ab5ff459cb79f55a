/** `vaekit demo`: the whole path on the embedded MNIST digits in a few minutes. */
import { join } from "node:path";
import { Command } from "commander";
import { loadDataset } from "../../data/load.js";
import { binarize } from "../../data/datasets.js";
import { referenceConfig } from "../../models/config.js";
import { makeInference } from "../../models/inference.js";
import { buildVae } from "../../models/vae.js";
import { makeEvaluator } from "../../train/evaluate.js";
import { TrainConfig } from "../../train/config.js";
import { runTraining } from "../../train/run.js";
import { Report } from "../../io/report.js";
import { startEngine, withCommon, writeGrid } from "../common.js";
import { intArg } from "../options.js";
import { progressBar } from "../progress.js";
import { reconstructionPairs } from "./core.js";

export function registerDemo(program: Command): void {
  withCommon(
    program
      .command("demo")
      .description("train the reference VAE on the embedded MNIST digits; write samples, reconstructions, an HTML report and the model")
      .option("--out <dir>", "output directory", "runs/demo")
      .option("--epochs <n>", "epochs", intArg(1), 30)
      .option("--iwae-k <k>", "importance samples for the test NLL", intArg(1), 200)
      .option("--seed <n>", "random seed", intArg(0), 0),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const train = loadDataset("mnist", "train");
    const test = binarize(loadDataset("mnist", "test"), "static", o.seed);
    const config = referenceConfig(20);
    const tc = TrainConfig.parse({ epochs: o.epochs, seed: o.seed, binarize: "dynamic" });
    const batches = Math.floor((train.n - 800) / tc.batchSize);
    const bar = progressBar("train", tc.epochs * batches, o.quiet);
    const t0 = performance.now();
    const state = await runTraining({
      config, train: tc, data: train, validation: 800, outDir: o.out, dataSpec: "mnist",
      hooks: { onStep: ({ epoch, batch, loss }) => bar.update((epoch - 1) * batches + batch, { epoch, loss }) },
    });
    bar.stop();
    const trainSeconds = (performance.now() - t0) / 1000;
    const evalBar = progressBar("eval", 1, o.quiet);
    const r = await makeEvaluator(buildVae(config))(state.params, test.x, { iwaeK: o.iwaeK, seed: o.seed, onProgress: (d, t) => evalBar.fraction(d, t) });
    evalBar.stop();

    const inf = makeInference({ config, params: state.params, extras: {} });
    const shape = config.inputShape;
    writeGrid(join(o.out, "samples.png"), (await inf.sample(64, o.seed)).x, shape, 8);
    const orig = test.x.slice(0, 32 * 784);
    writeGrid(join(o.out, "reconstructions.png"), reconstructionPairs(orig, await inf.reconstruct(orig), 784), shape, 8);

    const h = state.history;
    const report = new Report("vaekit demo: the reference VAE on the embedded MNIST digits")
      .paragraph(`MLP 784→400→200→20 with a mirrored decoder and Bernoulli likelihood, Adam 1e-3, batch 128, ${tc.epochs} epochs, dynamic binarisation; ${train.n - 800} training and 800 validation digits; test: ${test.n} digits binarised once with seed ${o.seed}. Training took ${trainSeconds.toFixed(1)} s.`)
      .heading("Test set, nats per example")
      .table([{ "negative ELBO": r.neg_elbo.toFixed(2), reconstruction: r.recon.toFixed(2), KL: r.kl.toFixed(2), [`IWAE NLL (k=${o.iwaeK})`]: r.iwae_nll!.toFixed(2), examples: r.n }])
      .svgLinePlot({
        title: "Loss per example (nats)",
        xLabel: "epoch",
        yLabel: "nats",
        series: [
          { name: "train loss", x: h.map((m) => m.epoch), y: h.map((m) => m.train_loss) },
          { name: "validation negative ELBO", x: h.map((m) => m.epoch), y: h.map((m) => m.val_neg_elbo) },
        ],
      })
      .svgLinePlot({ title: "KL term (nats)", xLabel: "epoch", yLabel: "nats", series: [{ name: "validation KL", x: h.map((m) => m.epoch), y: h.map((m) => m.val_kl) }] })
      .heading("Samples from the prior")
      .image("samples.png", "64 decoded samples z ~ N(0, I)")
      .heading("Reconstructions")
      .image("reconstructions.png", "test digits (odd rows) and their reconstructions through μ(x) (even rows)");
    report.write(join(o.out, "report.html"));
    process.stdout.write(JSON.stringify({ neg_elbo: r.neg_elbo, recon: r.recon, kl: r.kl, iwae_nll: r.iwae_nll, iwae_k: o.iwaeK, n: r.n, train_seconds: trainSeconds }) + "\n");
    process.stderr.write(`wrote ${o.out}/report.html, samples.png, reconstructions.png, model.safetensors\n`);
  });
}
