/**
 * The whole text pipeline in two calls (browser-safe), shared by the CLI, tests and benchmark:
 * split a corpus with a seed, fit the tokenizer on the training part, apply the length limit
 * (reported), then train a sentence VAE or its no-latent baseline into a model bundle.
 */
import { prepareCorpus, splitCorpus, type LengthReport, type OverLength, type PreparedCorpus } from "./corpus.js";
import type { TextModelBundle } from "./io.js";
import { parseTextVaeConfig, type TextVaeConfig } from "./model.js";
import { Tokenizer, type TokenizerOptions } from "./tokenizer.js";
import { TextTrainConfig, trainTextVae, type TextTrainHooks } from "./train.js";

export interface TextDataOptions {
  tokenizer: TokenizerOptions;
  maxTokens: number;
  overLength: OverLength;
  /** Validation lines held out: a count or a fraction in (0, 1). */
  validation: number;
  seed: number;
}

export interface TextData {
  tokenizer: Tokenizer;
  train: PreparedCorpus;
  validation: PreparedCorpus;
  /** The length limit's effect on both parts together. */
  report: LengthReport;
}

export function prepareTextData(lines: readonly string[], opts: TextDataOptions, emptyLines = 0): TextData {
  const split = splitCorpus(lines, opts.validation, opts.seed);
  const tokenizer = Tokenizer.fit(split.train, opts.tokenizer);
  const train = prepareCorpus(split.train, tokenizer, opts.maxTokens, opts.overLength, emptyLines);
  const validation = prepareCorpus(split.validation, tokenizer, opts.maxTokens, opts.overLength);
  const a = train.report;
  const b = validation.report;
  const report: LengthReport = {
    ...a,
    lines: a.lines + b.lines,
    empty: a.empty + b.empty,
    tooLong: a.tooLong + b.tooLong,
    truncated: a.truncated + b.truncated,
    dropped: a.dropped + b.dropped,
    kept: a.kept + b.kept,
    tokens: a.tokens + b.tokens,
    unknownTokens: a.unknownTokens + b.unknownTokens,
    longestTokens: Math.max(a.longestTokens, b.longestTokens),
  };
  return { tokenizer, train, validation, report };
}

export interface TextModelOptions {
  embedDim?: number;
  hiddenDim?: number;
  encoderHiddenDim?: number;
  encoderDirections?: "forward" | "bidirectional";
  /** 0 trains the language-model baseline. */
  latentDim: number;
}

export function textModelConfig(data: TextData, maxTokens: number, m: TextModelOptions): TextVaeConfig {
  return parseTextVaeConfig({ vocabSize: data.tokenizer.vocabSize, maxTokens, ...m });
}

/** Train on `data` and return a bundle whose extras record the corpus report, training config and history. */
export async function trainTextModel(
  data: TextData,
  config: TextVaeConfig,
  trainConfig: TextTrainConfig,
  hooks: TextTrainHooks = {},
): Promise<TextModelBundle> {
  const tc = TextTrainConfig.parse(trainConfig);
  const result = await trainTextVae(config, tc, { train: data.train.sequences, validation: data.validation.sequences }, hooks);
  return {
    config,
    params: result.params,
    tokenizer: data.tokenizer,
    extras: {
      corpus: data.report,
      splits: { train: data.train.report.kept, validation: data.validation.report.kept },
      train: tc,
      history: result.history,
    },
  };
}
