/**
 * The WebGPU device, end to end through the CLI in Node. CI has no GPU, so these run on
 * SwiftShader (a Vulkan driver that emulates a GPU on the CPU; Debian's Chromium ships it) through
 * the `webgpu` package: the same shaders and the same asynchronous readback as on a real GPU.
 * Every result must match the wasm device's: training, evaluation, sampling, reconstruction, a
 * conv model, and `--device auto` must not pick an emulated GPU.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { loadDataset } from "../src/data/load.js";
import { encodeIdx } from "../src/data/idx.js";
import { METRICS_FILE } from "../src/train/run.js";
import { loadOnnxRuntime } from "../src/engine/onnxRuntime.js";

const SWIFTSHADER = "/usr/lib/chromium/vk_swiftshader_icd.json";
// a machine with its own Vulkan driver keeps it; elsewhere the emulated GPU stands in
const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() };
if (!env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) env.VK_ICD_FILENAMES = SWIFTSHADER;

const tmp = mkdtempSync(join(tmpdir(), "vaekit-webgpu-"));
const cli = (args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, "../src/cli/main.js"), ...args], { encoding: "utf8", env });

const probe = cli(["sample", "--device", "webgpu", "--model", "missing-model-dir", "--quiet"]);
const noAdapter = /no GPU adapter/.test(probe.stderr);
const skip = noAdapter ? { skip: "no WebGPU adapter (needs the `webgpu` package, libvulkan1, and a Vulkan driver or Chromium's SwiftShader)" } : {};

// 640 embedded digits as one IDX file: small enough for an emulated GPU, both splits read it
const digits = loadDataset("mnist", "train");
const n = 640;
const images = join(tmp, "digits.idx");
writeFileSync(images, encodeIdx([n, 28, 28], Uint8Array.from(digits.x.subarray(0, n * 784), (v) => Math.round(v * 255))));

const ok = (r: ReturnType<typeof cli>) => {
  assert.equal(r.status, 0, r.stderr);
  return r;
};
const MLP = ["--hidden", "64", "--latent", "8", "--epochs", "2"];
const trainArgs = (out: string, device: string, model = MLP) =>
  ["train", "--data", images, "--device", device, "--validation", "128", "--seed", "5", "--out", out, "--quiet", ...model];
const metrics = (dir: string) => readFileSync(join(dir, METRICS_FILE), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>);
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: webgpu ${a} vs wasm ${b}`);
const pngGray = (path: string) => {
  const png = PNG.sync.read(readFileSync(path));
  return Float32Array.from({ length: png.width * png.height }, (_, i) => png.data[4 * i] / 255);
};

const wasmDir = join(tmp, "wasm");
const gpuDir = join(tmp, "webgpu");

test("the probe found an adapter or says why not in one line", () => {
  if (noAdapter) assert.equal(probe.stderr.trim().split("\n").length, 1, probe.stderr);
  else assert.match(probe.stderr, /model not found/, "with an adapter the command gets as far as the model");
});

test("training on WebGPU matches the wasm device step for step", skip, () => {
  ok(cli(trainArgs(wasmDir, "wasm")));
  const r = ok(cli(trainArgs(gpuDir, "webgpu").filter((a) => a !== "--quiet")));
  assert.match(r.stderr, /device: webgpu \(/, "says which device and adapter it used");
  const [a, b] = [metrics(gpuDir), metrics(wasmDir)];
  assert.equal(a.length, 2);
  for (let e = 0; e < 2; e++) {
    for (const k of ["train_loss", "train_recon", "train_kl", "val_neg_elbo", "val_recon", "val_kl"]) close(a[e][k], b[e][k], 1e-3, `epoch ${e + 1} ${k}`);
  }
});

test("evaluation, sampling and reconstruction on WebGPU match wasm", skip, () => {
  const evalArgs = (dir: string, device: string) => ["eval", "--model", dir, "--data", images, "--device", device, "--iwae-k", "20", "--limit", "64", "--json", "--quiet"];
  const e = JSON.parse(ok(cli(evalArgs(gpuDir, "webgpu"))).stdout) as Record<string, number>;
  const w = JSON.parse(ok(cli(evalArgs(wasmDir, "wasm"))).stdout) as Record<string, number>;
  for (const k of ["neg_elbo", "recon", "kl", "iwae_nll"]) close(e[k], w[k], 1e-3, k);

  for (const [cmd, extra] of [["sample", ["-n", "16", "--seed", "2"]], ["reconstruct", ["--data", images, "-n", "8"]]] as const) {
    const out = (d: string) => join(tmp, `${cmd}-${d}.png`);
    ok(cli([cmd, "--model", gpuDir, "--device", "webgpu", "--out", out("webgpu"), ...extra]));
    ok(cli([cmd, "--model", wasmDir, "--device", "wasm", "--out", out("wasm"), ...extra]));
    const [g, c] = [pngGray(out("webgpu")), pngGray(out("wasm"))];
    assert.equal(g.length, c.length);
    const maxDiff = g.reduce((m, v, i) => Math.max(m, Math.abs(v - c[i])), 0);
    assert.ok(maxDiff <= 2 / 255, `${cmd}: pixels differ by up to ${maxDiff * 255} levels`);
    assert.ok(g.some((v) => v > 0.5), `${cmd}: the picture is not blank`);
  }
});

test("anomaly scores on WebGPU match wasm (IWAE and deviance reconstruction scores)", skip, () => {
  const scores = (device: string, kind: string) => {
    const out = join(tmp, `scores-${kind}-${device}.csv`);
    ok(cli(["score", "--model", wasmDir, "--data", images, "--device", device, "--score", kind, "--out", out, "--quiet", ...(kind === "recon-error" ? ["--recon-measure", "deviance"] : [])]));
    return readFileSync(out, "utf8").trim().split("\n").slice(1, 33).map((l) => Number(l.split(",")[1]));
  };
  for (const kind of ["iwae-nll", "recon-error"]) {
    const [g, w] = [scores("webgpu", kind), scores("wasm", kind)];
    assert.equal(g.length, 32);
    g.forEach((v, i) => close(v, w[i], 1e-3, `${kind} of example ${i}`));
  }
});

test("a conv model (patch-extraction convolutions) trains on WebGPU like on wasm", skip, () => {
  const conv = ["--arch", "conv", "--channels", "8,16", "--hidden", "32", "--latent", "8", "--epochs", "1"];
  ok(cli(trainArgs(join(tmp, "conv-wasm"), "wasm", conv)));
  ok(cli(trainArgs(join(tmp, "conv-webgpu"), "webgpu", conv)));
  const [a, b] = [metrics(join(tmp, "conv-webgpu"))[0], metrics(join(tmp, "conv-wasm"))[0]];
  for (const k of ["train_loss", "val_neg_elbo", "val_kl"]) close(a[k], b[k], 1e-3, `conv ${k}`);
});

test("the CPU engines refuse --device webgpu in one line; with auto they run beside wasm", skip, async () => {
  const refused = cli(["eval", "--model", wasmDir, "--data", images, "--device", "webgpu", "--engine", "onnx", "--iwae-k", "5", "--limit", "8", "--quiet"]);
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, "vaekit: --engine onnx runs on ONNX Runtime's CPU kernels beside the wasm device; use --device wasm (or auto) with it\n");
  if (!(await loadOnnxRuntime())) return; // optional dependency
  const auto = cli(["eval", "--model", wasmDir, "--data", images, "--device", "auto", "--engine", "onnx", "--iwae-k", "5", "--limit", "8", "--json", "--quiet"]);
  assert.equal(auto.status, 0, auto.stderr);
  assert.equal(JSON.parse(auto.stdout).n, 8);
});

test("--device auto passes over an emulated GPU and says so", skip, () => {
  const r = cli(["sample", "--model", wasmDir, "--device", "auto", "-n", "4", "--out", join(tmp, "auto.png")]);
  assert.equal(r.status, 0, r.stderr);
  if (env.VK_ICD_FILENAMES === SWIFTSHADER) assert.match(r.stderr, /device: wasm \(the WebGPU adapter, .*swiftshader.*, emulates a GPU on the CPU\)/i);
  else assert.match(r.stderr, /device: (webgpu|wasm)/);
});
