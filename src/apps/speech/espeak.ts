/**
 * A real spoken-word dataset built reproducibly with the espeak-ng speech synthesiser
 * (Debian package `espeak-ng`). Node-only: spawns espeak-ng once per utterance.
 *
 * Every (word, voice, pitch, speed) combination is spoken into `<outDir>/wav/<name>.wav`
 * (22.05 kHz mono 16-bit, espeak's native format) and listed in `<outDir>/manifest.json`.
 * espeak-ng is deterministic, so the same spec and espeak-ng version give the same files;
 * files already present from the same espeak-ng version are reused.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";

const ESPEAK = "espeak-ng";
const MISSING = "espeak-ng is not installed: install the Debian/Ubuntu package espeak-ng (apt-get install espeak-ng)";

export interface EspeakDatasetSpec {
  words: string[];
  /** espeak-ng voices as language+variant, e.g. "en-us+f3". */
  voices: string[];
  /** espeak-ng -p values (0–99, 50 is the voice's normal pitch). */
  pitches: number[];
  /** espeak-ng -s values in words per minute. */
  speeds: number[];
}

/** Digits and the command words of the Speech Commands corpus. */
export const SPEECH_WORDS = [
  "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
  "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
];

/** 20 words × 12 voices (4 English accents, 6 male, 6 female variants) × 3 pitches × 2 speeds = 1440 files. */
export const DEFAULT_ESPEAK_SPEC: EspeakDatasetSpec = {
  words: SPEECH_WORDS,
  voices: [
    "en-us+m1", "en-us+m3", "en-us+f1", "en-us+f3",
    "en+m2", "en+m4", "en+f2", "en+f4",
    "en-gb-scotland+m5", "en-gb-scotland+f5",
    "en-029+m7", "en-029+klatt",
  ],
  pitches: [35, 50, 65],
  speeds: [175, 210],
};

/** 2 words × 2 voices, for tests and smoke runs. */
export const TINY_ESPEAK_SPEC: EspeakDatasetSpec = {
  words: ["zero", "one"],
  voices: ["en-us+m1", "en+f2"],
  pitches: [50],
  speeds: [170],
};

export interface SpeechManifestEntry {
  word: string;
  voice: string;
  pitch: number;
  speed: number;
  /** Path relative to the manifest's folder. */
  file: string;
}

export interface SpeechManifest {
  format: "vaekit-speech-espeak";
  version: 1;
  espeakVersion: string;
  spec: EspeakDatasetSpec;
  entries: SpeechManifestEntry[];
}

const specSchema = z.object({
  words: z.array(z.string()).min(1),
  voices: z.array(z.string()).min(1),
  pitches: z.array(z.number().int().min(0).max(99)).min(1),
  speeds: z.array(z.number().int().min(80).max(500)).min(1),
});

const manifestSchema = z.object({
  format: z.literal("vaekit-speech-espeak"),
  version: z.literal(1),
  espeakVersion: z.string(),
  spec: specSchema,
  entries: z.array(
    z.object({ word: z.string(), voice: z.string(), pitch: z.number(), speed: z.number(), file: z.string() }),
  ),
});

/** Where generated speech datasets go unless told otherwise: $VAEKIT_CACHE or ~/.cache/vaekit. */
export function defaultSpeechCacheDir(): string {
  return join(process.env.VAEKIT_CACHE ?? join(homedir(), ".cache", "vaekit"), "speech-espeak");
}

