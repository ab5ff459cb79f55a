/**
 * End-to-end: the browser app in Debian's Chromium (headless, driven by playwright-core), on a
 * small model trained here. The model runs in the page on WebAssembly; one test runs it on WebGPU
 * through Chromium's SwiftShader (a GPU emulated on the CPU) and compares.
 * Screenshots go to test-artifacts/.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { initEngine } from "../src/engine/index.js";
import { loadDataset } from "../src/data/load.js";
import { subset } from "../src/data/datasets.js";
import { parseVaeConfig } from "../src/models/config.js";
import { encodeModel } from "../src/models/io.js";
import { loadModel } from "../src/models/files.js";
import { TrainConfig } from "../src/train/config.js";
import { runTraining } from "../src/train/run.js";
import { createImage } from "../src/io/image.js";
import { writePng } from "../src/io/files.js";
import { createServer } from "../src/server/app.js";
import { buildWebApp, REPO_ROOT } from "../src/server/bundle.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM} (apt-get install chromium)`;
const ARTIFACTS = join(REPO_ROOT, "test-artifacts");
const D = 784;

type Pixels = { w: number; h: number; gray: number[] };
let context: BrowserContext;
let page: Page;
let close: () => Promise<void>;
let appUrl = "";
const pageErrors: string[] = [];
const dir = mkdtempSync(join(tmpdir(), "vaekit-browser-"));
const testSet = loadDataset("mnist", "test");
const digit = (i: number) => testSet.x.slice(i * D, (i + 1) * D);

before(async () => {
  if (skip) return;
  await initEngine("wasm");
  const webRoot = join(dir, "web");
  await buildWebApp(webRoot);
  const config = parseVaeConfig({ inputShape: [28, 28, 1], latentDim: 8, encoder: { type: "mlp", hidden: [256] }, decoder: { type: "mlp", hidden: [256] }, likelihood: { type: "bernoulli" } });
  const state = await runTraining({
    config,
    train: TrainConfig.parse({ epochs: 2, batchSize: 64, lr: 3e-3, seed: 0, binarize: "dynamic" }),
    data: subset(loadDataset("mnist", "train"), Int32Array.from({ length: 2000 }, (_, i) => i)),
    validation: 200,
    outDir: join(dir, "model"),
    dataSpec: "mnist",
  });
  const bundle = { config, params: state.params, extras: {} };
  const app = await createServer({
    webRoot,
    model: { bytes: await encodeModel(bundle), bundle, name: "test-model" },
    map: subset(testSet, Int32Array.from({ length: 500 }, (_, i) => i)),
  });
  const url = (appUrl = await app.listen({ port: 0, host: "127.0.0.1" }));
  context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1250 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  close = async () => {
    await context.close();
    await app.close();
  };
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.goto(`${url}/`);
  await page.waitForFunction(() => document.body.dataset.status !== "loading", null, { timeout: 120_000 });
});

after(async () => {
  await close?.();
  rmSync(dir, { recursive: true, force: true });
});

/** A canvas's size and red channel (the app draws gray images). */
async function pixels(id: string): Promise<Pixels> {
  await settled();
  return page.evaluate((id) => {
    const c = document.getElementById(id) as HTMLCanvasElement;
    const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    return { w: c.width, h: c.height, gray: Array.from(d.filter((_, i) => i % 4 === 0), (v) => v / 255) };
  }, id);
}
const std = (xs: number[]) => {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length);
};
const meanAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
/** Wait for the redraw that follows input (it runs on the next animation frame). */
/** Wait until the page's queued model work is done (web/jobs.ts counts it in body[data-pending]). */
const settled = () => page.waitForFunction(() => (document.body.dataset.pending ?? "0") === "0");
const frame = async () => {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await settled();
};
async function setRange(id: string, value: number): Promise<void> {
  await page.evaluate(([id, value]) => {
    const el = document.getElementById(id as string) as HTMLInputElement;
    el.value = String(value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, [id, value] as const);
}

test("the app loads the model from the server and renders samples", { skip }, async () => {
  assert.equal(await page.evaluate(() => document.body.dataset.status), "ready", await page.locator("#status").textContent() ?? "");
  assert.match((await page.locator("#status").textContent()) ?? "", /ready · (wasm|webgpu)/);
  assert.match((await page.locator("#model-name").textContent()) ?? "", /test-model · 28×28×1 · 8-D latent/);
  const samples = await pixels("samples-out");
  assert.equal(samples.w, 8 * 29 + 1, "an 8×8 grid of 28-pixel images with 1-pixel separators");
  assert.ok(std(samples.gray) > 0.05, "samples are not blank");
  await setRange("temperature", 0.2);
  await settled();
  const cold = await pixels("samples-out");
  assert.ok(meanAbsDiff(cold.gray, samples.gray) > 0.005, "the temperature slider changes the samples");
  await shot("app-loaded.png");
});

test("a drawn digit gets a reconstruction and a negative ELBO", { skip }, async () => {
  await page.click("#clear");
  await settled();
  await frame();
  const blankRecon = await pixels("recon");
  const box = (await page.locator("#pad").boundingBox())!;
  const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  // a "7": top bar, then the diagonal
  await page.mouse.move(...at(0.25, 0.25));
  await page.mouse.down();
  for (const [fx, fy] of [[0.5, 0.25], [0.75, 0.25], [0.6, 0.5], [0.5, 0.75]]) await page.mouse.move(...at(fx, fy), { steps: 6 });
  await page.mouse.up();
  await frame();
  const input = await pixels("input-view");
  assert.equal(input.w, 28);
  assert.ok(std(input.gray) > 0.1, "the drawing reaches the model input");
  const recon = await pixels("recon");
  assert.ok(meanAbsDiff(recon.gray, blankRecon.gray) > 0.01, "the reconstruction follows the drawing");
  assert.ok(meanAbsDiff(recon.gray, input.gray) < meanAbsDiff(blankRecon.gray, input.gray), "and resembles it more than the blank's");
  const elbo = (await page.locator("#elbo").textContent()) ?? "";
  const m = /negative ELBO ([\d.]+) nats = reconstruction ([\d.]+) \+ KL ([\d.]+)/.exec(elbo);
  assert.ok(m, elbo);
  assert.ok(Math.abs(Number(m[1]) - Number(m[2]) - Number(m[3])) < 0.15);
  await shot("app-drawn.png");
});

test("an uploaded image becomes the model input (dark-on-light images are inverted)", { skip }, async () => {
  const file = join(dir, "upload-digit.png");
  writePng(file, createImage(28, 28, 1, digit(3)));
  await page.setInputFiles("#upload", file);
  await settled();
  await page.waitForFunction(() => document.getElementById("upload-note")!.textContent!.includes("upload-digit.png"));
  await frame();
  const input = await pixels("input-view");
  assert.ok(meanAbsDiff(input.gray, digit(3)) < 1 / 255, "a 28×28 upload arrives pixel for pixel");

  const inverted = join(dir, "dark-on-light.png");
  writePng(inverted, createImage(28, 28, 1, digit(3).map((v) => 1 - v)));
  await page.setInputFiles("#upload", inverted);
  await settled();
  await page.waitForFunction(() => document.getElementById("upload-note")!.textContent!.includes("inverted"));
  await frame();
  assert.ok(meanAbsDiff((await pixels("input-view")).gray, digit(3)) < 1 / 255);
  await shot("app-upload.png");
});

test("attribute editing, interpolation, latent sliders and the latent map respond", { skip }, async () => {
  // attributes: computed in the page from the map's labelled test digits
  assert.match((await page.locator("#edit-note").textContent()) ?? "", /computed here from 500 labelled examples/);
  await page.selectOption("#attribute", "0");
  await setRange("strength", 0);
  await settled();
  const none = await pixels("edit-out");
  await setRange("strength", 3);
  await settled();
  const strong = await pixels("edit-out");
  assert.equal(strong.w, 8 * 29 + 1, "input plus seven strengths");
  assert.ok(std(strong.gray) > 0.05);
  assert.ok(meanAbsDiff(strong.gray, none.gray) > 0.005, "the strength slider changes the edit");

  const interpBefore = await pixels("interp-out");
  await page.click("#interp-a");
  await settled();
  assert.ok(meanAbsDiff((await pixels("interp-out")).gray, interpBefore.gray) > 0.001, "A ← drawing changes the interpolation");

  const sliderBefore = await pixels("slider-out");
  await page.evaluate(() => {
    const el = document.querySelector<HTMLInputElement>("#slider-list input")!;
    el.value = "2.5";
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
  assert.ok(meanAbsDiff((await pixels("slider-out")).gray, sliderBefore.gray) > 0.005, "the most active unit's slider changes the decode");

  const mapBefore = await pixels("map-out");
  const box = (await page.locator("#map-canvas").boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.8, box.y + box.height * 0.2);
  assert.ok(meanAbsDiff((await pixels("map-out")).gray, mapBefore.gray) > 0.005, "clicking the map decodes that point");
  await shot("app-edit-map.png");
});

test("a model file picked by the user replaces the served one", { skip }, async () => {
  const file = join(dir, "picked.safetensors");
  const { config, params } = loadModel(join(dir, "model"));
  writeFileSync(file, await encodeModel({ config, params, extras: {} }));
  await page.setInputFiles("#model-file", file);
  await settled();
  await page.waitForFunction(() => document.getElementById("model-name")!.textContent!.startsWith("picked.safetensors"));
  assert.equal(await page.evaluate(() => document.body.dataset.status), "ready");
  assert.ok(std((await pixels("samples-out")).gray) > 0.05);
  assert.deepEqual(pageErrors, []);
});

test("?device=webgpu runs the model on WebGPU (SwiftShader here) and draws what the wasm device draws", { skip }, async () => {
  // Chromium's emulated GPU: the same WebGPU path as a real adapter, on the CPU
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"] });
  try {
    const open = async (device: string) => {
      const p = await browser.newPage({ viewport: { width: 1400, height: 1250 } });
      const errors: string[] = [];
      p.on("pageerror", (e) => errors.push(e.message));
      await p.goto(`${appUrl}/?device=${device}`);
      await p.waitForFunction(() => document.body.dataset.status !== "loading" && !/fetching/.test(document.getElementById("status")!.textContent!), null, { timeout: 120_000 });
      await p.waitForFunction(() => (document.body.dataset.pending ?? "0") === "0");
      const status = (await p.locator("#status").textContent()) ?? "";
      const gray = await p.evaluate(() => {
        const c = document.getElementById("samples-out") as HTMLCanvasElement;
        return Array.from(c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0));
      });
      return { status, gray, errors };
    };
    const gpu = await open("webgpu");
    assert.match(gpu.status, /^ready · webgpu \(.*swiftshader.*\)$/i, "the status names the device and adapter");
    const cpu = await open("wasm");
    assert.match(cpu.status, /^ready · wasm$/);
    const auto = await open("auto");
    assert.match(auto.status, /^ready · wasm \(the WebGPU adapter, .*swiftshader.*, emulates a GPU on the CPU\)$/i, "auto passes over an emulated GPU");
    assert.equal(gpu.gray.length, cpu.gray.length);
    const maxDiff = gpu.gray.reduce((m, v, i) => Math.max(m, Math.abs(v - cpu.gray[i])), 0);
    assert.ok(maxDiff <= 2, `the 64 samples agree to 2 grey levels (largest difference ${maxDiff})`);
    assert.deepEqual([...gpu.errors, ...cpu.errors, ...auto.errors], []);
  } finally {
    await browser.close();
  }
});
