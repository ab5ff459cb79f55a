/** `vaekit text …`: the sentence VAE (Bowman et al. 2016): train, eval, sample, reconstruct, interpolate. */
import { join } from "node:path";
import { Command, Option } from "commander";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { describeReport, prepareCorpus, splitCorpus, type OverLength } from "../../apps/text/corpus.js";
import { evaluateText, type TextMetrics } from "../../apps/text/evaluate.js";
import { prepareTextData, textModelConfig, trainTextModel, type TextDataOptions } from "../../apps/text/experiment.js";
import { CORPUS_HELP, loadTextModel, readCorpus, saveTextModel } from "../../apps/text/files.js";
import { makeTextInference, type DecodeOptions } from "../../apps/text/inference.js";
import { TextTrainConfig } from "../../apps/text/train.js";
import { startEngine, withCommon } from "../common.js";
import { choiceArg, floatArg, intArg, sizeArg } from "../options.js";
import { progressBar } from "../progress.js";

const DEFAULT_MODEL = "runs/text";

/** The data options a model was trained with, kept in its extras so `text eval` can rebuild the split. */
interface StoredData extends TextDataOptions {
  corpus: string;
}

function fmt(m: TextMetrics): string {
  const iwae = m.iwae_k ? `; IWAE (k=${m.iwae_k}, ${m.iwae_sentences} sentences) ${m.iwae_nll!.toFixed(3)} nats/sentence, perplexity ≤ ${m.iwae_perplexity_bound!.toFixed(3)}` : "";
  return (
    `${m.sentences} sentences, ${m.tokens} tokens: −ELBO ${m.neg_elbo.toFixed(3)} nats/sentence = recon ${m.recon.toFixed(3)} + KL ${m.kl.toFixed(3)}; ` +
    `${m.nll_per_token.toFixed(4)} nats/token, perplexity ≤ ${m.perplexity_bound.toFixed(3)}; active units ${m.active_units}/${m.latent_dim}${iwae}`
  );
}

function decodeOptions(o: { greedy?: boolean; temperature?: number; seed?: number }): DecodeOptions {
  return { greedy: o.greedy, temperature: o.temperature, seed: o.seed };
}

