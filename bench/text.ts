/**
 * `npm run bench:text`: the sentence VAE (Bowman et al. 2016) against the same decoder trained
 * without a latent (a plain language model), on the same data: lower-case words of the Debian
 * `wamerican` list modelled character by character, one seeded train/validation split.
 *
 * Reported per model on the validation split: −ELBO per token (an upper bound on the NLL per
 * token; exact for the baseline), KL per sentence, the perplexity bound exp(NLL/token), an IWAE
 * bound, active units. Writes results/text.md and results/text.json.
 *
 * The same runs from the CLI: `vaekit text train --corpus debian:words --max-tokens 12 …`
 * (flags printed in the results file) and `vaekit text eval --model DIR`.
 */
import { cpus, loadavg } from "node:os";
import { Command } from "commander";
import { initEngine } from "../src/engine/index.js";
import { describeReport } from "../src/apps/text/corpus.js";
import { evaluateText, type TextMetrics } from "../src/apps/text/evaluate.js";
import { prepareTextData, textModelConfig, trainTextModel, type TextData } from "../src/apps/text/experiment.js";
import { readCorpus, saveTextModel } from "../src/apps/text/files.js";
import { makeTextInference } from "../src/apps/text/inference.js";
import type { TextModelBundle } from "../src/apps/text/io.js";
import { parameterCount } from "../src/apps/text/model.js";
import type { TextTrainConfig } from "../src/apps/text/train.js";
import { choiceArg, floatArg, intArg } from "../src/cli/options.js";
import { progressBar } from "../src/cli/progress.js";
import { writeFileAtomic } from "../src/io/atomic.js";

interface Options {
  corpus: string;
  maxTokens: number;
  validation: number;
  steps: number;
  batchSize: number;
  lr: number;
  hidden: number;
  encoderHidden: number;
  embed: number;
  latent: number;
  warmup: number;
  wordDropout: number;
  freeBits: number;
  freeBitsScope: "total" | "dimension";
  iwaeK: number;
  iwaeLimit: number;
  seed: number;
  plain: boolean;
  dropoutRow: number;
  saveDir?: string;
  out: string;
  quiet: boolean;
}

interface Row {
  name: string;
  slug: string;
  flags: string;
  latent: number;
  parameters: number;
  train_seconds: number;
  ms_per_step: number;
  metrics: TextMetrics;
  history: unknown;
}

async function trainOne(name: string, slug: string, data: TextData, o: Options, latent: number, remedies: Partial<TextTrainConfig>, flags: string): Promise<{ row: Row; bundle: TextModelBundle }> {
  const config = textModelConfig(data, o.maxTokens, { latentDim: latent, hiddenDim: o.hidden, encoderHiddenDim: o.encoderHidden, embedDim: o.embed });
  const tc: TextTrainConfig = {
    steps: o.steps,
    batchSize: o.batchSize,
    lr: o.lr,
    clipNorm: 5,
    seed: o.seed,
    klAnneal: { kind: "none", warmupSteps: 0, start: 0 },
    wordDropout: 0,
    freeBits: 0,
    freeBitsScope: "total",
    evalEvery: Math.max(1, Math.ceil(o.steps / 4)),
    ...remedies,
  };
  const bar = progressBar(name, tc.steps, o.quiet);
  const t0 = performance.now();
  const bundle = await trainTextModel(data, config, tc, {
    onStep: ({ step, loss, kl }) => bar.update(step, { loss, kl }),
    onEval: (e) => {
      if (!o.quiet) process.stderr.write(`\n${name} step ${e.step}: val ${e.validation.nll_per_token.toFixed(4)} nats/token, KL ${e.validation.kl.toFixed(2)}\n`);
    },
  });
  bar.stop();
  const trainSeconds = (performance.now() - t0) / 1000;
  const evalBar = progressBar(`${name} eval`, 1, o.quiet);
  const metrics = await evaluateText(bundle.params, config, data.validation.sequences, {
    seed: o.seed,
    iwaeK: latent > 0 ? o.iwaeK : 0,
    iwaeLimit: o.iwaeLimit,
    onProgress: (d, t) => evalBar.fraction(d, t),
  });
  evalBar.stop();
  if (o.saveDir) await saveTextModel(`${o.saveDir}/${slug}`, bundle);
  return {
    row: { name, slug, flags, latent, parameters: parameterCount(bundle.params), train_seconds: trainSeconds, ms_per_step: (1000 * trainSeconds) / tc.steps, metrics, history: bundle.extras.history },
    bundle,
  };
}

