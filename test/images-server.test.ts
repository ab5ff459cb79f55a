/**
 * The browser app's server: static files only from the web root, body limits, host check, model and
 * map data, the text and speech views' files, and `vaekit serve` (its flags and their one-line errors).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, random } from "../src/engine/index.js";
import { parseIdx } from "../src/data/idx.js";
import { datasetFromIdx, subset } from "../src/data/datasets.js";
import { loadDataset } from "../src/data/load.js";
import { parseVaeConfig } from "../src/models/config.js";
import { buildVae } from "../src/models/vae.js";
import { decodeModel, encodeModel, type ModelBundle } from "../src/models/io.js";
import { saveModel } from "../src/models/files.js";
import { createServer, type ServerInfo } from "../src/server/app.js";
import { Tokenizer } from "../src/apps/text/tokenizer.js";
import { initTextVae, parseTextVaeConfig } from "../src/apps/text/model.js";
import { encodeTextModel } from "../src/apps/text/io.js";
import { DEFAULT_SPEECH_FEATURES } from "../src/apps/speech/features.js";
import { speechVaeConfig, type SpeechModelInfo } from "../src/apps/speech/model.js";
import { encodeWav16 } from "../src/apps/speech/wav.js";

await initEngine("wasm");
const dir = mkdtempSync(join(tmpdir(), "vaekit-server-"));
const webRoot = join(dir, "web");
mkdirSync(webRoot);
const SECRET = "top secret, outside the web root";
writeFileSync(join(dir, "secret.txt"), SECRET);
writeFileSync(join(webRoot, "index.html"), "<!doctype html><title>vaekit</title>");
writeFileSync(join(webRoot, "app.js"), "console.log('app')");
writeFileSync(join(webRoot, ".env"), SECRET);

const config = parseVaeConfig({ inputShape: [28, 28, 1], latentDim: 2, encoder: { type: "mlp", hidden: [16] }, decoder: { type: "mlp", hidden: [16] }, likelihood: { type: "bernoulli" } });
const bundle: ModelBundle = { config, params: buildVae(config).init(random.key(0)), extras: { note: "test" } };
const modelBytes = await encodeModel(bundle);
const map = subset(loadDataset("mnist", "test"), Int32Array.from({ length: 50 }, (_, i) => i));

const app = await createServer({
  webRoot,
  model: { bytes: modelBytes, bundle, name: "tiny" },
  map,
  bodyLimit: 1000,
  plugins: [(a) => void a.post("/echo", async (req) => ({ got: (req.body as { text: string }).text.length }))],
});
const base = await app.listen({ port: 0, host: "127.0.0.1" });
const port = new URL(base).port;
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw HTTP request: the path goes out exactly as written (no client-side normalisation). */
function raw(path: string, opts: { method?: string; body?: string; host?: string; type?: string } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: { host: opts.host ?? `127.0.0.1:${port}`, ...(opts.body ? { "content-type": opts.type ?? "application/json" } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString("latin1"), headers: res.headers }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

test("serves the page and its files from the web root, with security headers", async () => {
  const r = await raw("/");
  assert.equal(r.status, 200);
  assert.match(r.body, /<title>vaekit<\/title>/);
  assert.match(String(r.headers["content-security-policy"]), /default-src 'self'/);
  assert.equal(r.headers["x-content-type-options"], "nosniff");
  assert.equal((await raw("/app.js")).status, 200);
  assert.equal((await raw("/nope.js")).status, 404);
});

test("no path traversal and no dotfiles: nothing outside the web root is served", async () => {
  const attempts = [
    "/../secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/app.js/../../secret.txt",
    "/..\\secret.txt",
    "/..%5csecret.txt",
    "/%252e%252e/secret.txt",
    "//../secret.txt",
    `/${"../".repeat(8)}etc/passwd`,
    `/${encodeURIComponent(join(dir, "secret.txt"))}`,
    "/.env",
    "/%2eenv",
  ];
  for (const path of attempts) {
    const r = await raw(path);
    assert.ok(r.status >= 400 && r.status < 500, `${path} gave HTTP ${r.status}`);
    assert.ok(!r.body.includes(SECRET) && !r.body.includes("root:"), `${path} leaked a file`);
  }
});

test("request bodies over the limit are refused with 413; plugins get the same limit", async () => {
  const small = await raw("/echo", { method: "POST", body: JSON.stringify({ text: "x".repeat(100) }) });
  assert.equal(small.status, 200);
  assert.deepEqual(JSON.parse(small.body), { got: 100 });
  const big = await raw("/echo", { method: "POST", body: JSON.stringify({ text: "x".repeat(5000) }) });
  assert.equal(big.status, 413);
  assert.equal((await raw("/model.safetensors", { method: "POST", body: "{}" })).status, 404, "the model is read-only");
});

test("requests for other host names are refused (DNS rebinding) unless the server is opened to any host", async () => {
  assert.equal((await raw("/", { host: "evil.example:80" })).status, 403);
  assert.equal((await raw("/", { host: `localhost:${port}` })).status, 200);
  const open = await createServer({ webRoot, model: { bytes: modelBytes, bundle, name: "tiny" }, allowedHosts: "any" });
  const r = await open.inject({ method: "GET", url: "/", headers: { host: "my-machine.lan:8080" } });
  assert.equal(r.statusCode, 200);
  await open.close();
});

test("the model file and the latent-map data come back intact", async () => {
  const res = await fetch(`${base}/model.safetensors`);
  assert.equal(res.status, 200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.deepEqual(bytes, modelBytes);
  assert.deepEqual(decodeModel(bytes).extras, { note: "test" });
  const info = await (await fetch(`${base}/api/info`)).json();
  assert.deepEqual(info, {
    model: "tiny",
    map: { name: map.name, n: 50, shape: [28, 28, 1], labelled: true, classNames: map.classNames },
    text: null,
    speech: null,
    views: { image: true, text: false, speech: false },
  });
  const images = parseIdx(new Uint8Array(await (await fetch(`${base}/map/images.idx`)).arrayBuffer()));
  const labels = parseIdx(new Uint8Array(await (await fetch(`${base}/map/labels.idx`)).arrayBuffer()));
  const back = datasetFromIdx("map", images, labels);
  assert.deepEqual(back.shape, [28, 28, 1]);
  assert.deepEqual(Array.from(back.labels!), Array.from(map.labels!));
  let worst = 0;
  for (let i = 0; i < map.x.length; i++) worst = Math.max(worst, Math.abs(back.x[i] - map.x[i]));
  assert.ok(worst <= 0.5 / 255 + 1e-6, `pixels differ by up to ${worst}`);
});

test("`vaekit serve` listens on 127.0.0.1 by default and stops on SIGTERM", async () => {
  const modelDir = join(dir, "model");
  await saveModel(modelDir, bundle);
  const cli = join(import.meta.dirname, "../src/cli/main.js");
  const child = spawn(process.execPath, [cli, "serve", "--model", modelDir, "--port", "0", "--no-map", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const address = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /vaekit app: (http:\/\/\S+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  assert.match(address, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const res = await fetch(`${address}model.safetensors`);
  assert.deepEqual(decodeModel(new Uint8Array(await res.arrayBuffer())).config, config);
  assert.equal((await fetch(`${address}api/info`).then((r) => r.json())).map, null);
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  child.kill("SIGTERM");
  assert.equal(await exited, 0);
});

// ---------------------------------------------------------------------------------------------
// Text and speech models

const tokenizer = Tokenizer.fit(["the cat sees the dog", "a dog sees a cat", "the dog likes a cat"], { kind: "word", minCount: 1 });
const textConfig = parseTextVaeConfig({ vocabSize: tokenizer.vocabSize, maxTokens: 8, embedDim: 8, hiddenDim: 16, latentDim: 4 });
const textBytes = await encodeTextModel({ config: textConfig, params: initTextVae(textConfig, random.key(1)), tokenizer, extras: {} });
const speechConfig = speechVaeConfig({ network: "mlp", latentDim: 4, hidden: [16] });
const speechInfo: SpeechModelInfo = {
  format: "vaekit.speech/1",
  features: DEFAULT_SPEECH_FEATURES,
  frames: 64,
  trimDb: 40,
  peak: 0.9,
  length: { weights: [0, 0, 0, 0], bias: 40, min: 20, max: 64, rmse: 0 },
  trainVoices: [],
  testVoices: [],
  words: [],
};
const speechBytes = await encodeModel({ config: speechConfig, params: buildVae(speechConfig).init(random.key(2)), extras: { speech: speechInfo } });

/** A vowel-like clip: 0.1 s silence, 0.3 s of a harmonic tone with a fade, 0.1 s silence, at `rate`. */
function vowelWav(rate: number, f0: number): Uint8Array {
  const pad = Math.round(0.1 * rate);
  const n = Math.round(0.3 * rate);
  const x = new Float32Array(n + 2 * pad);
  for (let i = 0; i < n; i++) for (let h = 1; h <= 10; h++) x[pad + i] += (0.3 * Math.sin((Math.PI * i) / n) * Math.sin((2 * Math.PI * f0 * h * i) / rate)) / h;
  return encodeWav16(x, rate);
}

test("text and speech models without an image model: /api/info names the views, the files come back, no image routes", async () => {
  const clip = vowelWav(16000, 150);
  const only = await createServer({
    webRoot,
    text: { bytes: textBytes, name: "sentences" },
    speech: { bytes: speechBytes, name: "words", examples: [{ name: "vowel", bytes: clip }] },
    plugins: [(a) => void a.post("/echo", async () => ({ ok: true }))],
  });
  const get = (url: string) => only.inject({ method: "GET", url, headers: { host: "127.0.0.1" } });
  const info = (await get("/api/info")).json() as ServerInfo;
  assert.deepEqual(info, {
    model: null,
    map: null,
    text: { model: "sentences", url: "text/model.safetensors" },
    speech: { model: "words", url: "speech/model.safetensors", examples: [{ name: "vowel", url: "speech/examples/0.wav" }] },
    views: { image: false, text: true, speech: true },
  });
  const text = await get("/text/model.safetensors");
  assert.equal(text.statusCode, 200);
  assert.deepEqual(new Uint8Array(text.rawPayload), textBytes);
  assert.deepEqual(new Uint8Array((await get("/speech/model.safetensors")).rawPayload), speechBytes);
  const wav = await get("/speech/examples/0.wav");
  assert.equal(wav.headers["content-type"], "audio/wav");
  assert.deepEqual(new Uint8Array(wav.rawPayload), clip);
  assert.match(String(wav.headers["content-security-policy"]), /media-src 'self' blob:/, "the page may play the WAVs it makes");
  assert.equal((await get("/speech/examples/1.wav")).statusCode, 404);
  assert.equal((await get("/model.safetensors")).statusCode, 404, "no image model, none served");
  assert.equal((await only.inject({ method: "POST", url: "/echo", headers: { host: "127.0.0.1" } })).statusCode, 404, "image-model plugins need an image model");
  await only.close();
});

const cliPath = join(import.meta.dirname, "../src/cli/main.js");

/** Start `vaekit serve`; resolves with its address, or rejects with its stderr when it exits first. */
function startServe(args: string[]): Promise<{ address: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [cliPath, "serve", "--port", "0", "--quiet", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /vaekit app: (http:\/\/\S+)\n/.exec(out);
      if (m) resolve({ address: m[1], stop: () => (child.kill("SIGTERM"), exited) });
    });
    void exited.then((code) => reject(Object.assign(new Error(`serve exited with ${code}`), { code, stderr })));
  });
}

async function serveFails(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stop } = await startServe(args);
    await stop();
  } catch (e) {
    return e as { code: number; stderr: string };
  }
  assert.fail(`serve ${args.join(" ")} started`);
}

test("`vaekit serve --text-model --speech-model --speech-wav` serves both views and the clips", async () => {
  const textDir = join(dir, "text-model");
  mkdirSync(textDir);
  writeFileSync(join(textDir, "model.safetensors"), textBytes);
  const speechFile = join(dir, "words.safetensors");
  writeFileSync(speechFile, speechBytes);
  const clips = [join(dir, "a.wav"), join(dir, "b.wav")];
  writeFileSync(clips[0], vowelWav(22050, 120));
  writeFileSync(clips[1], vowelWav(16000, 200));
  const { address, stop } = await startServe(["--text-model", textDir, "--speech-model", speechFile, "--speech-wav", clips[0], "--speech-wav", clips[1]]);
  const info = (await fetch(`${address}api/info`).then((r) => r.json())) as ServerInfo;
  assert.deepEqual(info.views, { image: false, text: true, speech: true });
  assert.equal(info.text?.model, "text-model", "a model directory is named by the directory");
  assert.equal(info.speech?.model, "words.safetensors");
  assert.deepEqual(info.speech?.examples.map((e) => e.name), ["a.wav", "b.wav"]);
  assert.deepEqual(new Uint8Array(await (await fetch(`${address}speech/examples/1.wav`)).arrayBuffer()), vowelWav(16000, 200));
  assert.deepEqual(new Uint8Array(await (await fetch(`${address}text/model.safetensors`)).arrayBuffer()), textBytes);
  assert.equal((await fetch(`${address}model.safetensors`)).status, 404);
  assert.equal(await stop(), 0);
});

test("`vaekit serve` refuses bad models, clips and flag combinations in one line before listening", async () => {
  const textFile = join(dir, "t.safetensors");
  writeFileSync(textFile, textBytes);
  const speechFile = join(dir, "s.safetensors");
  writeFileSync(speechFile, speechBytes);
  const imageFile = join(dir, "i.safetensors");
  writeFileSync(imageFile, modelBytes);
  const corrupt = join(dir, "corrupt.safetensors");
  writeFileSync(corrupt, textBytes.subarray(0, 200));
  const notWav = join(dir, "not.wav");
  writeFileSync(notWav, "this is not audio at all");
  const silent = join(dir, "silent.wav");
  writeFileSync(silent, encodeWav16(new Float32Array(8000), 16000));
  const cases: [string[], number, RegExp][] = [
    [[], 2, /^vaekit: nothing to serve: give --model, --text-model and\/or --speech-model$/],
    [["--text-model", join(dir, "absent")], 1, /^vaekit: text model not found: .*absent$/],
    [["--speech-model", join(dir, "absent.safetensors")], 1, /^vaekit: speech model not found: .*absent\.safetensors$/],
    [["--text-model", corrupt], 1, /^vaekit: .*corrupt\.safetensors is not a valid safetensors file: /],
    [["--speech-model", corrupt], 1, /^vaekit: .*corrupt\.safetensors is not a valid safetensors file: /],
    [["--model", textFile], 1, /^vaekit: .*t\.safetensors is a text model; serve it with --text-model$/],
    [["--text-model", speechFile], 1, /^vaekit: .*s\.safetensors is a speech model; serve it with --speech-model$/],
    [["--speech-model", imageFile], 1, /^vaekit: .*i\.safetensors is an image model; serve it with --model$/],
    [["--speech-model", speechFile, "--speech-wav", notWav], 1, /^vaekit: .*not\.wav: not a WAV file/],
    [["--speech-model", speechFile, "--speech-wav", silent], 1, /^vaekit: .*silent\.wav: audio is silent/],
    [["--speech-model", speechFile, "--speech-wav", join(dir, "absent.wav")], 1, /^vaekit: WAV file not found: .*absent\.wav$/],
    [["--speech-model", speechFile, "--speech-data", join(dir, "no-dataset")], 1, /^vaekit: no speech dataset at .*no-dataset\/manifest\.json/],
    [["--text-model", textFile, "--speech-wav", notWav], 2, /^vaekit: --speech-wav and --speech-data need --speech-model$/],
    [["--text-model", textFile, "--data", "mnist"], 2, /^vaekit: --data is the image model's latent map; give --model too$/],
    [["--text-model", textFile, "--speech-examples", "-1"], 2, /^vaekit: option '--speech-examples <n>' argument '-1' is invalid/],
  ];
  for (const [args, code, message] of cases) {
    const r = await serveFails(args);
    assert.equal(r.code, code, `serve ${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr.trim(), message);
  }
});
