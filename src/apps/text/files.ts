/**
 * Node-side files for the text application: corpora (a plain-text file, or a corpus built from
 * a Debian package) and model directories (model.safetensors + readable config.json and
 * tokenizer.json beside it).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { corpusLines } from "./corpus.js";
import { decodeTextModel, encodeTextModel, type TextModelBundle } from "./io.js";

export const TEXT_MODEL_FILE = "model.safetensors";

const WORDLIST = "/usr/share/dict/american-english";
const FORTUNES_DIR = "/usr/share/games/fortunes";

export const BUILTIN_CORPORA: Record<string, string> = {
  "debian:words": `lower-case words of ${WORDLIST} (package wamerican), one per line`,
  "debian:fortunes": `lines of the fortune files in ${FORTUNES_DIR} (package fortunes-min)`,
};

export const CORPUS_HELP = `a plain-text file (one sentence per line) or ${Object.keys(BUILTIN_CORPORA).join(" / ")}`;

/** Lines of a corpus: a text file, or one of the Debian corpora. */
export function readCorpus(spec: string): { lines: string[]; empty: number; name: string } {
  if (spec === "debian:words") {
    const text = readSystemFile(WORDLIST, "wamerican");
    // lower-case words only: no proper nouns, no possessives
    const lines = text.split("\n").filter((w) => /^[a-z]+$/.test(w));
    return { lines, empty: 0, name: "wamerican words" };
  }
  if (spec === "debian:fortunes") {
    if (!existsSync(FORTUNES_DIR)) throw new VaekitError(`${FORTUNES_DIR} not found: install the Debian package fortunes-min`);
    const files = readdirSync(FORTUNES_DIR).filter((f) => !f.includes(".")).sort();
    const text = files.map((f) => readFileSync(join(FORTUNES_DIR, f), "utf8")).join("\n");
    // "%" lines separate fortunes; attributions ("-- Author") and indented verse are kept as lines
    const { lines, empty } = corpusLines(text.split("\n").filter((l) => l.trim() !== "%").join("\n"), FORTUNES_DIR);
    return { lines, empty, name: "fortunes" };
  }
  if (spec.startsWith("debian:")) throw new VaekitError(`unknown corpus "${spec}" (choose ${Object.keys(BUILTIN_CORPORA).join(", ")})`);
  if (!existsSync(spec)) throw new VaekitError(`corpus not found: ${spec}`);
  if (statSync(spec).isDirectory()) throw new VaekitError(`corpus ${spec} is a directory; give a text file with one sentence per line`);
  const buf = readFileSync(spec);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new VaekitError(`corpus ${spec} is not UTF-8 text`);
  }
  return { ...corpusLines(text, spec), name: spec };
}

function readSystemFile(path: string, pkg: string): string {
  if (!existsSync(path)) throw new VaekitError(`${path} not found: install the Debian package ${pkg}`);
  return readFileSync(path, "utf8");
}

export function textModelPath(pathOrDir: string): string {
  return existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? join(pathOrDir, TEXT_MODEL_FILE) : pathOrDir;
}

/** Save atomically into `dir`: model.safetensors (everything) plus config.json and tokenizer.json to read. */
export async function saveTextModel(dir: string, bundle: TextModelBundle): Promise<void> {
  writeFileAtomic(join(dir, TEXT_MODEL_FILE), await encodeTextModel(bundle));
  writeFileAtomic(join(dir, "config.json"), JSON.stringify(bundle.config, null, 2) + "\n");
  writeFileAtomic(join(dir, "tokenizer.json"), JSON.stringify(bundle.tokenizer.toJSON()) + "\n");
}

export function loadTextModel(pathOrDir: string): TextModelBundle {
  const path = textModelPath(pathOrDir);
  if (!existsSync(path)) throw new VaekitError(`text model not found: ${path}`);
  return decodeTextModel(new Uint8Array(readFileSync(path)), path);
}
