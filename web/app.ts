/**
 * The vaekit browser app. The models run here, in the page, on jax-js (WebGPU when the browser
 * offers an adapter, else WebAssembly); the server only hands out files. Three views, each shown
 * once it has a model: images (this file), text (text-view.ts) and speech (speech-view.ts).
 */
import { deviceSummary, initEngine, tree, type DeviceChoice } from "../src/engine/index.js";
import { decodeModel, type ModelBundle } from "../src/models/io.js";
import { makeInference, type Inference } from "../src/models/inference.js";
import { buildVae } from "../src/models/vae.js";
import { makeEvaluator } from "../src/train/evaluate.js";
import { parseIdx } from "../src/data/idx.js";
import { datasetFromIdx, type Dataset } from "../src/data/datasets.js";
import { Rng } from "../src/data/rng.js";
import type { ImageShape } from "../src/io/image.js";
import {
  interpolationPath,
  latentActivity,
  latentPlane,
  planePoint,
  projectToPlane,
  row,
  unitsByActivity,
  type LatentPlane,
} from "../src/apps/images/latent.js";
import { applyDirection, attributeDirection, computeAttributes, readAttributes, type AttributeSet } from "../src/apps/images/attributes.js";
import type { ServerInfo } from "../src/server/app.js";
import { modelKind, type ModelKind } from "../src/server/model-kind.js";
import { DrawPad, showExample, showGrid } from "./canvas.js";
import { latestOnly, serial } from "./jobs.js";
import { useTextModel, wireTextView } from "./text-view.js";
import { addServerClips, drawSpeechStart, useSpeechModel, wireSpeechView } from "./speech-view.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = (id: string) => $<HTMLCanvasElement>(id);
const input = (id: string) => $<HTMLInputElement>(id);

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f"];
const SAMPLES = 64;
const MAX_SLIDERS = 16;

interface MapState {
  data: Dataset;
  mu: Float32Array;
  plane: LatentPlane;
  coords: Float32Array;
  range: number;
}

/** Everything that depends on the loaded model. */
interface Session {
  bundle: ModelBundle;
  inf: Inference;
  shape: ImageShape;
  L: number;
  negElbo: (x: Float32Array) => Promise<{ neg_elbo: number; recon: number; kl: number }>;
  map?: MapState;
  attributes?: { set: AttributeSet; note: string };
  current: Float32Array; // the drawing, as a model input
  interpA: Float32Array;
  interpB: Float32Array;
  sliderZ: Float32Array;
  sliderUnits: number[];
  sampleSeed: number;
}

let session: Session | undefined;
let serverMap: Dataset | undefined;
const pad = new DrawPad(canvas("pad"), () => scheduleRedraw());

function setStatus(text: string, state?: "ready" | "error" | "loading"): void {
  $("status").textContent = text;
  if (state) document.body.dataset.status = state;
}
const reportError = (err: unknown) => setStatus(String((err as Error).message ?? err), "error");

// ---------------------------------------------------------------------------------------------
// Loading

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** What the server serves, and its labelled examples for the map (when it has them). */
async function loadServerInfo(): Promise<Partial<ServerInfo>> {
  const info = (await fetch("api/info").then((r) => (r.ok ? r.json() : null)).catch(() => null)) as Partial<ServerInfo> | null;
  if (!info?.map) return info ?? {};
  const images = parseIdx(await fetchBytes("map/images.idx"), "map images");
  const labels = info.map.labelled ? parseIdx(await fetchBytes("map/labels.idx"), "map labels") : undefined;
  serverMap = datasetFromIdx(info.map.name, images, labels, { classNames: info.map.classNames ?? undefined });
  return info;
}

async function useModel(bundle: ModelBundle, name: string): Promise<void> {
  const old = session;
  if (old) void serial(async () => tree.dispose(old.bundle.params as never));
  const inf = makeInference(bundle);
  const shape = bundle.config.inputShape as unknown as ImageShape;
  const L = bundle.config.latentDim;
  const evaluate = makeEvaluator(buildVae(bundle.config));
  const s: Session = {
    bundle,
    inf,
    shape,
    L,
    negElbo: (x) => evaluate(bundle.params, x, { batchSize: 1, seed: 0 }),
    current: new Float32Array(shape[0] * shape[1] * shape[2]),
    interpA: new Float32Array(0),
    interpB: new Float32Array(0),
    sliderZ: new Float32Array(L),
    sliderUnits: [],
    sampleSeed: 1,
  };
  session = s;
  $("model-name").textContent = `${name} · ${shape.join("×")} · ${L}-D latent · ${bundle.config.likelihood.type}`;

  const sameShape = serverMap && serverMap.shape.join() === shape.join();
  if (sameShape && serverMap) s.map = await buildMap(s, serverMap);
  s.attributes = findAttributes(s);
  s.sliderUnits = s.map ? unitsByActivity(latentActivity(s.map.mu, L)) : Array.from({ length: L }, (_, i) => i);

  pad.resize(shape);
  if (s.map) {
    const first = row(s.map.data.x, s.current.length, 0);
    pad.show(first, shape);
    s.sliderZ = (await serial(() => inf.encode(first))).mu;
  }
  [s.interpA, s.interpB] = await randomPair(s);
  buildSliders(s);
  buildAttributeMenu(s);
  await Promise.all([drawSliders(), drawSamples(), s.map ? decodeMapAt(0, 0) : drawMap(), drawInterpolation(), redraw()]);
}

