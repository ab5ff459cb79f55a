/**
 * Example utterances for the page's speech view (Node: reads files). Either WAV files named on
 * the command line, or clips of the voices a model never heard in training (its testVoices) taken
 * from the espeak-ng dataset's manifest, one word after another so the first few differ.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { VaekitError } from "../errors.js";
import { segmentFromWavBytes } from "../apps/speech/clip.js";
import { readSpeechManifest, type SpeechManifestEntry } from "../apps/speech/espeak.js";
import { formatOf, type SpeechModelInfo } from "../apps/speech/model.js";
import type { SpeechExample } from "./app.js";

function readWav(path: string, info: SpeechModelInfo, name: string): SpeechExample {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VaekitError(code === "ENOENT" ? `WAV file not found: ${path}` : `cannot read ${path} (${code})`);
  }
  segmentFromWavBytes(bytes, formatOf(info), path); // a clip the page could not use is refused now, naming the file
  return { name, bytes };
}

/** WAV files as examples, named by their file names; every file must decode to a segment. */
export function wavExamples(paths: readonly string[], info: SpeechModelInfo): SpeechExample[] {
  return paths.map((p) => readWav(p, info, basename(p)));
}

/** Entries interleaved by word (first entry of each word, then the second of each...), so early picks differ. */
function byWordRoundRobin(entries: readonly SpeechManifestEntry[]): SpeechManifestEntry[] {
  const groups = new Map<string, SpeechManifestEntry[]>();
  for (const e of entries) groups.set(e.word, [...(groups.get(e.word) ?? []), e]);
  const lists = [...groups.values()];
  const out: SpeechManifestEntry[] = [];
  for (let i = 0; out.length < entries.length; i++) for (const list of lists) if (i < list.length) out.push(list[i]);
  return out;
}

/**
 * Up to `count` clips from a speech dataset manifest: utterances of the model's held-out voices
 * (all voices when the model records none), different words first.
 */
export function heldOutExamples(manifestPath: string, info: SpeechModelInfo, count: number): SpeechExample[] {
  const manifest = readSpeechManifest(manifestPath);
  const heldOut = new Set(info.testVoices);
  const pool = heldOut.size ? manifest.entries.filter((e) => heldOut.has(e.voice)) : manifest.entries;
  if (pool.length === 0) throw new VaekitError(`${manifestPath}: no utterances of the model's held-out voices (${info.testVoices.join(", ")})`);
  const root = dirname(manifestPath);
  return byWordRoundRobin(pool)
    .slice(0, count)
    .map((e) => readWav(join(root, e.file), info, `${e.word} (${e.voice}, pitch ${e.pitch})`));
}
