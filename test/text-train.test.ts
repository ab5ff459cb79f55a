/** Sentence VAE end to end: a short training run on a real corpus, inference, and the CLI. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, random } from "../src/engine/index.js";
import { readCorpus } from "../src/apps/text/files.js";
import { prepareTextData, textModelConfig, trainTextModel } from "../src/apps/text/experiment.js";
import { evaluateText } from "../src/apps/text/evaluate.js";
import { initTextVae } from "../src/apps/text/model.js";
import { makeTextInference } from "../src/apps/text/inference.js";
import { loadTextModel, saveTextModel } from "../src/apps/text/files.js";

await initEngine("wasm");
const tmp = () => mkdtempSync(join(tmpdir(), "vaekit-text-"));

test("a short run on the wamerican word list lowers the validation bound and keeps KL > 0 with the remedies on", async (t) => {
  const { lines } = readCorpus("debian:words");
  const data = prepareTextData(lines, { tokenizer: { kind: "char" }, maxTokens: 10, overLength: "drop", validation: 300, seed: 1 });
  assert.ok(data.report.dropped > 0 && data.report.kept + data.report.dropped === lines.length, "length limit reported");
  const config = textModelConfig(data, 10, { latentDim: 8, hiddenDim: 64, encoderHiddenDim: 32, embedDim: 16 });
  const betas = new Map<number, number>();
  const before = await evaluateText(initTextVae(config, random.key(2)), config, data.validation.sequences);
  const bundle = await trainTextModel(data, config, {
    steps: 160,
    batchSize: 32,
    lr: 3e-3,
    clipNorm: 5,
    seed: 2,
    klAnneal: { kind: "linear", warmupSteps: 80, start: 0 },
    wordDropout: 0.3,
    freeBits: 0.25,
    freeBitsScope: "dimension",
    evalEvery: 160,
  }, { onStep: ({ step, beta }) => void betas.set(step, beta) });
  // the KL weight the steps used: linear from 0 over 80 steps, then 1
  assert.equal(betas.get(1), 0);
  assert.equal(betas.get(41), 0.5);
  assert.equal(betas.get(81), 1);
  assert.equal(betas.get(160), 1);
  const after = (bundle.extras.history as { validation: typeof before }[]).at(-1)!.validation;
  t.diagnostic(`validation per token ${before.nll_per_token.toFixed(3)} → ${after.nll_per_token.toFixed(3)} nats; KL ${after.kl.toFixed(2)} nats/sentence; active units ${after.active_units}/8`);
  // untrained ≈ log 30 ≈ 3.4 nats per character; a character model of English words does far better
  assert.ok(before.nll_per_token > 3.2, `untrained ${before.nll_per_token}`);
  assert.ok(after.nll_per_token < 2.9, `validation −ELBO per token ${after.nll_per_token}`);
  assert.ok(after.kl > 0.3, `KL per sentence ${after.kl}`);
  assert.ok(after.active_units >= 1, `active units ${after.active_units}`);

  // the trained model in use, through a saved file
  const dir = tmp();
  await saveTextModel(dir, bundle);
  const inf = makeTextInference(loadTextModel(dir));
  const { texts, z } = await inf.sample(5, { seed: 3 });
  assert.equal(texts.length, 5);
  assert.equal(z.length, 5 * 8);
  assert.ok(texts.every((t) => t.length <= 10 && /^[a-z<>unk]*$/.test(t)), texts.join(","));
  assert.deepEqual((await inf.sample(5, { seed: 3 })).texts, texts, "seeded sampling is reproducible");
  const path = await inf.interpolate("house", "garden", 4);
  assert.deepEqual(path.map((p) => p.t), [0, 1 / 3, 2 / 3, 1]);
  // the ends decode the posterior means, exactly what reconstruct gives
  assert.equal(path[0].text, await inf.reconstruct("house"));
  assert.equal(path[3].text, await inf.reconstruct("garden"));
  const post = await inf.encode(["house", "abcdefghijklmnop"]);
  assert.equal(post.truncated, 1);
  assert.equal(post.mu.length, 16);
});

const cli = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, "../src/cli/main.js"), ...args], { encoding: "utf8" });

test("CLI: text train / sample / interpolate / reconstruct / eval on a fortune file, and one-line errors", () => {
  const dir = tmp();
  const corpus = join(dir, "fortunes.txt");
  const lines = readCorpus("debian:fortunes").lines.filter((l) => l.length <= 40);
  writeFileSync(corpus, lines.join("\n") + "\n\n");
  const out = join(dir, "model");
  const common = ["--quiet", "--seed", "1"];
  const train = cli(["text", "train", "--corpus", corpus, "--tokenizer", "word", "--lowercase", "--max-tokens", "8", "--steps", "6", "--batch-size", "16",
    "--hidden", "16", "--embed", "8", "--latent", "4", "--validation", "40", "--eval-every", "6", "--out", out, ...common]);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stderr, /longer than 8 tokens \(\d+ dropped\), 1 empty skipped/);
  const final = JSON.parse(train.stdout.trim().split("\n").at(-1)!);
  assert.ok(final.perplexity_bound > 1);
  assert.ok(final.sentences > 0 && final.sentences <= 40);
  assert.ok(existsSync(join(out, "model.safetensors")) && existsSync(join(out, "tokenizer.json")) && existsSync(join(out, "metrics.jsonl")));
  assert.equal(JSON.parse(readFileSync(join(out, "tokenizer.json"), "utf8")).kind, "word");

  const sample = cli(["text", "sample", "--model", out, "-n", "3", "--greedy", ...common]);
  assert.equal(sample.status, 0, sample.stderr);
  assert.equal(sample.stdout.trimEnd().split("\n").length, 3);

  const interp = cli(["text", "interpolate", "--model", out, "you will be happy", "beware of the dog", "--steps", "3", ...common]);
  assert.equal(interp.status, 0, interp.stderr);
  assert.deepEqual(interp.stdout.trimEnd().split("\n").map((l) => l.split("\t")[0]), ["0.00", "0.50", "1.00"]);

  const recon = cli(["text", "reconstruct", "--model", out, "you will be happy", ...common]);
  assert.equal(recon.status, 0, recon.stderr);
  assert.match(recon.stdout, /^you will be happy\t→\t/);

  const ev = cli(["text", "eval", "--model", out, "--iwae-k", "4", "--json", ...common]);
  assert.equal(ev.status, 0, ev.stderr);
  const m = JSON.parse(ev.stdout);
  assert.equal(m.iwae_k, 4);
  assert.ok(Math.abs(m.nll_per_token - final.nll_per_token) < 0.5);

  const missing = cli(["text", "sample", "--model", join(dir, "nope")]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^vaekit: text model not found: .*nope/);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
  const badFlag = cli(["text", "sample", "--model", out, "--temperature", "hot"]);
  assert.equal(badFlag.status, 2);
  const lm = cli(["text", "train", "--corpus", join(dir, "absent.txt"), "--quiet"]);
  assert.equal(lm.status, 1);
  assert.match(lm.stderr, /corpus not found: .*absent.txt/);
});