async function buildMap(s: Session, data: Dataset): Promise<MapState> {
  const mu = (await serial(() => s.inf.encode(data.x))).mu;
  const plane = latentPlane(s.L, mu);
  const coords = projectToPlane(plane, mu);
  const sorted = Float32Array.from(coords, Math.abs).sort();
  const range = Math.max(1e-3, sorted[Math.floor(sorted.length * 0.99)]) * 1.1;
  return { data, mu, plane, coords, range };
}

function findAttributes(s: Session): Session["attributes"] {
  const stored = readAttributes(s.bundle.extras, s.L);
  if (stored) return { set: stored, note: `attribute vectors stored in the model file (from ${stored.source})` };
  const d = s.map?.data;
  if (!d?.labels) return undefined;
  const names = d.classNames ?? Array.from({ length: Math.max(...d.labels) + 1 }, (_, k) => String(k));
  const set = computeAttributes(s.map!.mu, s.L, d.labels, names, d.name);
  return { set, note: `attribute vectors computed here from ${d.n} labelled examples of ${d.name}` };
}

/** Show a view's sections (and its header parts) once it has a model. */
function showView(kind: ModelKind): void {
  for (const el of document.querySelectorAll<HTMLElement>(`[data-view="${kind}"]`)) el.hidden = false;
  $("welcome").hidden = document.querySelector("[data-view]:not([hidden])") !== null;
}

/** A model file's bytes into the view its metadata names (image, text or speech); `clips` are a speech model's examples. */
async function openModel(bytes: Uint8Array, name: string, clips: readonly { name: string; url: string }[] = []): Promise<ModelKind> {
  const kind = modelKind(bytes, name);
  setStatus(`loading ${name}…`, "loading");
  await new Promise((r) => setTimeout(r, 0)); // let the status paint before the work
  if (kind === "image") await useModel(decodeModel(bytes, name), name);
  else if (kind === "text") await useTextModel(bytes, name);
  else {
    useSpeechModel(bytes, name);
    await addServerClips(clips);
    await drawSpeechStart();
  }
  showView(kind); // only once the model is in: a file that fails leaves the page as it was
  return kind;
}

// ---------------------------------------------------------------------------------------------
// Views

/** Run a view's model work in the page's job queue (jobs.ts) and show its result. */
function showLatest<T>(view: string, work: () => Promise<T>, show: (result: T) => void): Promise<void> {
  return latestOnly(view, async () => show(await work()));
}

async function drawSamples(): Promise<void> {
  const s = session;
  if (!s) return;
  const t = Number(input("temperature").value);
  $("temperature-value").textContent = t.toFixed(2);
  await showLatest("samples", () => s.inf.sample(SAMPLES, s.sampleSeed, t), ({ x }) => showGrid(canvas("samples-out"), x, s.shape, 8));
}

let redrawPending = false;
function scheduleRedraw(): void {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => {
    redrawPending = false;
    redraw().catch(reportError);
  });
}

/** Everything that follows the drawing: input, reconstruction, ELBO, edit. */
async function redraw(): Promise<void> {
  const s = session;
  if (!s) return;
  const x = (s.current = pad.read(s.shape));
  showExample(canvas("input-view"), x, s.shape);
  await Promise.all([
    showLatest("recon", () => s.inf.reconstruct(x), (r) => showExample(canvas("recon"), r, s.shape)),
    showLatest("elbo", () => s.negElbo(x), (r) => {
      $("elbo").textContent = `negative ELBO ${r.neg_elbo.toFixed(1)} nats = reconstruction ${r.recon.toFixed(1)} + KL ${r.kl.toFixed(1)}`;
    }),
    drawEdit(),
  ]);
}

async function randomPair(s: Session): Promise<[Float32Array, Float32Array]> {
  const D = s.current.length;
  if (s.map) {
    const rng = new Rng(s.sampleSeed);
    const n = s.map.data.n;
    const i = rng.int(n);
    const j = (i + 1 + rng.int(n - 1)) % n;
    return [row(s.map.data.x, D, i), row(s.map.data.x, D, j)];
  }
  const { x } = await serial(() => s.inf.sample(2, s.sampleSeed));
  return [row(x, D, 0), row(x, D, 1)];
}