/** "espeak-ng <version>" of the installed synthesiser, or null if espeak-ng cannot be run. */
export function espeakVersion(): string | null {
  const r = spawnSync(ESPEAK, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return null;
  const version = /\d+(\.\d+)+/.exec(r.stdout)?.[0];
  return `espeak-ng ${version ?? r.stdout.trim().split("\n")[0]}`;
}

/** Variant names espeak-ng knows (the part after "+" in a voice), e.g. m1, f2, klatt. */
function espeakVariants(): Set<string> {
  const r = spawnSync(ESPEAK, ["--voices=variant"], { encoding: "utf8" });
  const names = new Set<string>();
  for (const line of r.stdout.split("\n")) {
    const m = /\s!v\/(\S+)/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

function validateSpec(spec: EspeakDatasetSpec): void {
  const parsed = specSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VaekitError(`speech dataset spec: ${issue.path.join(".")}: ${issue.message}`);
  }
  for (const word of spec.words) {
    // Letters, apostrophes, spaces and hyphens inside; never a leading "-" that espeak would take as an option.
    if (!/^\p{L}[\p{L}' -]*$/u.test(word)) throw new VaekitError(`speech dataset spec: word ${JSON.stringify(word)} must be letters`);
  }
  const variants = espeakVariants();
  for (const voice of spec.voices) {
    const [language, variant, ...rest] = voice.split("+");
    if (!/^[a-z0-9-]+$/i.test(language) || rest.length > 0) throw new VaekitError(`speech dataset spec: bad voice ${JSON.stringify(voice)} (expected language+variant, e.g. en-us+f3)`);
    // espeak-ng silently ignores an unknown variant, which would quietly duplicate voices.
    if (variant !== undefined && !variants.has(variant)) {
      throw new VaekitError(`speech dataset spec: espeak-ng has no voice variant "${variant}" (in ${voice}); see espeak-ng --voices=variant`);
    }
  }
}

function fileNameFor(word: string, voice: string, pitch: number, speed: number): string {
  const safe = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return `wav/${safe(word)}_${safe(voice)}_p${pitch}_s${speed}.wav`;
}

/** The manifest entries a spec describes, in a fixed order (word, voice, pitch, speed). */
export function manifestEntries(spec: EspeakDatasetSpec): SpeechManifestEntry[] {
  const entries: SpeechManifestEntry[] = [];
  for (const word of spec.words)
    for (const voice of spec.voices)
      for (const pitch of spec.pitches)
        for (const speed of spec.speeds) entries.push({ word, voice, pitch, speed, file: fileNameFor(word, voice, pitch, speed) });
  return entries;
}

function speak(entry: SpeechManifestEntry, path: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const args = ["-v", entry.voice, "-p", String(entry.pitch), "-s", String(entry.speed), "-w", tmp, entry.word];
  return new Promise((resolve, reject) => {
    const child = spawn(ESPEAK, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "ENOENT" ? new VaekitError(MISSING) : new VaekitError(`espeak-ng failed to start: ${err.message}`)),
    );
    child.on("close", (code) => {
      if (code !== 0 || !existsSync(tmp)) {
        rmSync(tmp, { force: true });
        const why = stderr.trim().split("\n")[0] || `exit code ${code}`;
        reject(new VaekitError(`espeak-ng could not speak "${entry.word}" with voice ${entry.voice}: ${why}`));
        return;
      }
      renameSync(tmp, path); // complete files only, so a present file can be trusted
      resolve();
    });
  });
}

export function readSpeechManifest(path: string): SpeechManifest {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VaekitError(code === "ENOENT" ? `${path}: no such manifest (generate the dataset first)` : `${path}: cannot read (${code})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new VaekitError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VaekitError(`${path}: not a speech dataset manifest (${issue.path.join(".") || "top level"}: ${issue.message})`);
  }
  return parsed.data as SpeechManifest;
}

export interface GenerateOptions {
  /** Parallel espeak-ng processes (default 2). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Speak every combination in `spec` into `outDir` and write `outDir/manifest.json`.
 * Returns the manifest. Throws a one-line VaekitError if espeak-ng is missing.
 */
export async function generateEspeakDataset(spec: EspeakDatasetSpec, outDir: string, options: GenerateOptions = {}): Promise<SpeechManifest> {
  const version = espeakVersion();
  if (version === null) throw new VaekitError(MISSING);
  validateSpec(spec);
  const manifestPath = join(outDir, "manifest.json");
  let reuse = false;
  if (existsSync(manifestPath)) {
    try {
      reuse = readSpeechManifest(manifestPath).espeakVersion === version;
    } catch {
      reuse = false; // a broken manifest is simply rebuilt
    }
  }
  const entries = manifestEntries(spec);
  mkdirSync(join(outDir, "wav"), { recursive: true });
  const todo = entries.filter((e) => !(reuse && existsSync(join(outDir, e.file))));
  const total = entries.length;
  let done = total - todo.length;
  options.onProgress?.(done, total);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const entry = todo[next++];
      await speak(entry, join(outDir, entry.file));
      options.onProgress?.(++done, total);
    }
  };
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
  await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
  const manifest: SpeechManifest = { format: "vaekit-speech-espeak", version: 1, espeakVersion: version, spec, entries };
  writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}
