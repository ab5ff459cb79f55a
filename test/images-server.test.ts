/** The browser app's server: static files only from the web root, body limits, host check, model and map data, `vaekit serve`. */
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
import { createServer } from "../src/server/app.js";

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
const modelBytes = encodeModel(bundle);
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
  assert.deepEqual(info, { model: "tiny", map: { name: map.name, n: 50, shape: [28, 28, 1], labelled: true, classNames: map.classNames } });
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
  saveModel(modelDir, bundle);
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
