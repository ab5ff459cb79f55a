/**
 * The text application, browser-safe part (Node file access lives in ./files.ts).
 *
 * For a browser view: fetch a model file's bytes, `decodeTextModel(bytes)`, then
 * `makeTextInference(bundle)` gives decode(z) → strings, sample, reconstruct, interpolate.
 */
export { Tokenizer, PAD, BOS, EOS, UNK, SPECIAL_TOKENS, type TokenizerJson, type TokenizerOptions } from "./tokenizer.js";
export { corpusLines, prepareCorpus, splitCorpus, describeReport, type LengthReport, type PreparedCorpus } from "./corpus.js";
export { makeBatch, applyWordDropout, type TextBatch } from "./batch.js";
export { TextVaeConfig, parseTextVaeConfig, initTextVae, parameterCount, type TextVaeParams } from "./model.js";
export { klWeight, textLoss, textElboTerms, textIwaeLogWeights, type KlAnneal } from "./objective.js";
export { evaluateText, activeUnits, type TextMetrics } from "./evaluate.js";
export { TextTrainConfig, trainTextVae, type TextHistoryEntry } from "./train.js";
export { prepareTextData, textModelConfig, trainTextModel, type TextData } from "./experiment.js";
export { encodeTextModel, decodeTextModel, TEXT_MODEL_FORMAT, type TextModelBundle } from "./io.js";
export { makeTextInference, type TextInference, type DecodeOptions, type Posterior } from "./inference.js";
