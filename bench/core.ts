/**
 * `npm run bench`: the reference MLP VAE (z=20) on Fashion-MNIST, trained and evaluated by vaekit
 * and — when a Python with torch is available — by the PyTorch reference in the same run, on
 * byte-identical data: the same training examples (vaekit's seeded train/validation split) and
 * the same test set, binarised once with a fixed seed. Prints and writes (results/core-bench.md,
 * results/core-bench.json) throughput, losses, the vaekit/PyTorch throughput ratios and the
 * differences in nats, plus a cross-check where each framework evaluates the other's weights.
 *
 * The vaekit half is what the CLI does: `vaekit train --data fashion-mnist --out DIR` and
 * `vaekit eval --model DIR --data fashion-mnist --json` reproduce its numbers.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { initEngine } from "../src/engine/index.js";
import { VaekitError } from "../src/errors.js";
import { binarize, type Dataset } from "../src/data/datasets.js";
import { loadDataset } from "../src/data/load.js";
import { referenceConfig, type VaeConfig } from "../src/models/config.js";
import { loadModel, saveModel } from "../src/models/files.js";
import { buildVae, type VaeParams } from "../src/models/vae.js";
import { makeEvaluator, type EvalResult } from "../src/train/evaluate.js";
import { TrainConfig } from "../src/train/config.js";
import { prepareData } from "../src/train/run.js";
import { initTrainState, trainVae, type EpochMetrics } from "../src/train/trainer.js";
import { intArg, floatArg, sizeArg } from "../src/cli/options.js";
import { progressBar } from "../src/cli/progress.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { defaultPython, probeTorch, runTorchReference, writeRawF32 } from "./torch.js";

/** Seeds of the fixed test binarisation and of evaluation sampling: those of `vaekit eval` (--seed 0). */
const TEST_BINARIZE_SEED = 0;
const EVAL_SEED = 0;

interface Options {
  data: string;
  epochs: number;
  batchSize: number;
  lr: number;
  latent: number;
  seed: number;
  validation: number;
  iwaeK: number;
  iwaeLimit?: number;
  crossK: number;
  torch: boolean;
  python: string;
  out: string;
  quiet: boolean;
}

/** One framework's side of the table. */
interface SideResult {
  train_examples: number;
  steps: number;
  train_seconds: number;
  train_samples_per_s: number;
  ms_per_step: number;
  eval_seconds: number;
  eval_samples_per_s: number;
  /** CPU seconds of the process (user + system): less sensitive than wall time to other jobs. */
  train_cpu_seconds: number;
  eval_cpu_seconds: number;
  neg_elbo: number;
  recon: number;
  kl: number;
  iwae_nll: number;
  iwae_k: number;
  n: number;
  history: { epoch: number; train_loss: number; seconds: number }[];
}

interface CrossCheck {
  k: number;
  /** Weights trained by `trained_by`, evaluated by each framework on the same test set. */
  rows: { trained_by: string; evaluated_by: string; neg_elbo: number; kl: number; iwae_nll: number }[];
}

function parseOptions(argv: string[]): Options {
  const program = new Command("bench-core")
    .description("vaekit vs PyTorch: the reference MLP VAE on Fashion-MNIST (throughput and test likelihoods)")
    .option("--data <spec>", "dataset (a vaekit --data spec)", "fashion-mnist")
    .option("--epochs <n>", "training epochs", intArg(1), 10)
    .option("--batch-size <n>", "batch size", intArg(1), 128)
    .option("--lr <x>", "Adam learning rate", floatArg(0, true), 1e-3)
    .option("--latent <n>", "latent dimensions", intArg(1), 20)
    .option("--seed <n>", "training seed (split, init, shuffling)", intArg(0), 0)
    .option("--validation <size>", "held out of the training split as vaekit does (count or fraction); PyTorch trains on the same rest", sizeArg, 0.1)
    .option("--iwae-k <k>", "importance samples for the test NLL", intArg(1), 1000)
    .option("--iwae-limit <n>", "evaluate only the first n test examples (default: all)", intArg(1))
    .option("--cross-k <k>", "importance samples of the cross-framework evaluation check (0 = skip it)", intArg(0), 10)
    .option("--no-torch", "skip the PyTorch side")
    .option("--python <path>", "Python with torch and numpy", defaultPython())
    .option("--out <dir>", "directory for core-bench.md and core-bench.json", "results")
    .option("--quiet", "no progress output", false)
    .showHelpAfterError(false)
    .configureOutput({ outputError: (s, write) => write(s.split("\n")[0] + "\n") })
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));
  program.parse(argv);
  return program.opts<Options>();
}