export function registerText(program: Command): void {
  const text = program.command("text").description("sentence VAE: learn a latent space of sentences, sample, reconstruct and interpolate");

  withCommon(
    text
      .command("train")
      .description("train a sentence VAE (or, with --latent 0, the no-latent language-model baseline) on a corpus, one sentence per line")
      .requiredOption("--corpus <spec>", CORPUS_HELP)
      .option("--tokenizer <kind>", "char|word", choiceArg(["char", "word"] as const), "char")
      .option("--lowercase", "lower-case the text before tokenising", false)
      .option("--min-count <n>", "word tokenizer: keep words seen at least n times (others become <unk>)", intArg(1), 2)
      .option("--max-vocab <n>", "keep at most n tokens, most frequent first", intArg(1), 10000)
      .option("--max-tokens <n>", "longest sentence in tokens (≤ 64; the recurrence is unrolled, keep it short)", intArg(1), 24)
      .option("--over-length <policy>", "drop|truncate sentences longer than --max-tokens", choiceArg(["drop", "truncate"] as const), "drop")
      .option("--validation <size>", "validation sentences held out (count or fraction)", sizeArg, 0.1)
      .option("--latent <n>", "latent dimensions (0 = language model without latent)", intArg(0), 16)
      .option("--hidden <n>", "decoder GRU size", intArg(1), 128)
      .option("--encoder-hidden <n>", "encoder GRU size (default: --hidden)", intArg(1))
      .option("--encoder <kind>", "bidirectional|forward: GRU encoder reading both ways or forward only", choiceArg(["bidirectional", "forward"] as const), "bidirectional")
      .option("--embed <n>", "token embedding size", intArg(1), 32)
      .option("--steps <n>", "training steps (mini-batches)", intArg(1), 2000)
      .option("--batch-size <n>", "sentences per step", intArg(1), 64)
      .option("--lr <x>", "Adam learning rate", floatArg(0, true), 2e-3)
      .option("--clip-norm <x>", "clip the global gradient norm (0 = off)", floatArg(0), 5)
      .option("--kl-anneal <kind>", "linear|none: KL weight warm-up", choiceArg(["linear", "none"] as const), "linear")
      .option("--warmup <steps>", "steps for the KL weight to rise from 0 to 1", intArg(0), 400)
      .option("--word-dropout <p>", "replace each decoder input word with <unk> with probability p (0 = off)", floatArg(0), 0)
      .option("--free-bits <nats>", "free bits: the KL counted in the loss is at least this many nats (0 = off)", floatArg(0), 1.5)
      .option("--free-bits-scope <scope>", "total: floor on the whole KL; dimension: floor on each latent dimension's KL", choiceArg(["total", "dimension"] as const), "total")
      .option("--eval-every <n>", "validate every n steps", intArg(1), 500)
      .option("--iwae-k <k>", "importance samples for the final IWAE bound (0 = skip)", intArg(0), 0)
      .option("--seed <n>", "random seed (split, initialisation, batches)", intArg(0), 0)
      .option("--out <dir>", "output directory", DEFAULT_MODEL),
  ).action(async (o) => {
    if (o.wordDropout > 1) throw new VaekitError(`--word-dropout must be in [0, 1], got ${o.wordDropout}`);
    if (o.maxTokens > 64) throw new VaekitError(`--max-tokens ${o.maxTokens} is too long for the unrolled recurrence (at most 64)`);
    await startEngine(o.device, o.quiet);
    const { lines, empty } = readCorpus(o.corpus);
    const dataOptions: StoredData = {
      corpus: o.corpus,
      tokenizer: { kind: o.tokenizer, lowercase: o.lowercase, minCount: o.minCount, maxVocab: o.maxVocab },
      maxTokens: o.maxTokens,
      overLength: o.overLength as OverLength,
      validation: o.validation,
      seed: o.seed,
    };
    const data = prepareTextData(lines, dataOptions, empty);
    process.stderr.write(`corpus ${o.corpus}: ${describeReport(data.report)}\n`);
    process.stderr.write(`vocabulary ${data.tokenizer.vocabSize} tokens (${o.tokenizer}); ${data.train.sequences.length} training / ${data.validation.sequences.length} validation sentences\n`);
    const config = textModelConfig(data, o.maxTokens, { latentDim: o.latent, hiddenDim: o.hidden, encoderHiddenDim: o.encoderHidden ?? 0, encoderDirections: o.encoder, embedDim: o.embed });
    const tc = TextTrainConfig.parse({
      steps: o.steps,
      batchSize: o.batchSize,
      lr: o.lr,
      clipNorm: o.clipNorm,
      seed: o.seed,
      klAnneal: { kind: o.klAnneal, warmupSteps: o.warmup, start: 0 },
      wordDropout: o.wordDropout,
      freeBits: o.freeBits,
      freeBitsScope: o.freeBitsScope,
      evalEvery: o.evalEvery,
    });
    const bar = progressBar("train", tc.steps, o.quiet);
    const metricsLines: string[] = [];
    const bundle = await trainTextModel(data, config, tc, {
      onStep: ({ step, loss, kl, beta }) => bar.update(step, { loss, kl, beta }),
      onEval: (e) => {
        const line = JSON.stringify(e);
        metricsLines.push(line);
        writeFileAtomic(join(o.out, "metrics.jsonl"), metricsLines.join("\n") + "\n");
        if (!o.quiet) process.stderr.write(`\nstep ${e.step}: validation ${fmt(e.validation)}\n`);
      },
    });
    bar.stop();
    bundle.extras.data = dataOptions;
    let final = (bundle.extras.history as { validation: TextMetrics }[]).at(-1)!.validation;
    if (o.iwaeK > 0 && config.latentDim > 0) {
      final = await evaluateText(bundle.params, config, data.validation.sequences, { iwaeK: o.iwaeK, seed: o.seed });
    }
    bundle.extras.final = final;
    await saveTextModel(o.out, bundle);
    process.stdout.write(JSON.stringify({ ...final, model: join(o.out, "model.safetensors") }) + "\n");
    process.stderr.write(`validation: ${fmt(final)}\nmodel in ${o.out}/model.safetensors\n`);
  });

  withCommon(
    text
      .command("eval")
      .description("per-token negative ELBO, perplexity bound, KL, active units and an IWAE bound on the model's validation split (or a corpus)")
      .option("--model <path>", "model directory or .safetensors file", DEFAULT_MODEL)
      .option("--corpus <spec>", `evaluate on all of this corpus instead of the model's validation split: ${CORPUS_HELP}`)
      .option("--iwae-k <k>", "importance samples for the IWAE bound (0 = skip)", intArg(0), 100)
      .option("--limit <n>", "only the first n sentences", intArg(1))
      .option("--seed <n>", "seed for the posterior samples", intArg(0), 0)
      .option("--json", "print one JSON object", false),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const bundle = loadTextModel(o.model);
    const { config, tokenizer } = bundle;
    let sequences: Int32Array[];
    let source: string;
    const stored = bundle.extras.data as StoredData | undefined;
    if (o.corpus) {
      const { lines } = readCorpus(o.corpus);
      const overLength = stored?.overLength ?? "drop";
      const prepared = prepareCorpus(lines, tokenizer, config.maxTokens, overLength);
      process.stderr.write(`corpus ${o.corpus}: ${describeReport(prepared.report)}\n`);
      sequences = prepared.sequences;
      source = o.corpus;
    } else {
      if (!stored) throw new VaekitError(`${o.model} does not record its training corpus; give --corpus`);
      // the same seeded split as training, tokenised with the model's own tokenizer
      const held = splitCorpus(readCorpus(stored.corpus).lines, stored.validation, stored.seed).validation;
      sequences = prepareCorpus(held, tokenizer, config.maxTokens, stored.overLength).sequences;
      source = `${stored.corpus} (validation split, seed ${stored.seed})`;
    }
    if (o.limit) sequences = sequences.slice(0, o.limit);
    if (!sequences.length) throw new VaekitError("no sentences to evaluate");
    const bar = progressBar("eval", 1, o.quiet);
    const m = await evaluateText(bundle.params, config, sequences, { iwaeK: o.iwaeK, seed: o.seed, onProgress: (d, t) => bar.fraction(d, t) });
    bar.stop();
    if (o.json) process.stdout.write(JSON.stringify({ ...m, data: source }) + "\n");
    else process.stdout.write(`${source}: ${fmt(m)}\n`);
  });

  const decodingFlags = (cmd: Command) =>
    cmd
      .option("--model <path>", "model directory or .safetensors file", DEFAULT_MODEL)
      .option("--temperature <t>", "sampling temperature for each next token (0 = greedy)", floatArg(0), 1)
      .option("--seed <n>", "random seed", intArg(0), 0);

  withCommon(
    decodingFlags(
      text
        .command("sample")
        .description("sentences decoded from z ~ N(0, I), one per line")
        .option("-n, --count <n>", "number of sentences", intArg(1), 20)
        .option("--greedy", "take the most likely token at each step", false)
        .addOption(new Option("--prior-temperature <t>", "scale of the prior's standard deviation").default(1).argParser(floatArg(0))),
    ),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const inf = makeTextInference(loadTextModel(o.model));
    const { texts } = await inf.sample(o.count, { ...decodeOptions(o), priorTemperature: o.priorTemperature });
    process.stdout.write(texts.join("\n") + "\n");
  });

  withCommon(
    decodingFlags(
      text
        .command("reconstruct")
        .description("encode each sentence to its posterior mean and decode it again")
        .argument("<sentences...>", "sentences to reconstruct")
        .option("--sample", "sample the tokens instead of taking the most likely one", false),
    ),
  ).action(async (sentences: string[], o) => {
    await startEngine(o.device, o.quiet);
    const inf = makeTextInference(loadTextModel(o.model));
    const opts = { ...decodeOptions(o), greedy: !o.sample };
    const post = await inf.encode(sentences);
    if (post.truncated) process.stderr.write(`${post.truncated} sentence(s) cut to ${inf.config.maxTokens} tokens\n`);
    const out = await inf.decode(post.mu, opts);
    process.stdout.write(sentences.map((s, i) => `${s}\t→\t${out[i]}`).join("\n") + "\n");
  });

  withCommon(
    decodingFlags(
      text
        .command("interpolate")
        .description("decode points on the line between two sentences' codes (a homotopy, Bowman et al. 2016)")
        .argument("<a>", "first sentence")
        .argument("<b>", "second sentence")
        .option("--steps <n>", "points, both ends included", intArg(2), 8)
        .option("--sample", "sample the tokens instead of taking the most likely one", false),
    ),
  ).action(async (a: string, b: string, o) => {
    await startEngine(o.device, o.quiet);
    const inf = makeTextInference(loadTextModel(o.model));
    const rows = await inf.interpolate(a, b, o.steps, { ...decodeOptions(o), greedy: !o.sample });
    process.stdout.write(rows.map((r) => `${r.t.toFixed(2)}\t${r.text}`).join("\n") + "\n");
  });
}