function table(rows: Row[], baseline: Row): string {
  const f = (v: number | undefined, d: number) => (v === undefined ? "–" : v.toFixed(d));
  const lines = [
    "| model | NLL bound (nats/token) | KL (nats/sentence) | perplexity bound | vs baseline | IWAE perplexity bound | active units | parameters | train s |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const m = r.metrics;
    const ratio = m.perplexity_bound / baseline.metrics.perplexity_bound;
    lines.push(
      `| ${r.name} | ${f(m.nll_per_token, 4)} | ${f(m.kl, 2)} | ${f(m.perplexity_bound, 3)} | ${r === baseline ? "—" : `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)}%`} | ` +
        `${r.latent > 0 ? f(m.iwae_perplexity_bound, 3) : `${f(m.perplexity_bound, 3)} (exact)`} | ${r.latent > 0 ? `${m.active_units}/${m.latent_dim}` : "–"} | ${r.parameters} | ${r.train_seconds.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

async function main(o: Options): Promise<void> {
  await initEngine("wasm");
  const started = new Date().toISOString();
  const { lines, empty } = readCorpus(o.corpus);
  const data = prepareTextData(lines, { tokenizer: { kind: "char" }, maxTokens: o.maxTokens, overLength: "drop", validation: o.validation, seed: o.seed }, empty);
  const report = describeReport(data.report);
  process.stderr.write(`${o.corpus}: ${report}\n`);
  const common = `--corpus ${o.corpus} --max-tokens ${o.maxTokens} --validation ${o.validation} --hidden ${o.hidden} --encoder-hidden ${o.encoderHidden} --embed ${o.embed} --steps ${o.steps} --batch-size ${o.batchSize} --lr ${o.lr} --seed ${o.seed}`;
  const rows: Row[] = [];
  const base = await trainOne("language model (no latent)", "baseline", data, o, 0, {}, `${common} --latent 0`);
  rows.push(base.row);
  const remedies = { klAnneal: { kind: "linear" as const, warmupSteps: o.warmup, start: 0 }, wordDropout: o.wordDropout, freeBits: o.freeBits, freeBitsScope: o.freeBitsScope };
  const vae = await trainOne(`VAE (KL annealing + free bits${o.wordDropout > 0 ? " + word dropout" : ""})`, "vae", data, o, o.latent, remedies,
    `${common} --latent ${o.latent} --kl-anneal linear --warmup ${o.warmup} --word-dropout ${o.wordDropout} --free-bits ${o.freeBits} --free-bits-scope ${o.freeBitsScope}`);
  rows.push(vae.row);
  if (o.dropoutRow > 0) {
    const wd = await trainOne(`VAE (KL annealing + free bits + word dropout ${o.dropoutRow})`, "vae-word-dropout", data, o, o.latent, { ...remedies, wordDropout: o.dropoutRow },
      `${common} --latent ${o.latent} --kl-anneal linear --warmup ${o.warmup} --word-dropout ${o.dropoutRow} --free-bits ${o.freeBits} --free-bits-scope ${o.freeBitsScope}`);
    rows.push(wd.row);
  }
  if (o.plain) {
    const plain = await trainOne("VAE without remedies", "vae-plain", data, o, o.latent, {}, `${common} --latent ${o.latent} --kl-anneal none --word-dropout 0 --free-bits 0`);
    rows.push(plain.row);
  }

  const inf = makeTextInference(vae.bundle);
  const samples = (await inf.sample(12, { seed: 1, greedy: true })).texts;
  const sampled = (await inf.sample(12, { seed: 2 })).texts;
  const probes = ["house", "mountain", "quickly", "beautiful", "zebra"];
  const recon: string[] = [];
  for (const w of probes) recon.push(`${w} → ${await inf.reconstruct(w)}`);
  const path = (await inf.interpolate("house", "mountain", 8)).map((r) => r.text);
  const lmSamples = (await makeTextInference(base.bundle).sample(12, { seed: 2 })).texts;

  const ratio = vae.row.metrics.perplexity_bound / base.row.metrics.perplexity_bound;
  const verdict =
    `KL per sentence ${vae.row.metrics.kl.toFixed(2)} nats (${vae.row.metrics.kl > 0.5 ? "clearly above zero" : "near zero"}); ` +
    `the VAE's perplexity bound is ${((ratio - 1) * 100).toFixed(1)}% ${ratio >= 1 ? "above" : "below"} the baseline's ` +
    `(${ratio <= 1.1 ? "within" : "outside"} the 10% target).`;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, load average at start ${loadavg()[0].toFixed(1)}`;
  const md = `# Sentence VAE vs. language-model baseline

Generated by \`npm run bench:text\` (${started}). ${machine}; jax-js wasm backend.

**Data**: ${o.corpus} — ${report}. Character tokenizer (${data.tokenizer.vocabSize} tokens including PAD/BOS/EOS/UNK), fitted on the training split; seeded split (seed ${o.seed}): ${data.train.sequences.length} training, ${data.validation.sequences.length} validation words.

**Models**: the same GRU decoder (embedding ${o.embed}, hidden ${o.hidden}) in both; the VAE adds a bidirectional GRU encoder (hidden ${o.encoderHidden || o.hidden} each way) with a ${o.latent}-dimensional diagonal-Gaussian posterior, and z sets the decoder's initial state and enters every step's gate inputs. Both trained ${o.steps} steps of ${o.batchSize} words, Adam lr ${o.lr}, gradient clipping 5.
VAE remedies: KL weight warmed up linearly over ${o.warmup} steps, word dropout ${o.wordDropout}, free bits ${o.freeBits} nats ${o.freeBitsScope === "total" ? "on the whole KL per word" : "per latent dimension"}.

**Metrics** (validation split): −ELBO per predicted token (characters plus end-of-word), an upper bound on the NLL per token — exact for the baseline, which has no latent; KL(q(z|x) ‖ p(z)) per word; perplexity bound = exp(NLL bound per token); IWAE bound with k = ${o.iwaeK} on the first ${Math.min(o.iwaeLimit, data.validation.sequences.length)} validation words; active units = dimensions with Cov_x(E_q[z]) > 0.01.

${table(rows, base.row)}

${verdict}

## Samples

VAE, z ~ N(0, I), greedy decoding: ${samples.join(", ")}

VAE, z ~ N(0, I), sampled tokens: ${sampled.join(", ")}

Language model, sampled tokens: ${lmSamples.join(", ")}

Reconstructions (posterior mean, greedy): ${recon.join("; ")}

Homotopy house → mountain (8 points): ${path.join(" → ")}

## Reproduce

\`\`\`sh
${rows.map((r) => `vaekit text train ${r.flags} --out runs/text-${r.slug}`).join("\n")}
\`\`\`
`;
  writeFileAtomic(`${o.out}/text.md`, md);
  writeFileAtomic(`${o.out}/text.json`, JSON.stringify({ started, machine, options: o, corpus: data.report, rows, verdict, samples, recon, path }, null, 2) + "\n");
  process.stdout.write(table(rows, base.row) + "\n\n" + verdict + "\n");
  process.stderr.write(`wrote ${o.out}/text.md and ${o.out}/text.json\n`);
}

