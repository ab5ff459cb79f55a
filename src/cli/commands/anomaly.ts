/** Anomaly detection commands: score, calibrate, detect-eval, train-tabular, score-serve. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { writePng } from "../../io/files.js";
import { heatmapImage, imageGrid } from "../../io/png.js";
import { histogramSvg, rocSvg } from "../../io/svg.js";
import { readCalibrations, pickCalibration, optionsForCalibration, withCalibration, type Calibration } from "../../apps/anomaly/calibration.js";
import { makeDetector, type Detector, type DetectorOptions } from "../../apps/anomaly/detector.js";
import { loadScoringData } from "../../apps/anomaly/data.js";
import { loadAnomalyModel, saveAnomalyModel } from "../../apps/anomaly/files.js";
import { detectionMetrics, rocCurve } from "../../apps/anomaly/metrics.js";
import { histogramImage, rocImage } from "../../apps/anomaly/raster.js";
import { RECON_MEASURES, REGRET_SCOPES, SCORE_KINDS, SCORE_DESCRIPTIONS, typicalityBatchScores, type ScoreKind } from "../../apps/anomaly/scoring.js";
import { encodeTable, inferSchema, MISSING_POLICIES, parseCsv } from "../../apps/anomaly/tabular/table.js";
import { trainTabularVae } from "../../apps/anomaly/tabular/train.js";
import type { AnomalyModel } from "../../apps/anomaly/model-file.js";
import { startEngine, withCommon } from "../common.js";
import { choiceArg, floatArg, intArg, sizeArg } from "../options.js";
import { progressBar } from "../progress.js";

const dataHelp = "examples: a dataset spec or IDX file(s) (as for `vaekit eval`), a folder of PNG/JPEG images, or a .csv file (tabular models)";

/** Score options as flags; which of them the user actually typed decides calibration checks. */
function withScoreOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--score <kind>", SCORE_KINDS.map((k) => `${k}: ${SCORE_DESCRIPTIONS[k]}`).join("; ")).argParser(choiceArg(SCORE_KINDS)).default("neg-elbo"))
    .option("--samples <n>", "posterior samples per example for the ELBO (neg-elbo, regret)", intArg(1), 8)
    .option("--iwae-k <k>", "importance samples (iwae-nll, complexity, typicality)", intArg(1), 64)
    .option("--regret-steps <n>", "Adam steps per input for likelihood regret", intArg(1), 30)
    .option("--regret-lr <x>", "Adam learning rate for likelihood regret", floatArg(0, true), 0.03)
    .option("--regret-samples <n>", "posterior samples per regret step", intArg(1), 1)
    .addOption(new Option("--regret-scope <scope>", "what likelihood regret re-optimises per input: posterior (its μ, log σ²) or encoder (a copy of the whole encoder, as Xiao et al.; slower)").argParser(choiceArg(REGRET_SCOPES)).default("posterior"))
    .addOption(new Option("--recon-measure <m>", "recon-error per value: squared (error of the decoder mean) or deviance (the likelihood's; for a Bernoulli over grey levels KL(Bern(x) ‖ Bern(p)))").argParser(choiceArg(RECON_MEASURES)).default("squared"))
    .option("--typicality-batch <m>", "inputs per typicality test (consecutive inputs share their batch's score)", intArg(1), 1)
    .addOption(new Option("--binarize <mode>", "Bernoulli image models: none (grey levels = expectation over binarisations) or static (binarised once)").argParser(choiceArg(["none", "static"] as const)).default("none"))
    .option("--seed <n>", "seed of the Monte-Carlo noise", intArg(0), 0)
    .option("--split <split>", "train|test for dataset specs", choiceArg(["train", "test"] as const), "test")
    .option("--limit <n>", "only the first n examples", intArg(1))
    .addOption(new Option("--missing <policy>", "CSV missing values: error (list them), drop (leave those rows out), impute (mean / no category)").argParser(choiceArg(MISSING_POLICIES)).default("error"));
}

