/**
 * End-to-end: the browser app's text and speech views in Debian's Chromium (headless, driven by
 * playwright-core), on a small sentence VAE and a small speech VAE trained here. Both run in the
 * page on WebAssembly; what the page shows is checked against the same library calls made in
 * Node, and every sound it makes is fetched back from its blob: URL and decoded. Screenshots go
 * to test-artifacts/.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { FastifyInstance } from "fastify";
import { initEngine } from "../src/engine/index.js";
import { Rng } from "../src/data/rng.js";
import { prepareTextData, textModelConfig, trainTextModel } from "../src/apps/text/experiment.js";
import { encodeTextModel, type TextModelBundle } from "../src/apps/text/io.js";
import { makeTextInference, type TextInference } from "../src/apps/text/inference.js";
import { espeakVersion, generateEspeakDataset } from "../src/apps/speech/espeak.js";
import { DEFAULT_SPEECH_TRAINING, formatOf, speechVaeConfig, type SpeechModel } from "../src/apps/speech/model.js";
import { runSpeechTraining } from "../src/apps/speech/run.js";
import { segmentFromWavBytes } from "../src/apps/speech/clip.js";
import { decodeWav, encodeWav16 } from "../src/apps/speech/wav.js";
import { encodeModel } from "../src/models/io.js";
import { createServer, type ServerInfo, type SpeechExample } from "../src/server/app.js";
import { buildWebApp, REPO_ROOT } from "../src/server/bundle.js";
import { heldOutExamples } from "../src/server/speech-examples.js";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM} (apt-get install chromium)`;
const speechSkip = skip || (espeakVersion() === null ? "espeak-ng not installed (apt-get install espeak-ng)" : false);
const ARTIFACTS = join(REPO_ROOT, "test-artifacts");

let context: BrowserContext;
let page: Page;
const servers: FastifyInstance[] = [];
const pageErrors: string[] = [];
const dir = mkdtempSync(join(tmpdir(), "vaekit-browser-ts-"));
let base = "";
let textBundle: TextModelBundle;
let textInf: TextInference;
let trainingLines: string[];
let speech: SpeechModel | undefined;
let examples: SpeechExample[] = [];

/** A toy language: "the red cat sees a small dog", 17 tokens, every sentence 7 words. */
function toyCorpus(n: number, seed: number): string[] {
  const rng = new Rng(seed);
  const pick = (xs: string[]) => xs[rng.int(xs.length)];
  const phrase = () => `${pick(["the", "a"])} ${pick(["red", "big", "small", "old"])} ${pick(["cat", "dog", "bird", "fox"])}`;
  return Array.from({ length: n }, () => `${phrase()} ${pick(["sees", "likes", "chases"])} ${phrase()}`);
}

/** A vowel-like utterance: 0.1 s silence, `seconds` of a harmonic tone with a fade, 0.1 s silence. */
function vowel(seconds: number, rate: number, f0: number): Float32Array {
  const pad = Math.round(0.1 * rate);
  const n = Math.round(seconds * rate);
  const out = new Float32Array(n + 2 * pad);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let h = 1; h <= 20; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / rate) / h;
    out[pad + i] = 0.3 * Math.sin((Math.PI * i) / n) * v;
  }
  return out;
}

async function launch(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(join(dir, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1100 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"],
  });
}

async function serve(options: Omit<Parameters<typeof createServer>[0], "webRoot">): Promise<string> {
  const app = await createServer({ webRoot: join(dir, "web"), ...options });
  servers.push(app);
  return app.listen({ port: 0, host: "127.0.0.1" });
}

async function openPage(url: string): Promise<Page> {
  const p = await context.newPage();
  p.on("pageerror", (e) => pageErrors.push(e.message));
  p.on("console", (m) => m.type() === "error" && pageErrors.push(`console: ${m.text()}`));
  await p.goto(`${url}/`);
  await p.waitForFunction(() => document.body.dataset.status !== "loading" && !/fetching/.test(document.getElementById("status")!.textContent!), null, { timeout: 120_000 });
  return p;
}