const program = new Command("bench:text")
  .description("sentence VAE vs. the same decoder without a latent, on the wamerican word list")
  .option("--corpus <spec>", "corpus (debian:words, debian:fortunes or a file)", "debian:words")
  .option("--max-tokens <n>", "longest word in characters (longer ones are dropped, reported)", intArg(1), 14)
  .option("--validation <n>", "validation words", intArg(1), 2000)
  .option("--steps <n>", "training steps per model", intArg(1), 1500)
  .option("--batch-size <n>", "words per step", intArg(1), 64)
  .option("--lr <x>", "Adam learning rate", floatArg(0, true), 2e-3)
  .option("--hidden <n>", "decoder GRU size", intArg(1), 128)
  .option("--encoder-hidden <n>", "encoder GRU size", intArg(1), 64)
  .option("--embed <n>", "embedding size", intArg(1), 32)
  .option("--latent <n>", "latent dimensions of the VAE", intArg(1), 16)
  .option("--warmup <n>", "KL annealing steps", intArg(0), 400)
  .option("--word-dropout <p>", "word dropout rate of the main VAE row", floatArg(0), 0)
  .option("--dropout-row <p>", "add a VAE row with this word dropout on top of the other remedies (0 = no such row)", floatArg(0), 0.1)
  .option("--free-bits <x>", "free bits (nats)", floatArg(0), 1.5)
  .option("--free-bits-scope <scope>", "total|dimension", choiceArg(["total", "dimension"] as const), "total")
  .option("--iwae-k <k>", "importance samples for the IWAE bound", intArg(1), 100)
  .option("--iwae-limit <n>", "validation words in the IWAE bound", intArg(1), 500)
  .option("--plain", "also train a VAE without remedies (shows posterior collapse)", false)
  .option("--save-dir <dir>", "also save the trained models here")
  .option("--seed <n>", "seed", intArg(0), 0)
  .option("--out <dir>", "results directory", "results")
  .option("--quiet", "no progress output", false);

program.parse(process.argv);
await main(program.opts<Options>());
process.exit(0);
