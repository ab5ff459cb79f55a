/**
 * The page's speech view: a spectrogram VAE running here, in the page. Clips come from the server
 * (held-out utterances) or from WAV files the user opens; each is cut to the model's segment as the
 * training data was. Outputs are voiced with mel inversion + Griffin–Lim in the page and played
 * from WAV bytes through blob: URLs, each beside its spectrogram.
 */
import { tree } from "../src/engine/index.js";
import { VaekitError } from "../src/errors.js";
import type { Image } from "../src/io/image.js";
import {
  decodeSpeechModel,
  formatOf,
  makeSpeechGenerator,
  segmentFromWavBytes,
  segmentSpectrogram,
  segmentToWavBytes,
  type AudioSegment,
  type SegmentFormat,
  type SpeechGenerator,
  type SpeechModel,
} from "../src/apps/speech/index.js";
import { showImage } from "./canvas.js";
import { serial } from "./jobs.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);

interface Clip {
  name: string;
  /** The WAV file as given: what "original" plays. */
  bytes: Uint8Array;
  segment: AudioSegment;
}

interface SpeechSession {
  model: SpeechModel;
  generator: SpeechGenerator;
  format: SegmentFormat;
  sampleSeed: number;
}

let session: SpeechSession | undefined;
const clips: Clip[] = [];
/** blob: URLs of each output area, revoked when the area is redrawn. */
const urls = new Map<string, string[]>();

/** Load a speech model into the view; clips already listed are re-cut for its format. */
export function useSpeechModel(bytes: Uint8Array, name: string): void {
  const model = decodeSpeechModel(bytes, name);
  const old = session;
  if (old) void serial(async () => tree.dispose(old.model.bundle.params as never));
  const format = formatOf(model.info);
  session = { model, generator: makeSpeechGenerator(model), format, sampleSeed: 1 };
  const { features, frames } = model.info;
  $("speech-model-name").textContent =
    `${name} · ${features.nMels} mel bands × ${frames} frames (${((frames * features.hop) / features.sampleRate).toFixed(2)} s at ${features.sampleRate / 1000} kHz) · ${model.bundle.config.latentDim}-D latent`;
  const dropped: string[] = [];
  for (const c of clips.splice(0)) {
    try {
      addClip(c.name, c.bytes);
    } catch (err) {
      if (!(err instanceof VaekitError)) throw err;
      dropped.push(err.message);
    }
  }
  listClips();
  note(dropped.length ? `clips this model cannot use: ${dropped.join("; ")}` : "", dropped.length > 0);
}

/** Add a WAV clip (bytes as given); throws VaekitError naming the clip when it cannot be used. */
function addClip(name: string, bytes: Uint8Array): Clip {
  const clip = { name, bytes, segment: segmentFromWavBytes(bytes, session!.format, name) };
  clips.push(clip);
  return clip;
}

function listClips(): void {
  for (const id of ["speech-clip", "speech-a", "speech-b"]) {
    const el = select(id);
    const keep = el.value;
    el.replaceChildren(...clips.map((c, i) => new Option(c.name, String(i))));
    if (keep && Number(keep) < clips.length) el.value = keep;
  }
  if (clips.length > 1 && select("speech-a").value === select("speech-b").value) select("speech-b").value = "1";
  const none = clips.length === 0;
  for (const id of ["speech-reconstruct", "speech-morph-run"]) $<HTMLButtonElement>(id).disabled = none;
  $("speech-clip-note").textContent = none ? "no clips yet: open WAV files" : `${clips.length} clip${clips.length === 1 ? "" : "s"}`;
}

/** Clips served with the model: fetched and cut; a clip that fails is reported and skipped. */
export async function addServerClips(list: readonly { name: string; url: string }[]): Promise<void> {
  for (const { name, url } of list) {
    try {
      const r = await fetch(url);
      if (!r.ok) throw new VaekitError(`${url}: HTTP ${r.status}`);
      addClip(name, new Uint8Array(await r.arrayBuffer()));
    } catch (err) {
      note(`cannot use ${name}: ${(err as Error).message}`, true);
    }
  }
  listClips();
}

function note(text: string, error = false): void {
  $("speech-note").textContent = text;
  $("speech-note").classList.toggle("error", error);
}

// ---------------------------------------------------------------------------------------------
// Output

interface Output {
  label: string;
  /** Name of the file the download link saves. */
  file: string;
  wav: Uint8Array;
  spectrogram: Image;
  kind: string;
  /** Content frames the sound was made from (absent for an original file). */
  frames?: number;
}

function figure(area: string, o: Output): HTMLElement {
  const fig = document.createElement("figure");
  fig.className = "clip";
  fig.dataset.kind = o.kind;
  if (o.frames !== undefined) fig.dataset.frames = String(o.frames);
  const canvas = document.createElement("canvas");
  canvas.className = "spectrogram";
  showImage(canvas, o.spectrogram);
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "metadata";
  const url = URL.createObjectURL(new Blob([o.wav as Uint8Array<ArrayBuffer>], { type: "audio/wav" }));
  urls.get(area)!.push(url);
  audio.src = url;
  const caption = document.createElement("figcaption");
  const save = document.createElement("a");
  Object.assign(save, { href: url, download: o.file, className: "download", textContent: "WAV", title: `save ${o.file}` });
  caption.append(o.label, " ", save);
  fig.append(canvas, audio, caption);
  return fig;
}

/** Replace an output area's figures; `runs` counts completed renders (tests wait on it). */
function render(area: string, outputs: Output[]): void {
  for (const url of urls.get(area) ?? []) URL.revokeObjectURL(url);
  urls.set(area, []);
  const el = $(area);
  el.replaceChildren(...outputs.map((o) => figure(area, o)));
  el.dataset.runs = String(Number(el.dataset.runs ?? 0) + 1);
}