const OPTION_FLAGS: [keyof DetectorOptions, string][] = [
  ["samples", "samples"],
  ["iwaeK", "iwaeK"],
  ["regretSteps", "regretSteps"],
  ["regretLr", "regretLr"],
  ["regretSamples", "regretSamples"],
  ["regretScope", "regretScope"],
  ["reconMeasure", "reconMeasure"],
  ["typicalityBatch", "typicalityBatch"],
  ["binarize", "binarize"],
  ["seed", "seed"],
];

function scoreOptions(cmd: Command, o: Record<string, unknown>): { all: Partial<DetectorOptions>; explicit: Partial<DetectorOptions> } {
  const all: Record<string, unknown> = {};
  const explicit: Record<string, unknown> = {};
  for (const [key, flag] of OPTION_FLAGS) {
    all[key] = o[flag];
    if (cmd.getOptionValueSource(flag) === "cli") explicit[key] = o[flag];
  }
  return { all: all as Partial<DetectorOptions>, explicit: explicit as Partial<DetectorOptions> };
}

/** Score in chunks (a whole number of typicality batches each) with a progress bar. */
async function scoreWithProgress(det: Detector, kind: ScoreKind, x: Float32Array, opts: Partial<DetectorOptions>, ref: { entropy: number } | undefined, label: string, quiet: boolean): Promise<Float64Array> {
  const D = det.inputDim;
  const n = x.length / D;
  const m = kind === "typicality" ? (opts.typicalityBatch ?? 1) : 1;
  const chunk = Math.max(m, Math.floor(512 / m) * m);
  const out = new Float64Array(n);
  const bar = progressBar(label, n, quiet);
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    out.set(await det.score(kind, x.subarray(s * D, e * D), opts, ref), s);
    bar.update(e);
  }
  bar.stop();
  return out;
}

/** The calibration in force (if any) and the options scoring must use with it. */
function resolve(model: AnomalyModel, kind: ScoreKind, fpr: number | undefined, all: Partial<DetectorOptions>, explicit: Partial<DetectorOptions>) {
  const cal = pickCalibration(readCalibrations(model.bundle.extras), kind, fpr);
  return { cal, opts: cal ? { ...all, ...optionsForCalibration(cal, explicit) } : all };
}

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function note(quiet: boolean, s: string) {
  if (!quiet) process.stderr.write(s + "\n");
}

