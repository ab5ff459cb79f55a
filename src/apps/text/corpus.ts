/**
 * Corpora for the sentence VAE (browser-safe): one example per line, tokenised and held to a
 * maximum length with an honest report of what the limit did; a seeded train/validation split.
 */
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { UNK, type Tokenizer } from "./tokenizer.js";

export type OverLength = "drop" | "truncate";

export interface LengthReport {
  /** Non-empty lines read. */
  lines: number;
  /** Empty or whitespace-only lines skipped. */
  empty: number;
  maxTokens: number;
  overLength: OverLength;
  /** Lines longer than maxTokens tokens (dropped or truncated, by `overLength`). */
  tooLong: number;
  truncated: number;
  dropped: number;
  kept: number;
  /** Tokens kept (without BOS/EOS) and how many of them are UNK. */
  tokens: number;
  unknownTokens: number;
  longestTokens: number;
}

export interface PreparedCorpus {
  /** Token ids per kept line, without BOS/EOS. */
  sequences: Int32Array[];
  /** The kept lines (as read, before truncation). */
  lines: string[];
  report: LengthReport;
}

/** Lines of a text file: trimmed, internal whitespace collapsed, empty lines counted and skipped. */
export function corpusLines(text: string, source = "corpus"): { lines: string[]; empty: number } {
  if (text.includes("\u0000")) throw new VaekitError(`${source}: looks like a binary file, not plain text`);
  const raw = text.split("\n");
  if (raw[raw.length - 1] === "") raw.pop(); // the final newline ends the last line
  const lines: string[] = [];
  let empty = 0;
  for (const r of raw) {
    const line = r.replace(/\s+/g, " ").trim();
    if (line) lines.push(line);
    else empty++;
  }
  if (!lines.length) throw new VaekitError(`${source}: no non-empty lines`);
  return { lines, empty };
}

/** Tokenise lines and apply the length limit; `empty` is carried into the report. */
export function prepareCorpus(
  lines: readonly string[],
  tokenizer: Tokenizer,
  maxTokens: number,
  overLength: OverLength,
  empty = 0,
): PreparedCorpus {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new VaekitError(`max tokens must be a whole number ≥ 1, got ${maxTokens}`);
  const report: LengthReport = {
    lines: lines.length, empty, maxTokens, overLength,
    tooLong: 0, truncated: 0, dropped: 0, kept: 0, tokens: 0, unknownTokens: 0, longestTokens: 0,
  };
  const sequences: Int32Array[] = [];
  const kept: string[] = [];
  for (const line of lines) {
    let ids = tokenizer.encode(line);
    report.longestTokens = Math.max(report.longestTokens, ids.length);
    if (ids.length === 0) {
      report.empty++;
      continue;
    }
    if (ids.length > maxTokens) {
      report.tooLong++;
      if (overLength === "drop") {
        report.dropped++;
        continue;
      }
      report.truncated++;
      ids = ids.slice(0, maxTokens);
    }
    for (const id of ids) if (id === UNK) report.unknownTokens++;
    report.tokens += ids.length;
    sequences.push(Int32Array.from(ids));
    kept.push(line);
  }
  report.kept = sequences.length;
  return { sequences, lines: kept, report };
}

/** One line describing what the length limit did, for the CLI and results. */
export function describeReport(r: LengthReport): string {
  const limit = `${r.tooLong} longer than ${r.maxTokens} tokens (${r.overLength === "drop" ? `${r.dropped} dropped` : `${r.truncated} truncated`})`;
  return `${r.lines} lines: ${r.kept} kept, ${limit}, ${r.empty} empty skipped; ${r.tokens} tokens, ${r.unknownTokens} unknown, longest line ${r.longestTokens} tokens`;
}

/** A seeded split of items into training and validation parts (`validation`: count or fraction). */
export function splitCorpus<T>(items: readonly T[], validation: number, seed: number): { train: T[]; validation: T[] } {
  const nVal = validation < 1 ? Math.round(items.length * validation) : validation;
  if (!(nVal >= 1 && nVal < items.length)) {
    throw new VaekitError(`cannot hold out ${nVal} validation lines from a corpus of ${items.length}`);
  }
  const order = new Rng(seed).permutation(items.length);
  const pick = (from: number, to: number) => Array.from(order.subarray(from, to), (i) => items[i]);
  return { validation: pick(0, nVal), train: pick(nVal, items.length) };
}