before(async () => {
  if (skip) return;
  await initEngine("wasm");
  await buildWebApp(join(dir, "web"));

  trainingLines = toyCorpus(800, 4);
  const data = prepareTextData(trainingLines, { tokenizer: { kind: "word" }, maxTokens: 8, overLength: "drop", validation: 40, seed: 1 });
  const config = textModelConfig(data, 8, { latentDim: 8, hiddenDim: 48, encoderHiddenDim: 32, embedDim: 16 });
  textBundle = await trainTextModel(data, config, {
    steps: 100,
    batchSize: 32,
    lr: 1e-2,
    clipNorm: 5,
    seed: 2,
    klAnneal: { kind: "linear", warmupSteps: 50, start: 0 },
    wordDropout: 0.2,
    freeBits: 0.25,
    freeBitsScope: "dimension",
    evalEvery: 100,
  });
  textInf = makeTextInference(textBundle);

  let speechServed: { bytes: Uint8Array; name: string; examples: SpeechExample[] } | undefined;
  if (!speechSkip) {
    // 4 words × 4 voices × 2 pitches; the voice en+f2 is held out and gives the page's examples
    const spec = { words: ["zero", "one", "two", "three"], voices: ["en-us+m1", "en-us+f3", "en+m2", "en+f2"], pitches: [40, 60], speeds: [170] };
    await generateEspeakDataset(spec, join(dir, "espeak"));
    const run = await runSpeechTraining({
      manifest: join(dir, "espeak", "manifest.json"),
      outDir: join(dir, "speech-model"),
      config: speechVaeConfig({ network: "mlp", latentDim: 8, hidden: [64] }),
      training: { ...DEFAULT_SPEECH_TRAINING, epochs: 15, batchSize: 8, klWarmup: 5 },
      testVoices: ["en+f2"],
    });
    speech = run.model;
    examples = heldOutExamples(join(dir, "espeak", "manifest.json"), speech.info, 3);
    speechServed = { bytes: await encodeModel(speech.bundle), name: "speech-tiny", examples };
  }

  base = await serve({ text: { bytes: await encodeTextModel(textBundle), name: "toy-sentences" }, speech: speechServed });
  context = await launch();
  mkdirSync(ARTIFACTS, { recursive: true });
  page = await openPage(base);
});