function voiced(s: SpeechSession, label: string, file: string, kind: string, data: Float32Array, length: number): Output {
  return {
    label,
    file,
    kind,
    frames: length,
    wav: segmentToWavBytes(data, length, s.format),
    spectrogram: segmentSpectrogram(data, length, s.format),
  };
}

/** A clip's name as a WAV file name (example names are like "three (en+f2, pitch 40)"). */
const fileName = (name: string) => (/\.wav$/i.test(name) ? name : `${name.replace(/[^\w+-]+/g, "_").replace(/^_|_$/g, "")}.wav`);

const clipAt = (id: string): Clip | undefined => clips[Number(select(id).value)];

async function reconstruct(): Promise<void> {
  const s = session;
  const clip = clipAt("speech-clip");
  if (!s || !clip) return;
  const seg = clip.segment;
  const rec = await serial(() => s.generator.reconstruct(seg.data, seg.length));
  render("speech-recon-out", [
    { label: `original: ${clip.name}`, file: fileName(clip.name), kind: "original", wav: clip.bytes, spectrogram: segmentSpectrogram(seg.data, seg.length, s.format) },
    voiced(s, "input through the vocoder (no VAE)", "vocoded.wav", "vocoded", seg.data, seg.length),
    voiced(s, "reconstruction", "reconstruction.wav", "reconstruction", rec.data, rec.length),
  ]);
  note(`${clip.name}: ${seg.length} frames${seg.cropped ? " (the middle of a longer clip)" : ""}`);
}

async function morph(): Promise<void> {
  const s = session;
  const a = clipAt("speech-a");
  const b = clipAt("speech-b");
  if (!s || !a || !b) return;
  const steps = Number(input("speech-steps").value);
  const path = await serial(() => s.generator.morph(a.segment, b.segment, steps));
  render(
    "speech-morph-out",
    path.map((p, i) => {
      const label = i === 0 ? `A: ${a.name}` : i === steps - 1 ? `B: ${b.name}` : `t = ${(i / (steps - 1)).toFixed(2)}`;
      return voiced(s, label, `morph-${i + 1}.wav`, "morph", p.data, p.length);
    }),
  );
}

async function sample(): Promise<void> {
  const s = session;
  if (!s) return;
  const n = Math.max(1, Math.min(12, Math.round(Number(input("speech-count").value)) || 1));
  const temperature = Number(input("speech-temperature").value);
  const out = await serial(() => s.generator.sample(n, s.sampleSeed, temperature));
  render("speech-samples-out", out.map((g, i) => voiced(s, `sample ${i + 1}`, `sample-${i + 1}.wav`, "sample", g.data, g.length)));
}

/** First pictures and sounds after a model loads. */
export async function drawSpeechStart(): Promise<void> {
  if (!session) return;
  if (clips.length) await reconstruct();
  if (clips.length > 1) await morph();
  await sample();
}

// ---------------------------------------------------------------------------------------------
// Wiring

let busy = false;

/** Run a (slow) step after the "working" note has painted; user errors go to the note. */
async function run(what: string, f: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
  if (!session || busy) return;
  busy = true;
  document.body.dataset.speech = "busy";
  note(`${what}…`);
  await new Promise((r) => setTimeout(r, 0));
  try {
    await f();
    if ($("speech-note").textContent === `${what}…`) note("");
  } catch (err) {
    if (err instanceof VaekitError) note(err.message, true);
    else onError(err);
  } finally {
    busy = false;
    document.body.dataset.speech = "ready";
  }
}

/** Add opened WAV files as clips and select them; returns true when all could be used (the others are reported). */
async function openFiles(files: FileList): Promise<boolean> {
  note("");
  const added: number[] = [];
  const errors: string[] = [];
  for (const file of files) {
    try {
      addClip(file.name, new Uint8Array(await file.arrayBuffer()));
      added.push(clips.length - 1);
    } catch (err) {
      if (!(err instanceof VaekitError)) throw err;
      errors.push(err.message);
    }
  }
  listClips();
  if (added.length) {
    select("speech-clip").value = String(added[0]);
    select(added.length > 1 ? "speech-a" : "speech-b").value = String(added[0]);
    if (added.length > 1) select("speech-b").value = String(added[1]);
  }
  if (errors.length) note(errors.join("; "), true);
  return errors.length === 0;
}

export function wireSpeechView(onError: (err: unknown) => void): void {
  const click = (id: string, what: string, f: () => Promise<void>) => $(id).addEventListener("click", () => void run(what, f, onError));
  click("speech-reconstruct", "reconstructing", reconstruct);
  click("speech-morph-run", "morphing", morph);
  click("speech-sample", "sampling", () => {
    session!.sampleSeed++;
    return sample();
  });
  $("speech-clip").addEventListener("change", () => void run("reconstructing", reconstruct, onError));
  $("speech-steps").addEventListener("input", () => ($("speech-steps-value").textContent = input("speech-steps").value));
  $("speech-temperature").addEventListener("input", () => ($("speech-temperature-value").textContent = Number(input("speech-temperature").value).toFixed(2)));
  input("speech-upload").addEventListener("change", () => {
    const files = input("speech-upload").files;
    if (!files?.length || !session) return;
    void openFiles(files)
      .then((allOpened) => (allOpened ? run("reconstructing", reconstruct, onError) : undefined))
      .catch(onError)
      .finally(() => (input("speech-upload").value = ""));
  });
}