export function registerAnomaly(program: Command): void {
  const score = withScoreOptions(
    withCommon(
      program
        .command("score")
        .description("anomaly score per example (higher = more anomalous) as CSV: id,score,flag")
        .requiredOption("--model <path>", "model directory or .safetensors file (image or tabular VAE)")
        .requiredOption("--data <spec>", dataHelp)
        .option("--fpr <rate>", "use the threshold calibrated for this false-positive rate (see `vaekit calibrate`)", floatArg(0, true))
        .option("--out <file>", "output CSV", "scores.csv")
        .option("--maps <dir>", "write per-pixel reconstruction-error heat maps (PNG) of the first examples here")
        .option("--maps-limit <n>", "how many heat maps", intArg(1), 64),
    ),
  );
  score.action(async (o) => {
    await startEngine(o.device, o.quiet);
    const model = loadAnomalyModel(o.model);
    const { all, explicit } = scoreOptions(score, o);
    const { cal, opts } = resolve(model, o.score, o.fpr, all, explicit);
    const data = loadScoringData(o.data, model, { split: o.split, limit: o.limit, missing: o.missing });
    data.notes.forEach((s) => note(o.quiet, s));
    const det = makeDetector(model);
    const t0 = performance.now();
    const s = await scoreWithProgress(det, o.score, data.x, opts, cal?.reference, `score ${o.score}`, o.quiet);
    const seconds = (performance.now() - t0) / 1000;
    const lines = ["id,score,flag"];
    let flagged = 0;
    for (let i = 0; i < data.n; i++) {
      const flag = cal ? (s[i] > cal.threshold ? 1 : 0) : "";
      if (flag === 1) flagged++;
      lines.push(`${csvField(data.ids[i])},${s[i]},${flag}`);
    }
    writeFileAtomic(o.out, lines.join("\n") + "\n");
    if (o.maps) await writeErrorMaps(det, data.x, data.ids, o.maps, o.mapsLimit, opts);
    note(
      o.quiet,
      `scored ${data.n} examples of ${data.source} with ${o.score} in ${seconds.toFixed(1)} s (${(data.n / seconds).toFixed(0)} examples/s); ` +
        (cal ? `${flagged} flagged above ${cal.threshold.toPrecision(6)} (calibrated FPR ${cal.fpr})` : "no calibrated threshold: flag column left empty (run `vaekit calibrate`)") +
        `; wrote ${o.out}`,
    );
  });

  const calibrate = withScoreOptions(
    withCommon(
      program
        .command("calibrate")
        .description("fit the threshold of a score for a target false-positive rate on held-out normal data; stored in the model file")
        .requiredOption("--model <path>", "model directory or .safetensors file (rewritten atomically)")
        .requiredOption("--data <spec>", "held-out NORMAL examples (not the training data); " + dataHelp)
        .requiredOption("--fpr <rate>", "target false-positive rate, e.g. 0.01", floatArg(0, true)),
    ),
  );
  calibrate.action(async (o) => {
    await startEngine(o.device, o.quiet);
    if (!(o.fpr < 1)) throw new VaekitError(`--fpr must be below 1, got ${o.fpr}`);
    const model = loadAnomalyModel(o.model);
    const { all } = scoreOptions(calibrate, o);
    const data = loadScoringData(o.data, model, { split: o.split, limit: o.limit, missing: o.missing });
    data.notes.forEach((s) => note(o.quiet, s));
    const det = makeDetector(model);
    const bar = progressBar(`calibrate ${o.score}`, 1, o.quiet);
    const cal: Calibration = { ...(await det.calibrate(o.score, data.x, o.fpr, all)), data: o.data, created: new Date().toISOString() };
    bar.stop();
    model.bundle.extras = withCalibration(model.bundle.extras, cal);
    await saveAnomalyModel(o.model, model);
    process.stdout.write(JSON.stringify(cal) + "\n");
  });

  const evalCmd = withScoreOptions(
    withCommon(
      program
        .command("detect-eval")
        .description("AUROC, AUPRC and FPR at 95% TPR of a score on normal vs anomalous data (JSON), plus ROC and histogram plots")
        .requiredOption("--model <path>", "model directory or .safetensors file")
        .requiredOption("--normal <spec>", "normal examples; " + dataHelp)
        .requiredOption("--anomalous <spec>", "anomalous examples; " + dataHelp)
        .option("--fpr <rate>", "use this calibration's options (typicality: its reference NLL)", floatArg(0, true))
        .option("--out <dir>", "where roc.svg, roc.png, histogram.svg, histogram.png and metrics.json go", "anomaly-eval"),
    ),
  );
  evalCmd.action(async (o) => {
    await startEngine(o.device, o.quiet);
    const model = loadAnomalyModel(o.model);
    const { all, explicit } = scoreOptions(evalCmd, o);
    const { cal, opts } = resolve(model, o.score, o.fpr, all, explicit);
    const load = (spec: string) => loadScoringData(spec, model, { split: o.split, limit: o.limit, missing: o.missing });
    const normal = load(o.normal);
    const anomalous = load(o.anomalous);
    const det = makeDetector(model);
    const t0 = performance.now();
    let sn = await scoreWithProgress(det, o.score, normal.x, opts, cal?.reference, "normal", o.quiet);
    let sa = await scoreWithProgress(det, o.score, anomalous.x, opts, cal?.reference, "anomalous", o.quiet);
    const seconds = (performance.now() - t0) / 1000;
    const m = o.score === "typicality" ? (opts.typicalityBatch ?? 1) : 1;
    if (m > 1) {
      // one score per batch of m: the typicality test decides per batch
      sn = typicalityBatchScores(sn, 0, m);
      sa = typicalityBatchScores(sa, 0, m);
      if (sn.length === 0 || sa.length === 0) throw new VaekitError(`typicality batches of ${m} need at least ${m} examples in each set`);
    }
    const metrics = {
      score: o.score as ScoreKind,
      ...detectionMetrics(sn, sa),
      unit: m > 1 ? `batches of ${m}` : "examples",
      normal: normal.source,
      anomalous: anomalous.source,
      examples_per_s: (normal.n + anomalous.n) / seconds,
      options: opts,
    };
    const roc = rocCurve(sn, sa);
    const title = `${o.score}: ${normal.source} vs ${anomalous.source}`;
    writeFileAtomic(join(o.out, "roc.svg"), rocSvg({ curves: [{ name: o.score, fpr: roc.fpr, tpr: roc.tpr, auc: metrics.auroc }], title }));
    writePng(join(o.out, "roc.png"), rocImage([roc]));
    const groups = [
      { name: `normal (${normal.source})`, values: sn },
      { name: `anomalous (${anomalous.source})`, values: sa },
    ];
    writeFileAtomic(join(o.out, "histogram.svg"), histogramSvg({ groups, title: `${o.score} scores`, xLabel: SCORE_DESCRIPTIONS[o.score as ScoreKind] }));
    writePng(join(o.out, "histogram.png"), histogramImage([sn, sa]));
    writeFileAtomic(join(o.out, "metrics.json"), JSON.stringify(metrics, null, 2) + "\n");
    process.stdout.write(JSON.stringify(metrics) + "\n");
    note(o.quiet, `wrote roc.svg, roc.png, histogram.svg, histogram.png, metrics.json to ${o.out}`);
  });

  withCommon(
    program
      .command("train-tabular")
      .description("train a VAE on a CSV table (numeric columns: Gaussian, others: categorical); standardisation and categories are stored in the model")
      .requiredOption("--data <file.csv>", "CSV file with a header row")
      .option("--out <dir>", "output directory (model.safetensors, config.json)", "runs/tabular")
      .option("--categorical <cols>", "comma-separated columns to treat as categorical even if numeric")
      .option("--ignore <cols>", "comma-separated columns to leave out")
      .option("--id <col>", "column that identifies rows (kept out of the model, used as id when scoring)")
      .addOption(new Option("--missing <policy>", "missing values: error (list them), drop (leave rows out), impute").argParser(choiceArg(MISSING_POLICIES)).default("error"))
      .option("--latent <n>", "latent dimensions", intArg(1), 4)
      .option("--hidden <sizes>", "hidden layer sizes", "64,64")
      .option("--epochs <n>", "epochs", intArg(1), 200)
      .option("--batch-size <n>", "batch size", intArg(1), 64)
      .option("--lr <x>", "Adam learning rate", floatArg(0, true), 2e-3)
      .option("--validation <size>", "validation rows (count or fraction)", sizeArg, 0.1)
      .option("--seed <n>", "random seed", intArg(0), 0),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const list = (v?: string) => (v ? v.split(",").map((s: string) => s.trim()).filter(Boolean) : undefined);
    const hidden = String(o.hidden).split(",").map(Number);
    if (hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new VaekitError(`--hidden expects sizes like 64,64, got "${o.hidden}"`);
    let text: string;
    try {
      text = readFileSync(o.data, "utf8");
    } catch (e) {
      throw new VaekitError(`${o.data}: cannot read (${(e as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (e as Error).message})`);
    }
    const table = parseCsv(text, o.data);
    const schema = inferSchema(table, { categorical: list(o.categorical), ignore: list(o.ignore), idColumn: o.id });
    const enc = encodeTable(table, schema, o.missing);
    if (enc.dropped.length) note(o.quiet, `${enc.dropped.length} row(s) with missing values left out (--missing drop)`);
    const config = { format: "vaekit.tabular-vae/1" as const, schema, latentDim: o.latent, hidden };
    const bar = progressBar("train-tabular", o.epochs, o.quiet);
    const { params, history } = await trainTabularVae(config, enc.x, { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, validation: o.validation }, (m) =>
      bar.update(m.epoch, { loss: m.train_loss, val: m.val_neg_elbo }),
    );
    bar.stop();
    const last = history[history.length - 1];
    await saveAnomalyModel(o.out, {
      type: "tabular",
      bundle: { config, params, extras: { training: { data: o.data, rows: enc.n, epochs: o.epochs, final: last } } },
    });
    writeFileAtomic(join(o.out, "metrics.jsonl"), history.map((h) => JSON.stringify(h)).join("\n") + "\n");
    const cols = schema.columns.map((c) => `${c.name}:${c.type === "numeric" ? "num" : `cat(${c.categories.length})`}`).join(", ");
    process.stdout.write(JSON.stringify(last) + "\n");
    note(o.quiet, `trained on ${enc.n} rows [${cols}]; model in ${o.out}/model.safetensors`);
  });

  withCommon(
    program
      .command("score-serve")
      .description("HTTP scoring service: POST /score (JSON examples or one PNG) → scores and flags; GET /score describes the input")
      .requiredOption("--model <path>", "model directory or .safetensors file")
      .option("--host <host>", "address to listen on", "127.0.0.1")
      .option("--port <n>", "port", intArg(0), 8090)
      .addOption(new Option("--score <kind>", "default score kind").argParser(choiceArg(SCORE_KINDS)))
      .option("--fpr <rate>", "calibrated false-positive rate whose threshold sets the flags", floatArg(0, true))
      .option("--max-batch <n>", "most examples per request", intArg(1), 256)
      .option("--body-limit <bytes>", "largest request body", intArg(1), 8 * 1024 * 1024),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const { startScoreServer } = await import("../../apps/anomaly/server.js");
    const { url } = await startScoreServer(loadAnomalyModel(o.model), { host: o.host, port: o.port, score: o.score, fpr: o.fpr, maxBatch: o.maxBatch, bodyLimit: o.bodyLimit });
    note(o.quiet, `scoring service on ${url}/score (Ctrl-C to stop)`);
    await new Promise(() => {}); // serve until killed
  });
}