after(async () => {
  await context?.close();
  for (const app of servers) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Wait until the page's queued model work is done (web/jobs.ts counts it in body[data-pending]). */
const settled = () => page.waitForFunction(() => (document.body.dataset.pending ?? "0") === "0");
const texts = async (id: string) => {
  await settled();
  return page.locator(`#${id} .sentence`).allTextContents();
};
const visible = (p: Page, selector: string) => p.evaluate((s) => [...document.querySelectorAll<HTMLElement>(s)].map((el) => !el.hidden), selector);
async function setValue(id: string, value: string | number, event = "input"): Promise<void> {
  await page.evaluate(([id, value, event]) => {
    const el = document.getElementById(id as string) as HTMLInputElement;
    el.value = String(value);
    el.dispatchEvent(new Event(event as string, { bubbles: true }));
  }, [id, value, event] as const);
}

/** Screenshot of a view: the box around its visible sections. */
async function shotView(kind: string, name: string): Promise<void> {
  const box = await page.evaluate((kind) => {
    const rects = [...document.querySelectorAll<HTMLElement>(`section[data-view="${kind}"]`)].map((s) => s.getBoundingClientRect());
    const x = Math.min(...rects.map((r) => r.left)) + scrollX;
    const y = Math.min(...rects.map((r) => r.top)) + scrollY;
    return { x: x - 8, y: y - 8, width: Math.max(...rects.map((r) => r.right)) + scrollX - x + 16, height: Math.max(...rects.map((r) => r.bottom)) + scrollY - y + 16 };
  }, kind);
  await page.screenshot({ path: join(ARTIFACTS, name), clip: box, fullPage: true });
}

test("the page shows the views the server has models for; /api/info says which", { skip }, async () => {
  const info = (await (await fetch(`${base}/api/info`)).json()) as ServerInfo;
  assert.deepEqual(info.views, { image: false, text: true, speech: !speechSkip });
  assert.equal(info.text?.model, "toy-sentences");
  assert.equal(await page.evaluate(() => document.body.dataset.status), "ready", (await page.locator("#status").textContent()) ?? "");
  assert.match((await page.locator("#status").textContent()) ?? "", /^ready · (wasm|webgpu)$/);
  assert.ok((await visible(page, '[data-view="image"]')).every((v) => !v), "no image model: the image sections are hidden");
  assert.ok((await visible(page, '[data-view="text"]')).every(Boolean));
  assert.deepEqual(await visible(page, "#welcome"), [false]);
  assert.match((await page.locator("#text-model-name").textContent()) ?? "", /^toy-sentences · word tokens, vocabulary 17 · 8-D latent · up to 8 tokens$/);
});

test("text: samples are sentences of vocabulary words, the same the library gives in Node", { skip }, async () => {
  const vocabulary = new Set(textBundle.tokenizer.tokens.slice(4)); // without <pad> <s> </s> <unk>
  const check = async (what: string) => {
    const shown = await texts("text-samples-out");
    const d = await page.evaluate(() => ({ ...document.getElementById("text-samples-out")!.dataset }));
    const expected = (await textInf.sample(shown.length, { seed: Number(d.seed), temperature: Number(d.temperature), greedy: d.greedy === "true" })).texts;
    assert.deepEqual(shown, expected, `${what}: the page's samples are the library's`);
    for (const s of shown) {
      assert.ok(s.trim().length > 0, `${what}: an empty sample`);
      for (const w of s.split(" ")) assert.ok(vocabulary.has(w), `${what}: "${w}" in "${s}" is not a vocabulary word`);
    }
    return shown;
  };
  assert.equal((await check("on load")).length, 8);
  await setValue("text-count", 12, "change");
  await settled();
  const warm = await check("12 sentences");
  assert.equal(warm.length, 12);
  await setValue("text-temperature", 0.3);
  await settled();
  const cold = await check("temperature 0.3");
  assert.notDeepEqual(cold, warm, "the temperature changes the sentences");
  await page.check("#text-greedy");
  await settled();
  assert.equal(await page.locator("#text-temperature").isDisabled(), true, "greedy decoding ignores the temperature");
  await check("greedy");
  await page.click("#text-resample");
  await settled();
  assert.equal(await page.evaluate(() => document.getElementById("text-samples-out")!.dataset.seed), "2");
  await check("new samples, greedy");
  await page.uncheck("#text-greedy");
  await settled();
});

test("text: a typed sentence is reconstructed; unknown words and empty input are explained", { skip }, async () => {
  const sentence = trainingLines[0];
  await page.fill("#text-input", sentence);
  await page.click("#text-reconstruct");
  await settled();
  const out = (await page.locator("#text-recon-out").textContent()) ?? "";
  assert.ok(out.length > 0);
  assert.equal(out, await textInf.reconstruct(sentence));
  assert.equal(await page.locator("#text-recon-note").textContent(), "7 tokens");

  await page.fill("#text-input", "the zebra sees a cat");
  await page.press("#text-input", "Enter");
  await settled();
  assert.equal(await page.locator("#text-recon-note").textContent(), "5 tokens, 1 unknown to the model (read as <unk>)");
  assert.equal(await page.locator("#text-recon-out").textContent(), await textInf.reconstruct("the zebra sees a cat"));

  await page.fill("#text-input", "");
  await page.click("#text-reconstruct");
  await settled();
  assert.match((await page.locator("#text-recon-note").textContent()) ?? "", /has no tokens this model knows/);
  assert.equal(await page.locator("#text-recon-note").getAttribute("class"), "muted error");
  assert.equal(await page.locator("#text-recon-out").textContent(), "");
  assert.equal(await page.evaluate(() => document.body.dataset.status), "ready", "a user error is not a page error");
});

test("text: interpolation gives steps + 2 sentences from the reconstruction of A to that of B", { skip }, async () => {
  const [a, b] = [trainingLines[1], trainingLines[2]];
  const reconstructionInPage = async (s: string) => {
    await page.fill("#text-input", s);
    await page.click("#text-reconstruct");
    await settled();
    return (await page.locator("#text-recon-out").textContent()) ?? "";
  };
  const [recA, recB] = [await reconstructionInPage(a), await reconstructionInPage(b)];
  await page.fill("#text-a", a);
  await page.fill("#text-b", b);
  await setValue("text-steps", 3);
  await settled();
  const path = await texts("text-interp-out");
  assert.equal(path.length, 5);
  const ts = await page.locator("#text-interp-out li").evaluateAll((els) => els.map((el) => Number((el as HTMLElement).dataset.t)));
  assert.deepEqual(ts, [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(path[0], recA, "the path starts at A's reconstruction");
  assert.equal(path[4], recB, "and ends at B's");
  assert.deepEqual(path, (await textInf.interpolate(a, b, 5)).map((p) => p.text));
  await page.click("#text-interpolate");
  await settled();
  assert.deepEqual(await texts("text-interp-out"), path, "the button recomputes the same path");
  await shotView("text", "app-text.png");
});

interface Played {
  kind: string;
  frames: number | null;
  label: string;
  /** The name the download link saves under. */
  file: string;
  header: string;
  duration: number;
  bytes: Uint8Array;
  spectrogram: { w: number; h: number; std: number };
}

/**
 * Every figure of an output area: the audio element's duration once it has loaded its blob: URL,
 * the spectrogram, and the WAV bytes saved through the figure's download link (the same URL).
 */
async function played(area: string): Promise<Played[]> {
  const shown = await page.evaluate(async (area) => {
    const figures = [...document.querySelectorAll<HTMLElement>(`#${area} figure`)];
    return Promise.all(
      figures.map(async (fig) => {
        const audio = fig.querySelector("audio")!;
        if (audio.readyState < 1) {
          await new Promise((resolve) => {
            audio.addEventListener("loadedmetadata", resolve, { once: true });
            audio.addEventListener("error", resolve, { once: true });
            setTimeout(resolve, 10_000);
          });
        }
        const c = fig.querySelector("canvas")!;
        const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        let s = 0;
        let s2 = 0;
        const n = px.length / 4;
        for (let i = 0; i < px.length; i += 4) {
          const v = (px[i] + px[i + 1] + px[i + 2]) / 765;
          s += v;
          s2 += v * v;
        }
        return {
          kind: fig.dataset.kind!,
          frames: fig.dataset.frames === undefined ? null : Number(fig.dataset.frames),
          label: fig.querySelector("figcaption")!.firstChild!.textContent!.trim(),
          src: audio.src,
          href: fig.querySelector<HTMLAnchorElement>("a.download")!.href,
          duration: audio.duration,
          spectrogram: { w: c.width, h: c.height, std: Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2)) },
        };
      }),
    );
  }, area);
  const out: Played[] = [];
  for (const [i, f] of shown.entries()) {
    assert.ok(f.src.startsWith("blob:") && f.href === f.src, `${area} ${i}: plays and saves one blob: URL`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator(`#${area} figure`).nth(i).locator("a.download").click()]);
    const bytes = new Uint8Array(readFileSync((await download.path())!));
    const tag = (o: number) => String.fromCharCode(...bytes.subarray(o, o + 4));
    out.push({ ...f, header: `${tag(0)}/${tag(8)}`, bytes, file: download.suggestedFilename() });
  }
  return out;
}

/** A generated clip: a valid 16 kHz mono WAV of (frames + 8 − 1) hops (4 silent frames either side), played at that length, with its picture. */
function assertVoiced(p: Played, what: string): void {
  const hop = speech!.info.features.hop;
  assert.equal(p.header, "RIFF/WAVE", what);
  const wav = decodeWav(p.bytes, what);
  assert.equal(wav.sampleRate, 16000, what);
  assert.equal(wav.channels.length, 1, what);
  assert.ok(p.frames !== null && p.frames >= 1 && p.frames <= 64, `${what}: frames ${p.frames}`);
  assert.equal(wav.channels[0].length, (p.frames! + 8 - 1) * hop, what);
  assert.ok(wav.channels[0].some((v) => Math.abs(v) > 0.1), `${what}: not silent`);
  assert.ok(Math.abs(p.duration - wav.channels[0].length / 16000) < 0.005, `${what}: the browser plays ${p.duration} s`);
  assert.deepEqual([p.spectrogram.w, p.spectrogram.h], [(p.frames! + 8) * 2, 64 * 2], `${what}: spectrogram size`);
  assert.ok(p.spectrogram.std > 0.05, `${what}: the spectrogram is not blank`);
}

/** Click a button and wait for the output area's next render. */
async function runAndWait(button: string, area: string): Promise<void> {
  const runs = Number(await page.locator(`#${area}`).getAttribute("data-runs"));
  await page.click(`#${button}`);
  await settled();
  await page.waitForFunction(([area, runs]) => Number(document.getElementById(area as string)!.dataset.runs) > (runs as number), [area, runs] as const, { timeout: 60_000 });
}

test("speech: a held-out clip, its vocoded input and its reconstruction play as WAVs with spectrograms", { skip: speechSkip }, async () => {
  assert.ok((await visible(page, '[data-view="speech"]')).every(Boolean));
  assert.match((await page.locator("#speech-model-name").textContent()) ?? "", /^speech-tiny · 64 mel bands × 64 frames \(0\.51 s at 16 kHz\) · 8-D latent$/);
  const options = await page.locator("#speech-clip option").allTextContents();
  assert.deepEqual(options, examples.map((e) => e.name));
  assert.ok(options.every((o) => o.includes("en+f2")), "examples are of the held-out voice");
  assert.equal(new Set(options.map((o) => o.split(" ")[0])).size, 3, "three different words");

  await page.selectOption("#speech-clip", "1");
  await page.waitForFunction(() => document.getElementById("speech-recon-out")!.textContent!.includes("original: " + document.querySelector<HTMLSelectElement>("#speech-clip")!.selectedOptions[0].text));
  const out = await played("speech-recon-out");
  assert.deepEqual(out.map((p) => p.kind), ["original", "vocoded", "reconstruction"]);
  assert.match(out[0].file, /^(zero|one|two|three)_en\+f2_pitch_(40|60)\.wav$/, "the example's name as a file name");
  assert.deepEqual(out.slice(1).map((p) => p.file), ["vocoded.wav", "reconstruction.wav"]);
  const seg = segmentFromWavBytes(examples[1].bytes, formatOf(speech!.info), "example");
  assert.deepEqual(out[0].bytes, examples[1].bytes, "the original plays the file as served");
  assert.ok(Math.abs(out[0].duration - decodeWav(examples[1].bytes).channels[0].length / decodeWav(examples[1].bytes).sampleRate) < 0.005);
  assert.deepEqual([out[0].spectrogram.w, out[0].spectrogram.h], [(seg.length + 8) * 2, 128]);
  for (const p of out.slice(1)) {
    assert.equal(p.frames, seg.length, "vocoded input and reconstruction keep the clip's length");
    assertVoiced(p, p.kind);
  }
});

test("speech: a morph in N points runs from A's length to B's; prior samples play too", { skip: speechSkip }, async () => {
  await page.selectOption("#speech-a", "0");
  await page.selectOption("#speech-b", "2");
  await setValue("speech-steps", 4);
  await settled();
  await runAndWait("speech-morph-run", "speech-morph-out");
  const path = await played("speech-morph-out");
  assert.equal(path.length, 4);
  const format = formatOf(speech!.info);
  const la = segmentFromWavBytes(examples[0].bytes, format).length;
  const lb = segmentFromWavBytes(examples[2].bytes, format).length;
  assert.deepEqual(path.map((p) => p.frames), [0, 1, 2, 3].map((i) => Math.max(1, Math.round((1 - i / 3) * la + (i / 3) * lb))));
  assert.deepEqual(path.map((p) => p.label), [`A: ${examples[0].name}`, "t = 0.33", "t = 0.67", `B: ${examples[2].name}`]);
  assert.deepEqual(path.map((p) => p.file), ["morph-1.wav", "morph-2.wav", "morph-3.wav", "morph-4.wav"]);
  path.forEach((p, i) => assertVoiced(p, `morph point ${i}`));

  await setValue("speech-count", 3, "change");
  await settled();
  await runAndWait("speech-sample", "speech-samples-out");
  const samples = await played("speech-samples-out");
  assert.equal(samples.length, 3);
  samples.forEach((p, i) => assertVoiced(p, `sample ${i + 1}`));
  await page.evaluate(() => scrollTo(0, 0));
  await shotView("speech", "app-speech.png");
});

test("speech: opened WAV files become clips; a file that is not a WAV is named in one line", { skip: speechSkip }, async () => {
  const good = join(dir, "vowel.wav");
  const bad = join(dir, "not-audio.wav");
  writeFileSync(good, encodeWav16(vowel(0.35, 22050, 130), 22050)); // another rate: resampled in the page
  writeFileSync(bad, "this is not audio at all");
  await page.setInputFiles("#speech-upload", [bad]);
  await settled();
  await page.waitForFunction(() => document.getElementById("speech-note")!.classList.contains("error"));
  assert.match((await page.locator("#speech-note").textContent()) ?? "", /^not-audio\.wav: not a WAV file/);
  assert.equal(await page.locator("#speech-clip option").count(), examples.length, "the bad file is not listed");

  const runs = Number(await page.locator("#speech-recon-out").getAttribute("data-runs"));
  await page.setInputFiles("#speech-upload", [good]);
  await settled();
  await page.waitForFunction((runs) => Number(document.getElementById("speech-recon-out")!.dataset.runs) > runs, runs);
  assert.equal(await page.locator("#speech-clip option:checked").textContent(), "vowel.wav");
  const out = await played("speech-recon-out");
  assert.deepEqual(out[0].bytes, new Uint8Array(readFileSync(good)));
  assert.equal(out[0].file, "vowel.wav");
  const expected = segmentFromWavBytes(new Uint8Array(readFileSync(good)), formatOf(speech!.info)).length;
  assert.equal(out[2].frames, expected);
  assertVoiced(out[2], "reconstruction of an opened file");
});

test("a model file opened in the page goes to its view; a corrupt one is one error line", { skip }, async () => {
  const textFile = join(dir, "picked-text.safetensors");
  writeFileSync(textFile, await encodeTextModel(textBundle));
  await page.setInputFiles("#model-file", textFile);
  await settled();
  await page.waitForFunction(() => document.getElementById("text-model-name")!.textContent!.startsWith("picked-text.safetensors"));
  assert.equal(await page.evaluate(() => document.body.dataset.status), "ready");
  assert.equal((await texts("text-samples-out")).length, 12);
  if (!speechSkip) {
    const speechFile = join(dir, "picked-speech.safetensors");
    writeFileSync(speechFile, await encodeModel(speech!.bundle));
    await page.setInputFiles("#model-file", speechFile);
    await settled();
    await page.waitForFunction(() => document.getElementById("speech-model-name")!.textContent!.startsWith("picked-speech.safetensors"));
    assert.equal(await page.evaluate(() => document.body.dataset.status), "ready");
    assert.equal(await page.locator("#speech-clip option").count(), examples.length + 1, "clips stay listed");
    assert.ok((await visible(page, '[data-view="image"]')).every((v) => !v), "still no image view");
  }
  const corrupt = join(dir, "corrupt.safetensors");
  writeFileSync(corrupt, (await encodeTextModel(textBundle)).subarray(0, 100));
  await page.setInputFiles("#model-file", corrupt);
  await settled();
  await page.waitForFunction(() => document.body.dataset.status === "error");
  const status = (await page.locator("#status").textContent()) ?? "";
  assert.match(status, /^cannot open corrupt\.safetensors: .*not a valid safetensors file/);
  assert.ok(!status.includes("\n"));
  assert.deepEqual(pageErrors, []);
});

test("a text-only server: only the text view shows", { skip }, async () => {
  const url = await serve({ text: { bytes: await encodeTextModel(textBundle), name: "only-text" } });
  const p = await openPage(url);
  assert.equal(await p.evaluate(() => document.body.dataset.status), "ready");
  assert.ok((await visible(p, '[data-view="text"]')).every(Boolean));
  assert.ok((await visible(p, '[data-view="speech"], [data-view="image"], #welcome')).every((v) => !v));
  assert.equal(await p.locator("#text-samples-out li").count(), 8);
  await p.close();
  assert.deepEqual(pageErrors, []);
});