async function drawInterpolation(): Promise<void> {
  const s = session;
  if (!s) return;
  const steps = Number(input("interp-steps").value);
  const slerp = input("interp-slerp").checked;
  const [a, b] = [s.interpA, s.interpB];
  const frames = async () => {
    const { mu } = await s.inf.encode(new Float32Array([...a, ...b]));
    return s.inf.decode(interpolationPath(row(mu, s.L, 0), row(mu, s.L, 1), steps, slerp));
  };
  await showLatest("interp", frames, (f) => showGrid(canvas("interp-out"), new Float32Array([...a, ...f, ...b]), s.shape, steps + 2));
}

function buildSliders(s: Session): void {
  const list = $("slider-list");
  list.replaceChildren();
  for (const u of s.sliderUnits.slice(0, MAX_SLIDERS)) {
    const label = document.createElement("label");
    label.textContent = `z${u}`;
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", min: "-3", max: "3", step: "0.05", value: String(s.sliderZ[u]) });
    slider.dataset.unit = String(u);
    slider.addEventListener("input", () => {
      s.sliderZ[u] = Number(slider.value);
      drawSliders().catch(reportError);
    });
    list.append(label, slider);
  }
}

async function drawSliders(): Promise<void> {
  const s = session;
  if (!s) return;
  const z = s.sliderZ.slice();
  await showLatest("sliders", () => s.inf.decode(z), (x) => showExample(canvas("slider-out"), x, s.shape));
}

async function setSliders(z: Float32Array): Promise<void> {
  const s = session!;
  s.sliderZ = z.slice();
  for (const el of $("slider-list").querySelectorAll<HTMLInputElement>("input")) el.value = String(s.sliderZ[Number(el.dataset.unit)]);
  await drawSliders();
}

function drawMap(point?: { u: number; v: number }): void {
  const c = canvas("map-canvas");
  const ctx = c.getContext("2d")!;
  ctx.clearRect(0, 0, c.width, c.height);
  const m = session?.map;
  $("map-legend").replaceChildren();
  if (!m) {
    ctx.fillStyle = "#6a7285";
    ctx.fillText("no test set from the server (vaekit serve --data …)", 20, c.height / 2);
    return;
  }
  const toPx = (u: number, v: number) => [((u / m.range + 1) / 2) * c.width, ((1 - v / m.range) / 2) * c.height];
  ctx.globalAlpha = 0.7;
  for (let i = 0; i < m.data.n; i++) {
    const [x, y] = toPx(m.coords[2 * i], m.coords[2 * i + 1]);
    ctx.fillStyle = m.data.labels ? PALETTE[m.data.labels[i] % PALETTE.length] : "#4e79a7";
    ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
  }
  ctx.globalAlpha = 1;
  if (point) {
    const [x, y] = toPx(point.u, point.v);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.strokeRect(x - 5, y - 5, 10, 10);
  }
  (m.data.classNames ?? []).forEach((name, k) => {
    const li = document.createElement("li");
    const dot = document.createElement("span");
    dot.style.background = PALETTE[k % PALETTE.length];
    li.append(dot, name);
    $("map-legend").append(li);
  });
}

async function decodeMapPoint(e: PointerEvent): Promise<void> {
  const m = session?.map;
  if (!m) return;
  const r = canvas("map-canvas").getBoundingClientRect();
  await decodeMapAt((((e.clientX - r.left) / r.width) * 2 - 1) * m.range, (1 - ((e.clientY - r.top) / r.height) * 2) * m.range);
}

async function decodeMapAt(u: number, v: number): Promise<void> {
  const s = session!;
  drawMap({ u, v });
  await showLatest("map", () => s.inf.decode(planePoint(s.map!.plane, u, v)), (x) => showExample(canvas("map-out"), x, s.shape));
}

function buildAttributeMenu(s: Session): void {
  const select = $<HTMLSelectElement>("attribute");
  select.replaceChildren();
  for (const c of s.attributes?.set.classes ?? []) select.append(new Option(c.name, c.name));
  $("edit-note").textContent = s.attributes?.note ?? "no attribute vectors: run `vaekit attributes`, or serve labelled test data";
}

async function drawEdit(): Promise<void> {
  const s = session;
  const strength = Number(input("strength").value);
  $("strength-value").textContent = strength.toFixed(1);
  if (!s?.attributes) return;
  const name = $<HTMLSelectElement>("attribute").value;
  if (!name) return;
  const direction = attributeDirection(s.attributes.set, name);
  const x = s.current;
  const steps = 7;
  const edits = async () => {
    const z = (await s.inf.encode(x)).mu;
    const zs = new Float32Array(steps * s.L);
    for (let i = 0; i < steps; i++) zs.set(applyDirection(z, direction, (strength * i) / (steps - 1)), i * s.L);
    return s.inf.decode(zs);
  };
  await showLatest("edit", edits, (out) => showGrid(canvas("edit-out"), new Float32Array([...x, ...out]), s.shape, steps + 1));
}