/** Heat maps of the per-pixel squared reconstruction error, one PNG per example, plus a grid of all. */
async function writeErrorMaps(det: Detector, x: Float32Array, ids: string[], dir: string, limit: number, opts: Partial<DetectorOptions>): Promise<void> {
  if (!det.imageShape) throw new VaekitError("--maps needs an image model (tabular models have no pixels)");
  const [h, w, c] = det.imageShape;
  const D = h * w * c;
  const n = Math.min(limit, x.length / D);
  const maps = await det.errorMaps(x.slice(0, n * D), opts);
  // one colour scale for all maps, so brightness compares across examples
  const perPixel = new Float32Array(n * h * w);
  for (let i = 0; i < n * h * w; i++) for (let k = 0; k < c; k++) perPixel[i] += maps[i * c + k];
  const max = perPixel.reduce((a, b) => Math.max(a, b), 0);
  const images = [];
  for (let i = 0; i < n; i++) {
    const img = heatmapImage(perPixel.subarray(i * h * w, (i + 1) * h * w), h, w, { min: 0, max });
    images.push(img);
    writePng(join(dir, `${ids[i].replace(/[^A-Za-z0-9._-]/g, "_")}.png`), img);
  }
  writePng(join(dir, "grid.png"), imageGrid(images, { scale: 2 }));
}