function machineInfo() {
  const cpu = cpus();
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { dependencies: Record<string, string> };
  return {
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    node: process.version,
    jax_js: pkg.dependencies["@jax-js/jax"],
    engine_device: "wasm",
    loadavg_start: loadavg().map((v) => +v.toFixed(2)),
  };
}

function firstExamples(ds: Dataset, n: number): Dataset {
  if (n >= ds.n) return ds;
  const size = ds.x.length / ds.n;
  return { ...ds, n, x: ds.x.slice(0, n * size), labels: ds.labels?.slice(0, n) };
}

async function trainWithVaekit(o: Options, config: VaeConfig, tc: TrainConfig, data: { train: Float32Array; validation: Float32Array }) {
  const D = config.inputShape[0] * config.inputShape[1] * config.inputShape[2];
  const batches = Math.floor(data.train.length / D / tc.batchSize);
  const bar = progressBar("vaekit train", tc.epochs * batches, o.quiet);
  let state = initTrainState(buildVae(config), tc.seed);
  // CPU time of the step loops only: from the start (or the end of the previous epoch's
  // validation) to each epoch's last step; the per-epoch validation is left out
  let cpuMark = cpuSeconds();
  let loopCpu = 0;
  state = await trainVae(config, tc, data, state, {
    onStep: ({ epoch, batch, loss }) => {
      if (batch === batches) loopCpu += cpuSeconds() - cpuMark;
      bar.update((epoch - 1) * batches + batch, { epoch, loss });
    },
    onEpoch: (_s, m: EpochMetrics) => {
      cpuMark = cpuSeconds();
      if (!o.quiet) {
        process.stderr.write(
          `\n  [vaekit] epoch ${m.epoch}/${tc.epochs}: train neg-ELBO ${m.train_loss.toFixed(2)}, validation ${m.val_neg_elbo.toFixed(2)} (${m.seconds.toFixed(1)}s)\n`,
        );
      }
    },
  });
  bar.stop();
  return { state, loopCpu };
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function evaluateWithVaekit(label: string, o: Options, config: VaeConfig, params: VaeParams, x: Float32Array, k: number) {
  const bar = progressBar(label, 1, o.quiet);
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const r: EvalResult = await makeEvaluator(buildVae(config))(params, x, { iwaeK: k, seed: EVAL_SEED, onProgress: (d, t) => bar.fraction(d, t) });
  bar.stop();
  return { result: r, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - c0 };
}

const num = (v: unknown): number => (typeof v === "number" ? v : NaN);

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  await initEngine("wasm");
  const machine = machineInfo();
  const log = (s: string) => o.quiet || process.stderr.write(s + "\n");
  const torch = o.torch ? probeTorch(o.python) : ({ ok: false, python: o.python, reason: "--no-torch given" } as const);
  if (!torch.ok) log(`PyTorch side skipped: ${torch.reason}`);

  // ---- data: identical bytes for both frameworks ----
  const tc = TrainConfig.parse({ epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, binarize: "dynamic" });
  const full = loadDataset(o.data, "train");
  const data = prepareData(full, o.validation, tc);
  const test = binarize(firstExamples(loadDataset(o.data, "test"), o.iwaeLimit ?? Infinity), "static", TEST_BINARIZE_SEED);
  const config: VaeConfig = { ...referenceConfig(o.latent), inputShape: full.shape };
  const D = test.x.length / test.n;
  const trainN = data.train.length / D;
  log(`data: ${o.data}, ${trainN} training examples (${full.n - trainN} held out for validation), ${test.n} test examples binarised with seed ${TEST_BINARIZE_SEED}`);

  const tmp = mkdtempSync(join(tmpdir(), "vaekit-bench-"));
  try {
    const trainFile = join(tmp, "train.f32");
    const testFile = join(tmp, "test.f32");
    writeRawF32(trainFile, data.train);
    writeRawF32(testFile, test.x);

    // ---- vaekit ----
    const { state, loopCpu } = await trainWithVaekit(o, config, tc, data);
    const trainSeconds = state.history.reduce((s, h) => s + h.seconds, 0);
    const samples = state.step * tc.batchSize;
    const own = await evaluateWithVaekit(`vaekit eval (IWAE k=${o.iwaeK})`, o, config, state.params, test.x, o.iwaeK);
    const vaekit: SideResult = {
      train_examples: trainN,
      steps: state.step,
      train_seconds: trainSeconds,
      train_samples_per_s: samples / trainSeconds,
      ms_per_step: (1000 * trainSeconds) / state.step,
      eval_seconds: own.seconds,
      eval_samples_per_s: (test.n * o.iwaeK) / own.seconds,
      train_cpu_seconds: loopCpu,
      eval_cpu_seconds: own.cpuSeconds,
      neg_elbo: own.result.neg_elbo,
      recon: own.result.recon,
      kl: own.result.kl,
      iwae_nll: own.result.iwae_nll!,
      iwae_k: o.iwaeK,
      n: test.n,
      history: state.history.map((h) => ({ epoch: h.epoch, train_loss: h.train_loss, seconds: h.seconds })),
    };
    const vaekitDir = join(tmp, "vaekit-model");
    await saveModel(vaekitDir, { config, params: state.params, extras: {} });

    // ---- PyTorch ----
    let pytorch: SideResult | null = null;
    let cross: CrossCheck | null = null;
    let torchVersion: string | null = null;
    if (torch.ok) {
      torchVersion = torch.torchVersion;
      const weights = join(tmp, "torch.safetensors");
      const common = ["--latent", String(o.latent), "--seed", String(o.seed), "--threads", "1"];
      log(`PyTorch ${torch.torchVersion} (${torch.blas}, 1 thread): training ${o.epochs} epochs, then IWAE k=${o.iwaeK} on ${test.n} examples`);
      const r = await runTorchReference(
        torch.python,
        ["train", "--train", trainFile, "--test", testFile, ...common, "--epochs", String(o.epochs), "--batch-size", String(o.batchSize),
          "--lr", String(o.lr), "--iwae-k", String(o.iwaeK), "--save-weights", weights],
        { quiet: o.quiet },
      );
      pytorch = {
        train_examples: num(r.train_examples),
        steps: num(r.steps),
        train_seconds: num(r.train_seconds),
        train_samples_per_s: num(r.train_samples_per_s),
        ms_per_step: num(r.ms_per_step),
        eval_seconds: num(r.eval_seconds),
        eval_samples_per_s: num(r.eval_samples_per_s),
        train_cpu_seconds: num(r.train_cpu_seconds),
        eval_cpu_seconds: num(r.eval_cpu_seconds),
        neg_elbo: num(r.neg_elbo),
        recon: num(r.recon),
        kl: num(r.kl),
        iwae_nll: num(r.iwae_nll),
        iwae_k: num(r.iwae_k),
        n: num(r.n),
        history: (r.history as SideResult["history"]) ?? [],
      };
      if (pytorch.train_examples !== trainN || pytorch.n !== test.n) {
        throw new VaekitError(`PyTorch saw ${pytorch.train_examples} training / ${pytorch.n} test examples, vaekit ${trainN} / ${test.n}`);
      }

      // ---- cross-check: each framework evaluates both sets of weights (same k, same test set) ----
      if (o.crossK > 0) {
        const k = o.crossK;
        const torchBundle = loadModel(weights, config);
        const rows: CrossCheck["rows"] = [];
        const vk = async (by: string, params: VaeParams) => {
          const { result } = await evaluateWithVaekit(`vaekit eval of ${by} weights (k=${k})`, o, config, params, test.x, k);
          rows.push({ trained_by: by, evaluated_by: "vaekit", neg_elbo: result.neg_elbo, kl: result.kl, iwae_nll: result.iwae_nll! });
        };
        const pt = async (by: string, file: string) => {
          const e = await runTorchReference(torch.python, ["eval", "--weights", file, "--test", testFile, ...common, "--iwae-k", String(k)], { quiet: true });
          rows.push({ trained_by: by, evaluated_by: "pytorch", neg_elbo: num(e.neg_elbo), kl: num(e.kl), iwae_nll: num(e.iwae_nll) });
        };
        log(`cross-check: both frameworks evaluate both models with k=${k}`);
        await vk("vaekit", state.params);
        await pt("vaekit", join(vaekitDir, "model.safetensors"));
        await vk("pytorch", torchBundle.params);
        await pt("pytorch", weights);
        cross = { k, rows };
      }
    }

    const report = {
      benchmark: "vaekit core: reference MLP VAE vs PyTorch",
      date: new Date().toISOString(),
      setup: {
        data: o.data,
        binarize: "dynamic (training), static seed " + TEST_BINARIZE_SEED + " (test)",
        model: `MLP ${D}-${config.encoder.hidden.join("-")}-${o.latent} / ${o.latent}-${config.decoder.hidden.join("-")}-${D}, Bernoulli`,
        epochs: o.epochs,
        batch_size: o.batchSize,
        lr: o.lr,
        seed: o.seed,
        validation_held_out: full.n - trainN,
        train_examples: trainN,
        test_examples: test.n,
        iwae_k: o.iwaeK,
      },
      machine: { ...machine, torch: torchVersion, torch_blas: torch.ok ? torch.blas : null, torch_threads: torch.ok ? 1 : null, loadavg_end: loadavg().map((v) => +v.toFixed(2)) },
      vaekit,
      pytorch,
      pytorch_skipped: torch.ok ? null : torch.reason,
      comparison: pytorch ? compare(vaekit, pytorch) : null,
      cross_check: cross,
    };
    const markdown = toMarkdown(report);
    process.stdout.write(markdown);
    writeFileAtomic(join(o.out, "core-bench.md"), markdown);
    writeFileAtomic(join(o.out, "core-bench.json"), JSON.stringify(report, null, 2) + "\n");
    log(`wrote ${join(o.out, "core-bench.md")} and ${join(o.out, "core-bench.json")}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Samples per CPU-second: training examples stepped, and importance samples (n·k) evaluated. */
const trainPerCpu = (s: SideResult) => (s.train_samples_per_s * s.train_seconds) / s.train_cpu_seconds;
const evalPerCpu = (s: SideResult) => (s.n * s.iwae_k) / s.eval_cpu_seconds;

function compare(v: SideResult, p: SideResult) {
  const diff = {
    neg_elbo: v.neg_elbo - p.neg_elbo,
    recon: v.recon - p.recon,
    kl: v.kl - p.kl,
    iwae_nll: v.iwae_nll - p.iwae_nll,
  };
  return {
    train_samples_per_s_ratio: v.train_samples_per_s / p.train_samples_per_s,
    ms_per_step_ratio: v.ms_per_step / p.ms_per_step,
    eval_samples_per_s_ratio: v.eval_samples_per_s / p.eval_samples_per_s,
    // per CPU-second: the same ratios with other jobs' share of the CPU factored out
    train_samples_per_cpu_s_ratio: trainPerCpu(v) / trainPerCpu(p),
    eval_samples_per_cpu_s_ratio: evalPerCpu(v) / evalPerCpu(p),
    diff_nats: diff,
    within_1_nat: Math.abs(diff.neg_elbo) <= 1 && Math.abs(diff.iwae_nll) <= 1,
  };
}

type Report = {
  date: string;
  setup: Record<string, unknown> & { iwae_k: number };
  machine: Record<string, unknown>;
  vaekit: SideResult;
  pytorch: SideResult | null;
  pytorch_skipped: string | null;
  comparison: ReturnType<typeof compare> | null;
  cross_check: CrossCheck | null;
};

function toMarkdown(r: Report): string {
  const { vaekit: v, pytorch: p, comparison: c, setup: s, machine: m } = r;
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "–");
  const g = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–");
  const signed = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(2);
  const lines: string[] = [];
  lines.push(`# vaekit core benchmark`, "");
  lines.push(
    `${s.model}; ${s.data}, ${s.binarize}; ${s.epochs} epochs, batch ${s.batch_size}, Adam ${s.lr}, seed ${s.seed}; ` +
      `${s.train_examples} training examples (${s.validation_held_out} held out for vaekit's validation${p ? `; PyTorch trains on the same ${s.train_examples}` : ""}), ` +
      `${s.test_examples} test examples. Losses are nats per test example.`,
    "",
  );
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}, @jax-js/jax ${m.jax_js} (wasm)` +
      (r.pytorch ? `; PyTorch ${m.torch} (${m.torch_blas}, ${m.torch_threads} thread)` : "") +
      `; load average ${(m.loadavg_start as number[]).join("/")} at start, ${(m.loadavg_end as number[]).join("/")} at end. ${r.date}`,
    "",
  );
  const head = p ? "| | vaekit | PyTorch | vaekit / PyTorch |" : "| | vaekit |";
  lines.push(head, p ? "| --- | ---: | ---: | ---: |" : "| --- | ---: |");
  const row = (label: string, a: string, b?: string | null, rel?: string | null) => lines.push(p ? `| ${label} | ${a} | ${b} | ${rel} |` : `| ${label} | ${a} |`);
  const ratio = (x: number | undefined) => (x === undefined ? "" : `${x.toFixed(2)}×`);
  row("training samples/s", g(v.train_samples_per_s), p && g(p.train_samples_per_s), ratio(c?.train_samples_per_s_ratio));
  row("ms per step (batch " + s.batch_size + ")", f(v.ms_per_step, 1), p && f(p.ms_per_step, 1), ratio(c?.ms_per_step_ratio));
  row(`IWAE-eval importance samples/s (n·k / s)`, g(v.eval_samples_per_s), p && g(p.eval_samples_per_s), ratio(c?.eval_samples_per_s_ratio));
  row("training samples per CPU-second", g(trainPerCpu(v)), p && g(trainPerCpu(p)), ratio(c?.train_samples_per_cpu_s_ratio));
  row("IWAE-eval importance samples per CPU-second", g(evalPerCpu(v)), p && g(evalPerCpu(p)), ratio(c?.eval_samples_per_cpu_s_ratio));
  row("training time, wall / CPU (s)", `${f(v.train_seconds, 1)} / ${f(v.train_cpu_seconds, 1)}`, p && `${f(p.train_seconds, 1)} / ${f(p.train_cpu_seconds, 1)}`, "");
  row("evaluation time, wall / CPU (s)", `${f(v.eval_seconds, 1)} / ${f(v.eval_cpu_seconds, 1)}`, p && `${f(p.eval_seconds, 1)} / ${f(p.eval_cpu_seconds, 1)}`, "");
  if (p) lines.push("| | | | **difference (nats)** |");
  row("test neg-ELBO", f(v.neg_elbo), p && f(p.neg_elbo), c && signed(c.diff_nats.neg_elbo));
  row("&nbsp;&nbsp;reconstruction", f(v.recon), p && f(p.recon), c && signed(c.diff_nats.recon));
  row("&nbsp;&nbsp;KL", f(v.kl), p && f(p.kl), c && signed(c.diff_nats.kl));
  row(`test IWAE-${s.iwae_k} NLL`, f(v.iwae_nll), p && f(p.iwae_nll), c && signed(c.diff_nats.iwae_nll));
  lines.push("");
  if (!p) lines.push(`PyTorch side skipped: ${r.pytorch_skipped}.`, "");
  if (c) {
    lines.push(
      `Target (issue 2): neg-ELBO and IWAE NLL each within 1.0 nat of PyTorch — **${c.within_1_nat ? "met" : "not met"}**. ` +
        `Throughput ratios > 1 mean vaekit is faster (for ms/step, < 1 means faster).`,
      "",
    );
  }
  if (p && v.history.length) {
    lines.push("Training loss per epoch (mean neg-ELBO of the dynamically binarised training batches):", "");
    lines.push("| epoch | vaekit | PyTorch |", "| ---: | ---: | ---: |");
    for (let i = 0; i < v.history.length; i++) lines.push(`| ${i + 1} | ${f(v.history[i].train_loss)} | ${f(p.history[i]?.train_loss ?? NaN)} |`);
    lines.push("");
  }
  if (r.cross_check) {
    lines.push(
      `Cross-check: the trained weights of each framework evaluated by both (k=${r.cross_check.k}, same test set; ` +
        `differences within a row pair are Monte-Carlo noise if the two evaluations agree):`,
      "",
      "| weights trained by | evaluated by | neg-ELBO | KL | IWAE NLL |",
      "| --- | --- | ---: | ---: | ---: |",
    );
    for (const x of r.cross_check.rows) lines.push(`| ${x.trained_by} | ${x.evaluated_by} | ${f(x.neg_elbo)} | ${f(x.kl, 4)} | ${f(x.iwae_nll)} |`);
    lines.push("");
  }
  lines.push(
    "Definitions: training samples/s = examples processed by optimiser steps / time in the step loop (vaekit drops the ragged last batch of each epoch, PyTorch keeps it); " +
      "ms per step = that time / steps; IWAE-eval samples/s = test examples × k / time of the whole test evaluation (neg-ELBO pass included). " +
      "Both compute on one thread on a shared machine, so wall-clock throughput depends on what else runs; the per-CPU-second rows divide by the process's CPU time (user + system) instead, " +
      "which factors other jobs out (not their effect on caches).",
    "",
  );
  return lines.join("\n");
}

main().catch((e: unknown) => {
  if (e instanceof VaekitError) {
    process.stderr.write(`bench: ${e.message}\n`);
    process.exit(1);
  }
  throw e;
});