// ---------------------------------------------------------------------------------------------
// Wiring

function on(id: string, event: string, f: (e: Event) => unknown): void {
  $(id).addEventListener(event, (e) => {
    if (!session) return;
    try {
      // called at once (event semantics such as pointer capture); async handlers report later
      void Promise.resolve(f(e)).catch(reportError);
    } catch (err) {
      reportError(err);
    }
  });
}

async function readPicture(file: File): Promise<void> {
  const bitmap = await createImageBitmap(file);
  const inverted = pad.paint(bitmap, session!.shape[2] === 1);
  $("upload-note").textContent = `${file.name}${inverted ? " (inverted: dark on light)" : ""}`;
}

on("temperature", "input", drawSamples);
on("resample", "click", () => {
  session!.sampleSeed++;
  drawSamples();
});
on("clear", "click", () => pad.clear());
on("random-example", "click", () => {
  const s = session!;
  if (!s.map) return;
  s.sampleSeed++;
  pad.show(row(s.map.data.x, s.current.length, new Rng(s.sampleSeed).int(s.map.data.n)), s.shape);
});
on("upload", "change", () => {
  const file = input("upload").files?.[0];
  if (file) void readPicture(file).catch((err) => setStatus(`cannot read ${file.name}: ${err.message ?? err}`, "error"));
});
pad.canvas.addEventListener("dragover", (e) => e.preventDefault());
pad.canvas.addEventListener("drop", (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files[0];
  if (file && session) void readPicture(file).catch((err) => setStatus(`cannot read ${file.name}: ${err.message ?? err}`, "error"));
});
on("interp-a", "click", () => {
  session!.interpA = session!.current.slice();
  drawInterpolation();
});
on("interp-b", "click", () => {
  session!.interpB = session!.current.slice();
  drawInterpolation();
});
on("interp-random", "click", async () => {
  session!.sampleSeed++;
  [session!.interpA, session!.interpB] = await randomPair(session!);
  await drawInterpolation();
});
on("interp-steps", "input", drawInterpolation);
on("interp-slerp", "change", drawInterpolation);
on("sliders-from-drawing", "click", async () => setSliders((await serial(() => session!.inf.encode(session!.current))).mu));
on("sliders-reset", "click", () => setSliders(new Float32Array(session!.L)));
on("map-canvas", "pointerdown", (e) => {
  canvas("map-canvas").setPointerCapture((e as PointerEvent).pointerId);
  decodeMapPoint(e as PointerEvent);
});
on("map-canvas", "pointermove", (e) => (e as PointerEvent).buttons && decodeMapPoint(e as PointerEvent));
on("attribute", "change", drawEdit);
on("strength", "input", drawEdit);
$("model-file").addEventListener("change", async () => {
  const file = input("model-file").files?.[0];
  if (!file) return;
  try {
    await openModel(new Uint8Array(await file.arrayBuffer()), file.name);
    setStatus(`ready · ${device}`, "ready");
  } catch (err) {
    setStatus(`cannot open ${file.name}: ${(err as Error).message ?? err}`, "error");
  } finally {
    input("model-file").value = ""; // the same file again is a new choice
  }
});
wireTextView(reportError);
wireSpeechView(reportError);

let device = "";
async function main(): Promise<void> {
  // ?device=wasm|webgpu|auto picks the compute device (default auto: WebGPU on a hardware adapter)
  await initEngine((new URLSearchParams(location.search).get("device") ?? "auto") as DeviceChoice);
  device = deviceSummary();
  setStatus(`${device}: fetching the models…`);
  const info = await loadServerInfo().catch((err) => (console.warn("no latent map:", err), {} as Partial<ServerInfo>));
  // a server without views in its info serves (at most) an image model
  const views = info.views ?? { image: true, text: false, speech: false };
  const errors: string[] = [];
  const load = async (url: string, name: string, clips?: { name: string; url: string }[]) => {
    try {
      const r = await fetch(url);
      if (!r.ok) return;
      await openModel(new Uint8Array(await r.arrayBuffer()), name, clips);
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message ?? err}`);
    }
  };
  if (views.image) await load("model.safetensors", info.model ?? "model");
  if (info.text) await load(info.text.url, info.text.model);
  if (info.speech) await load(info.speech.url, info.speech.model, info.speech.examples);
  if (errors.length) setStatus(`error: ${errors.join("; ")}`, "error");
  else if ($("welcome").hidden) setStatus(`ready · ${device}`, "ready");
  else setStatus(`no model from the server; open a model file · ${device}`, "ready");
}

main().catch((err) => setStatus(`error: ${(err as Error).message ?? err}`, "error"));
