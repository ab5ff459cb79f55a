/**
 * Tabular anomaly detection on a real table: the Palmer penguins (344 birds, 3 species, numeric
 * measurements, categorical island/sex, genuine missing values) as shipped by the npm package
 * vega-datasets (devDependency). The VAE learns Adelie + Chinstrap; Gentoo are the anomalies.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { initEngine, nn, np, type Array } from "../src/engine/index.js";
import { Categorical, CategoricalBlocks } from "../src/distributions/categorical.js";
import { encodeTable, inferSchema, parseCsv, type Table } from "../src/apps/anomaly/tabular/table.js";
import { trainTabularVae } from "../src/apps/anomaly/tabular/train.js";
import { buildTabularVae, type TabularVaeConfig } from "../src/apps/anomaly/tabular/model.js";
import { decodeAnomalyModel, encodeAnomalyModel, type AnomalyModel } from "../src/apps/anomaly/model-file.js";
import { makeDetector } from "../src/apps/anomaly/detector.js";
import { loadAnomalyModel } from "../src/apps/anomaly/files.js";
import { auroc } from "../src/apps/anomaly/metrics.js";
import type { ScoreKind } from "../src/apps/anomaly/scoring.js";

await initEngine("wasm");
const host = (a: Array) => [...(a.dataSync() as Float32Array)];
const tmp = () => mkdtempSync(join(tmpdir(), "vaekit-tabular-"));

type Penguin = Record<string, string | number | null>;
// the package exports only its JS entry (build/index.js); the data files sit beside it in data/
const penguinsPath = join(dirname(createRequire(import.meta.url).resolve("vega-datasets")), "..", "data", "penguins.json");
const penguins = JSON.parse(readFileSync(penguinsPath, "utf8")) as Penguin[];
const columns = Object.keys(penguins[0]);
const cell = (v: string | number | null) => (v === null ? "NA" : /[",]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
const toCsv = (rows: Penguin[]) => [columns.map(cell).join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n") + "\n";

test("categorical log-probabilities equal log-softmax by hand, per block", () => {
  const logits = [1.5, -0.3, 0.2, 2.0, -1.0];
  const lse = (xs: number[]) => Math.log(xs.reduce((s, v) => s + Math.exp(v), 0));
  const c = new Categorical(np.array([logits.slice(0, 3)]));
  assert.ok(Math.abs(host(c.logProb(np.array([[0, 1, 0]])))[0] - (-0.3 - lse(logits.slice(0, 3)))) < 1e-5);
  const blocks = new CategoricalBlocks(np.array([logits]), [3, 2]);
  const per = host(blocks.logProbPerVariable(np.array([[0, 0, 1, 1, 0]])));
  assert.ok(Math.abs(per[0] - (0.2 - lse(logits.slice(0, 3)))) < 1e-5);
  assert.ok(Math.abs(per[1] - (2.0 - lse(logits.slice(3)))) < 1e-5);
  const mean = host(blocks.mean());
  assert.ok(Math.abs(mean[0] + mean[1] + mean[2] - 1) < 1e-6 && Math.abs(mean[3] + mean[4] - 1) < 1e-6);
  assert.ok(Math.abs(mean[3] - host(nn.sigmoid(np.array(3.0)))[0]) < 1e-6);
});

test("penguins CSV: numeric and categorical columns inferred, standardised, and every missing value reported", () => {
  const table = parseCsv(toCsv(penguins), "penguins.csv");
  assert.equal(table.rows.length, 344);
  const schema = inferSchema(table, { ignore: ["Species"] });
  const types = Object.fromEntries(schema.columns.map((c) => [c.name, c.type === "numeric" ? "num" : c.categories.join("|")]));
  assert.deepEqual(types, {
    Island: "Biscoe|Dream|Torgersen",
    "Beak Length (mm)": "num",
    "Beak Depth (mm)": "num",
    "Flipper Length (mm)": "num",
    "Body Mass (g)": "num",
    Sex: "FEMALE|MALE", // "." and empty count as missing, not as categories
  });
  // 2 birds lack all four measurements, 11 lack a sex ("NA" or ".")
  assert.throws(() => encodeTable(table, schema, "error"), (e: Error) => {
    assert.match(e.message, /penguins\.csv: 19 missing value\(s\)/);
    assert.match(e.message, /"Sex" 11/);
    assert.match(e.message, /row 4 column "Beak Length \(mm\)"/);
    assert.match(e.message, /--missing drop/);
    return true;
  });
  const dropped = encodeTable(table, schema, "drop");
  assert.equal(dropped.n, 333);
  assert.equal(dropped.dropped.length, 11);
  assert.equal(dropped.dropped[0], 4);
  // standardised columns of the rows the schema was fitted on: mean ≈ 0, sd ≈ 1 (missing cells excluded)
  const imputed = encodeTable(table, schema, "impute");
  assert.equal(imputed.n, 344);
  assert.equal(imputed.imputed, 19);
  const D = imputed.x.length / imputed.n;
  const massCol = 3; // numeric columns come first, in table order
  let s = 0, s2 = 0;
  for (let i = 0; i < imputed.n; i++) {
    s += imputed.x[i * D + massCol];
    s2 += imputed.x[i * D + massCol] ** 2;
  }
  assert.ok(Math.abs(s / imputed.n) < 1e-5);
  assert.ok(Math.abs(s2 / 342 - 1) < 1e-3); // 342 present values, imputed ones sit at 0
});

test("malformed CSVs and unseen categories give clear errors", () => {
  assert.throws(() => parseCsv("a,b\n1,2\n3\n", "x.csv"), /x\.csv: malformed CSV: .*line 3/);
  assert.throws(() => parseCsv("", "e.csv"), /e\.csv: empty CSV/);
  assert.throws(() => parseCsv("a,a\n1,2\n", "d.csv"), /names column "a" twice/);
  assert.throws(() => parseCsv("a,b\n", "h.csv"), /header but no data rows/);
  assert.throws(() => parseCsv('a,b\n"1,2\n', "q.csv"), /q\.csv: malformed CSV/);
  const train: Table = parseCsv("n,c\n1,x\n2,y\n", "t.csv");
  const schema = inferSchema(train);
  assert.throws(() => encodeTable(parseCsv("n,c\n1,z\n", "s.csv"), schema), /row 1 column "c": category "z" was not seen in training/);
  assert.throws(() => encodeTable(parseCsv("n,c\nabc,x\n", "s.csv"), schema), /row 1 column "n": "abc" is not a number/);
  assert.throws(() => encodeTable(parseCsv("c\nx\n", "s.csv"), schema), /model column "n": s\.csv has no such column/);
  assert.throws(() => inferSchema(train, { ignore: ["nope"] }), /no such column/);
});

// Adelie + Chinstrap are normal; 30 of them are held out of training; Gentoo are anomalous
const complete = penguins.filter((p) => columns.every((c) => p[c] !== null && p[c] !== "."));
const normalRows = complete.filter((p) => p.Species !== "Gentoo");
const heldOut = normalRows.filter((_, i) => i % 7 === 3).slice(0, 30);
const trainRows = normalRows.filter((p) => !heldOut.includes(p));
const gentoo = complete.filter((p) => p.Species === "Gentoo");

test("a tabular VAE trained on Adelie and Chinstrap flags Gentoo (real data: AUROC > 0.95 for the likelihood scores)", async () => {
  const trainTable = parseCsv(toCsv(trainRows), "train.csv");
  const schema = inferSchema(trainTable, { ignore: ["Species"] });
  const config: TabularVaeConfig = { format: "vaekit.tabular-vae/1", schema, latentDim: 2, hidden: [32] };
  const { params, history } = await trainTabularVae(config, encodeTable(trainTable, schema).x, { epochs: 120, batchSize: 32, lr: 3e-3, seed: 0, validation: 0.1 });
  assert.ok(history[history.length - 1].train_loss < history[0].train_loss);
  const model: AnomalyModel = { type: "tabular", bundle: { config, params, extras: { note: "penguins" } } };
  const det = makeDetector(model, 64);
  const normal = encodeTable(parseCsv(toCsv(heldOut), "normal.csv"), schema).x;
  const anomalous = encodeTable(parseCsv(toCsv(gentoo), "gentoo.csv"), schema).x;
  const opts = { samples: 8, iwaeK: 32, regretSteps: 10, regretLr: 0.05 };
  for (const kind of ["neg-elbo", "iwae-nll", "recon-error", "regret"] as ScoreKind[]) {
    const auc = auroc(await det.score(kind, normal, opts), await det.score(kind, anomalous, opts));
    // likelihood regret only measures how far the encoder is from optimal: weaker on this easy task
    assert.ok(auc > (kind === "regret" ? 0.7 : 0.95), `${kind}: AUROC ${auc}`);
  }
  await assert.rejects(det.score("complexity", normal), /needs images/);

  // the file keeps the schema and scores the same after a round trip
  const back = decodeAnomalyModel(await encodeAnomalyModel(model), "penguins.safetensors");
  assert.equal(back.type, "tabular");
  assert.deepEqual(back.bundle.extras, { note: "penguins" });
  if (back.type === "tabular") assert.deepEqual(back.bundle.config, JSON.parse(JSON.stringify(config)));
  const before = await det.score("neg-elbo", normal);
  const after = await makeDetector(back, 64).score("neg-elbo", normal);
  before.forEach((v, i) => assert.ok(Math.abs(v - after[i]) < 1e-4 * Math.max(1, Math.abs(v))));
  // per-column log-likelihoods sum to the total
  const vae = buildTabularVae(config);
  assert.deepEqual(vae.columnOrder, ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)", "Island", "Sex"]);
});

test("CLI: train-tabular on a CSV with missing values, then score with a threshold and a missing-value policy", () => {
  const dir = tmp();
  const csv = join(dir, "penguins.csv");
  writeFileSync(csv, toCsv(penguins.filter((p) => p.Species !== "Gentoo")));
  const cli = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, "../src/cli/main.js"), ...args], { encoding: "utf8" });
  let r = cli(["train-tabular", "--data", csv, "--out", join(dir, "m"), "--ignore", "Species", "--epochs", "5", "--quiet"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /missing value\(s\).*--missing drop/);
  r = cli(["train-tabular", "--data", csv, "--out", join(dir, "m"), "--ignore", "Species", "--missing", "drop", "--epochs", "40", "--latent", "2", "--hidden", "16", "--quiet"]);
  assert.equal(r.status, 0, r.stderr);
  const model = loadAnomalyModel(join(dir, "m"));
  assert.equal(model.type, "tabular");
  r = cli(["calibrate", "--model", join(dir, "m"), "--data", csv, "--missing", "drop", "--score", "recon-error", "--fpr", "0.1", "--quiet"]);
  assert.equal(r.status, 0, r.stderr);
  const all = join(dir, "all.csv");
  writeFileSync(all, toCsv(penguins));
  r = cli(["score", "--model", join(dir, "m"), "--data", all, "--score", "recon-error", "--fpr", "0.1", "--missing", "drop", "--out", join(dir, "s.csv")]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /11 row\(s\) with missing values left out/);
  const rows = readFileSync(join(dir, "s.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
  assert.equal(rows.length, 333);
  // ids are the CSV's data row numbers; Gentoo (rows 153+) are flagged far more often than the rest
  const flagRate = (pred: (row: number) => boolean) => {
    const sel = rows.filter(([id]) => pred(Number(id)));
    return sel.filter(([, , f]) => f === "1").length / sel.length;
  };
  const isGentoo = (row: number) => penguins[row - 1].Species === "Gentoo";
  assert.ok(flagRate(isGentoo) > 0.8, `Gentoo flagged ${flagRate(isGentoo)}`);
  assert.ok(flagRate((row) => !isGentoo(row)) < 0.2);
});
