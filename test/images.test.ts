/** Image generation and editing: latent geometry, attribute vectors, and the CLI commands on a small trained model. */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { initEngine } from "../src/engine/index.js";
import { loadDataset } from "../src/data/load.js";
import { subset } from "../src/data/datasets.js";
import { parseVaeConfig } from "../src/models/config.js";
import { loadModel } from "../src/models/files.js";
import { encodeModel } from "../src/models/io.js";
import { makeInference } from "../src/models/inference.js";
import { TrainConfig } from "../src/train/config.js";
import { runTraining } from "../src/train/run.js";
import { createImage } from "../src/io/image.js";
import { readImage, writePng } from "../src/io/files.js";
import {
  covariance,
  distance,
  interpolationPath,
  latentActivity,
  latentPlane,
  latentSum,
  leadingEigenvectors,
  manifoldLatents,
  planePoint,
  projectToPlane,
  row,
  slerp,
  traversalLatents,
  unitsByActivity,
} from "../src/apps/images/latent.js";
import { applyDirection, attributeDirection, computeAttributes, readAttributes } from "../src/apps/images/attributes.js";
import { parseExpression } from "../src/cli/commands/images.js";
import { VaekitError } from "../src/errors.js";

await initEngine("wasm");
const run = promisify(execFile);
const CLI = join(import.meta.dirname, "../src/cli/main.js");
const dir = mkdtempSync(join(tmpdir(), "vaekit-images-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const D = 784;
const L = 8;

async function vaekit(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args], { cwd: dir });
}
async function vaekitFails(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await vaekit(...args);
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
  assert.fail(`vaekit ${args.join(" ")} should have failed`);
}

// A small model: 3 epochs on 3,000 embedded digits (a few seconds).
const train = loadDataset("mnist", "train");
const config = parseVaeConfig({ inputShape: [28, 28, 1], latentDim: L, encoder: { type: "mlp", hidden: [256] }, decoder: { type: "mlp", hidden: [256] }, likelihood: { type: "bernoulli" } });
await runTraining({
  config,
  train: TrainConfig.parse({ epochs: 3, batchSize: 64, lr: 3e-3, seed: 0, binarize: "dynamic" }),
  data: subset(train, Int32Array.from({ length: 3000 }, (_, i) => i)),
  validation: 200,
  outDir: join(dir, "model"),
  dataSpec: "mnist",
});
const modelDir = join(dir, "model");
const inf = makeInference(loadModel(modelDir));

// Test digits as PNG files (labels known).
const testSet = loadDataset("mnist", "test");
const digit = (i: number) => testSet.x.slice(i * D, (i + 1) * D);
const files: string[] = [];
for (let i = 0; i < 4; i++) {
  files.push(join(dir, `digit${i}-label${testSet.labels![i]}.png`));
  writePng(files[i], createImage(28, 28, 1, digit(i)));
}
const pixels = (path: string) => readImage(path).data;

/** The cells of a grid written by writeGrid (scale 2, pad 2) as arrays of their pixels. */
function gridCells(path: string, rows: number, cols: number): Float32Array[] {
  const img = readImage(path);
  const cell = 56;
  assert.equal(img.width, cols * cell + (cols + 1) * 2, `${path} width`);
  assert.equal(img.height, rows * cell + (rows + 1) * 2, `${path} height`);
  const cells: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const out = new Float32Array(28 * 28);
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) out[y * 28 + x] = img.data[(2 + r * 58 + 2 * y) * img.width + 2 + c * 58 + 2 * x];
      cells.push(out);
    }
  }
  return cells;
}
const meanAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};
function assertAllDiffer(cells: Float32Array[], what: string): void {
  for (let i = 0; i < cells.length; i++) {
    for (let j = i + 1; j < cells.length; j++) assert.ok(meanAbsDiff(cells[i], cells[j]) > 1e-4, `${what}: images ${i} and ${j} are identical`);
  }
}

// ---------------------------------------------------------------------------------------------
// Latent geometry

test("slerp keeps the ends, follows the great circle between unit vectors, and lerp is the straight path", () => {
  const a = Float32Array.of(1, 0, 0);
  const b = Float32Array.of(0, 1, 0);
  const mid = slerp(a, b, 0.5);
  assert.ok(distance(mid, [Math.SQRT1_2, Math.SQRT1_2, 0]) < 1e-6);
  const path = interpolationPath(a, b, 5, true);
  assert.deepEqual(Array.from(row(path, 3, 0)), [1, 0, 0]);
  assert.ok(distance(row(path, 3, 4), b) < 1e-6);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(Math.hypot(...row(path, 3, i)) - 1) < 1e-6, "stays on the unit sphere");
  const straight = interpolationPath(a, b, 3);
  assert.deepEqual(Array.from(row(straight, 3, 1)), [0.5, 0.5, 0]);
  assert.throws(() => interpolationPath(a, b, 1), VaekitError);
});

test("unit activity is the variance of the latent means, and units sort most active first", () => {
  const mu = Float32Array.of(0, 1, 5, 2, 1, 5, 4, 1, 5, 6, 1, 5.5); // 4 rows × 3 units
  const act = latentActivity(mu, 3);
  const variance = (xs: number[]) => {
    const m = xs.reduce((s, x) => s + x, 0) / xs.length;
    return xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length;
  };
  assert.ok(Math.abs(act[0] - variance([0, 2, 4, 6])) < 1e-9);
  assert.equal(act[1], 0);
  assert.ok(Math.abs(act[2] - variance([5, 5, 5, 5.5])) < 1e-9);
  assert.deepEqual(unitsByActivity(act), [0, 2, 1]);
});

test("principal directions match a known covariance; projections invert planePoint", () => {
  // covariance diag(9, 4, 1) rotated by 45° in the first two axes
  const c = Math.SQRT1_2;
  const R = [[c, -c, 0], [c, c, 0], [0, 0, 1]];
  const lam = [9, 4, 1];
  const m = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) m[i * 3 + j] += R[i][k] * lam[k] * R[j][k];
  const { vectors, values } = leadingEigenvectors(m, 3, 2);
  assert.ok(Math.abs(values[0] - 9) < 1e-9 && Math.abs(values[1] - 4) < 1e-9, `eigenvalues ${values}`);
  assert.ok(Math.abs(Math.abs(vectors[0][0] * c + vectors[0][1] * c) - 1) < 1e-9, "first direction is (1,1,0)/√2 up to sign");
  assert.ok(Math.abs(Math.abs(-vectors[1][0] * c + vectors[1][1] * c) - 1) < 1e-9, "second direction is (−1,1,0)/√2 up to sign");

  // the plane of data that lies in a plane: points project and come back exactly
  const pts = new Float32Array(50 * 3);
  for (let i = 0; i < 50; i++) pts.set([Math.sin(i) * 3 + 1, Math.cos(i * 1.3) - 2, Math.sin(i) * 3 + Math.cos(i * 1.3)], i * 3);
  const plane = latentPlane(3, pts);
  const uv = projectToPlane(plane, pts);
  for (let i = 0; i < 50; i += 7) assert.ok(distance(planePoint(plane, uv[2 * i], uv[2 * i + 1]), row(pts, 3, i)) < 1e-4);
  // axes are scaled to one standard deviation: projected coordinates have unit variance along each
  const { cov } = covariance(uv, 2);
  assert.ok(Math.abs(cov[0] - 1) < 1e-4 && Math.abs(cov[3] - 1) < 1e-4, `projected variances ${cov[0]}, ${cov[3]}`);
});

test("manifold and traversal grids put the right latent in each cell", () => {
  const grid = manifoldLatents(latentPlane(2), 3, 2); // 2-D latent: the latent coordinates themselves
  assert.deepEqual(Array.from(row(grid, 2, 0)), [-2, 2], "top left: u = −range, v = +range");
  assert.deepEqual(Array.from(row(grid, 2, 5)), [2, 0]);
  assert.deepEqual(Array.from(row(grid, 2, 8)), [2, -2]);
  const t = traversalLatents(Float32Array.of(0.5, 0.5, 0.5), [2, 0], [-1, 1]);
  assert.deepEqual(Array.from(t), [0.5, 0.5, -1, 0.5, 0.5, 1, -1, 0.5, 0.5, 1, 0.5, 0.5]);
  assert.deepEqual(Array.from(latentSum([{ sign: 1, z: Float32Array.of(1, 2) }, { sign: -1, z: Float32Array.of(3, 1) }, { sign: 1, z: Float32Array.of(0, 5) }])), [-2, 6]);
});

test("attribute vectors are class means minus the rest; FROM->TO is a difference of class means", () => {
  const mu = Float32Array.of(1, 0, 3, 0, 0, 4, 0, 8); // 4 rows × 2
  const set = computeAttributes(mu, 2, [0, 0, 1, 1], ["a", "b"], "toy");
  assert.deepEqual(set.classes[0], { name: "a", count: 2, mean: [2, 0], vector: [2, -6] });
  assert.deepEqual(Array.from(attributeDirection(set, "B")), [-2, 6], "names match case-insensitively");
  assert.deepEqual(Array.from(attributeDirection(set, "a -> b")), [-2, 6]);
  assert.deepEqual(Array.from(applyDirection(Float32Array.of(1, 1), attributeDirection(set, "a"), 0.5)), [2, -2]);
  assert.throws(() => attributeDirection(set, "c"), /unknown attribute "c" \(have: a, b\)/);
  assert.throws(() => computeAttributes(mu, 2, [0, 0, 0, 0], ["a", "b"], "toy"), /at least two classes/);
  assert.deepEqual(readAttributes({ attributes: set }, 2), set);
  assert.equal(readAttributes({}, 2), undefined);
  assert.throws(() => readAttributes({ attributes: set }, 3), /2-D latent, the model has 3/);
  assert.throws(() => readAttributes({ attributes: { source: 1 } }, 2), /malformed/);
});

test("arithmetic expressions parse into signed terms", () => {
  assert.deepEqual(parseExpression(["a.png", "-", "b.png", "+", "c.png"]), [
    { sign: 1, path: "a.png" },
    { sign: -1, path: "b.png" },
    { sign: 1, path: "c.png" },
  ]);
  assert.deepEqual(parseExpression(["-", "a.png"]), [{ sign: -1, path: "a.png" }]);
  assert.throws(() => parseExpression(["a.png", "b.png"]), /expected \+ or - before "b.png"/);
  assert.throws(() => parseExpression(["a.png", "-"]), /ends with a sign/);
  assert.throws(() => parseExpression(["a.png", "-", "+", "b.png"]), /two signs in a row/);
});

// ---------------------------------------------------------------------------------------------
// Commands on the trained model

test("interpolate: a row of the right size, distinct frames, endpoints that reconstruct the inputs", async () => {
  await vaekit("interpolate", "--model", modelDir, "--from", files[0], "--to", files[1], "--steps", "6", "--out", "interp.png", "--quiet");
  const cells = gridCells(join(dir, "interp.png"), 1, 8);
  assert.ok(meanAbsDiff(cells[0], pixels(files[0])) < 1e-6, "first cell is the first input");
  assert.ok(meanAbsDiff(cells[7], pixels(files[1])) < 1e-6, "last cell is the second input");
  const frames = cells.slice(1, 7);
  assertAllDiffer(frames, "interpolation");
  // the end frames are the reconstructions of the inputs (PNG rounding aside) ...
  const recon = await inf.reconstruct(new Float32Array([...pixels(files[0]), ...pixels(files[1])]));
  assert.ok(meanAbsDiff(frames[0], recon.subarray(0, D)) < 1 / 255);
  assert.ok(meanAbsDiff(frames[5], recon.subarray(D)) < 1 / 255);
  // ... and each is closer to its own input than to the other one
  assert.ok(meanAbsDiff(frames[0], pixels(files[0])) < meanAbsDiff(frames[0], pixels(files[1])));
  assert.ok(meanAbsDiff(frames[5], pixels(files[1])) < meanAbsDiff(frames[5], pixels(files[0])));

  await vaekit("interpolate", "--model", modelDir, "--from", files[0], "--to", files[1], "--steps", "4", "--slerp", "--no-inputs", "--out", "slerp.png", "--quiet");
  const s = gridCells(join(dir, "slerp.png"), 1, 4);
  assertAllDiffer(s, "slerp");
  assert.ok(meanAbsDiff(s[0], frames[0]) < 1 / 255, "slerp starts at the same reconstruction");
});

test("traverse: one row per unit, most active first, measured on the data", async () => {
  const { stdout } = await vaekit("traverse", "--model", modelDir, "--data", "mnist", "--limit", "500", "--rows", "4", "--steps", "5", "--json", "--out", "trav.png", "--quiet");
  const report = JSON.parse(stdout) as { rows: { unit: number; activity: number }[]; latent_dim: number };
  assert.equal(report.latent_dim, L);
  // independent check: variance of μ over the same 500 test digits
  const mu = (await inf.encode(testSet.x.slice(0, 500 * D))).mu;
  const act = Array.from({ length: L }, (_, u) => {
    let m = 0;
    for (let i = 0; i < 500; i++) m += mu[i * L + u] / 500;
    let v = 0;
    for (let i = 0; i < 500; i++) v += (mu[i * L + u] - m) ** 2 / 500;
    return v;
  });
  const expected = act.map((a, u) => [a, u]).sort((x, y) => y[0] - x[0]).slice(0, 4).map(([, u]) => u);
  assert.deepEqual(report.rows.map((r) => r.unit), expected);
  report.rows.forEach((r) => assert.ok(Math.abs(r.activity - act[r.unit]) < 1e-4));
  const cells = gridCells(join(dir, "trav.png"), 4, 5);
  assertAllDiffer(cells.slice(0, 5), "first traversal row");
  assert.ok(meanAbsDiff(cells[0], cells[4]) > 0.01, "sweeping the most active unit changes the image visibly");
});

test("manifold: an n×n grid of distinct decodes along the principal directions", async () => {
  await vaekit("manifold", "--model", modelDir, "--data", "mnist", "--limit", "500", "--size", "4", "--out", "manifold.png", "--quiet");
  assertAllDiffer(gridCells(join(dir, "manifold.png"), 4, 4), "manifold");
});

test("attributes are stored in the model file; an edit moves images towards the target class", async () => {
  const before = readFileSync(join(modelDir, "model.safetensors"));
  await vaekit("attributes", "--model", modelDir, "--data", "mnist", "--limit", "3000", "--quiet");
  const bundle = loadModel(modelDir);
  const set = readAttributes(bundle.extras, L)!;
  assert.equal(set.classes.length, 10);
  assert.equal(set.classes.reduce((s, c) => s + c.count, 0), 3000);
  assert.ok(bundle.extras.training, "earlier extras are kept");
  // the weights are untouched: the tensor bytes after the header are the same
  const after = readFileSync(join(modelDir, "model.safetensors"));
  const body = (b: Buffer) => b.subarray(8 + Number(b.readBigUInt64LE(0)));
  assert.ok(body(before).equals(body(after)));

  // independent check of one vector: mean μ of the 7s minus mean μ of the rest on the same data
  const ds = loadDataset("mnist", "train");
  const mu = (await inf.encode(ds.x.slice(0, 3000 * D))).mu;
  const seven = new Float64Array(L);
  const rest = new Float64Array(L);
  let n7 = 0;
  for (let i = 0; i < 3000; i++) {
    const is7 = ds.labels![i] === 7;
    if (is7) n7++;
    for (let j = 0; j < L; j++) (is7 ? seven : rest)[j] += mu[i * L + j];
  }
  const vector = set.classes.find((c) => c.name === "7")!.vector;
  for (let j = 0; j < L; j++) assert.ok(Math.abs(vector[j] - (seven[j] / n7 - rest[j] / (3000 - n7))) < 1e-4);

  // classifier-free check on 200 test digits that are not 0s: after an edit towards "0", their
  // re-encoded latents are on average closer to the mean latent of the 0s
  const target = set.classes.find((c) => c.name === "0")!;
  const direction = attributeDirection(set, "0");
  const idx = Array.from({ length: testSet.n }, (_, i) => i).filter((i) => testSet.labels![i] !== 0).slice(0, 200);
  const x = new Float32Array(idx.length * D);
  idx.forEach((i, k) => x.set(digit(i), k * D));
  const z = (await inf.encode(x)).mu;
  const edited = new Float32Array(z.length);
  for (let k = 0; k < idx.length; k++) edited.set(applyDirection(row(z, L, k), direction, 1), k * L);
  const zAfter = (await inf.encode(await inf.decode(edited))).mu;
  const meanDistance = (zs: Float32Array) => idx.reduce((s, _, k) => s + distance(row(zs, L, k), target.mean), 0) / idx.length;
  const dBefore = meanDistance(z);
  const dAfter = meanDistance(zAfter);
  assert.ok(dAfter < 0.8 * dBefore, `mean distance to the 0s' mean: ${dBefore.toFixed(3)} before, ${dAfter.toFixed(3)} after`);

  // the command does the same for one file
  const source = files.find((f) => !f.endsWith("label0.png"))!;
  await vaekit("edit", "--model", modelDir, "--image", source, "--attribute", "0", "--strength", "1", "--out", "edited.png", "--grid", "edit-grid.png", "--steps", "4", "--quiet");
  const out = pixels(join(dir, "edited.png"));
  assert.equal(out.length, D);
  const zSource = (await inf.encode(pixels(source))).mu;
  const expected = await inf.decode(applyDirection(zSource, direction, 1));
  assert.ok(meanAbsDiff(out, expected) < 1 / 255);
  assert.ok(distance((await inf.encode(out)).mu, target.mean) < distance(zSource, target.mean));
  const cells = gridCells(join(dir, "edit-grid.png"), 1, 5);
  assertAllDiffer(cells, "edit strengths");
  assert.ok(meanAbsDiff(cells[4], out) < 1 / 255, "the last edit in the row is the edited image");
});

test("attributes from a folder of class sub-folders, and from Fashion-MNIST's named classes", async () => {
  const folder = join(dir, "by-label");
  const picked: Record<string, number[]> = { ones: [], sevens: [] };
  for (let i = 0; i < testSet.n && (picked.ones.length < 15 || picked.sevens.length < 15); i++) {
    const name = testSet.labels![i] === 1 ? "ones" : testSet.labels![i] === 7 ? "sevens" : undefined;
    if (name && picked[name].length < 15) picked[name].push(i);
  }
  for (const [name, idx] of Object.entries(picked)) {
    mkdirSync(join(folder, name), { recursive: true });
    idx.forEach((i, k) => writePng(join(folder, name, `${k}.png`), createImage(28, 28, 1, digit(i))));
  }
  const copy = join(dir, "folder-model.safetensors");
  writeFileSync(copy, readFileSync(join(modelDir, "model.safetensors")));
  const { stdout } = await vaekit("attributes", "--model", copy, "--data", folder, "--json", "--quiet");
  const set = JSON.parse(stdout) as { source: string; classes: { name: string; count: number; mean: number[] }[] };
  assert.equal(set.source, folder);
  assert.deepEqual(set.classes.map((c) => [c.name, c.count]), [["ones", 15], ["sevens", 15]]);
  const ones = new Float32Array(15 * D);
  picked.ones.forEach((_, k) => ones.set(pixels(join(folder, "ones", `${k}.png`)), k * D));
  const mu = (await inf.encode(ones)).mu;
  for (let j = 0; j < L; j++) {
    let m = 0;
    for (let k = 0; k < 15; k++) m += mu[k * L + j] / 15;
    assert.ok(Math.abs(set.classes[0].mean[j] - m) < 1e-4);
  }
  assert.deepEqual(readAttributes(loadModel(copy).extras, L), set, "stored in the .safetensors file given");

  if (existsSync("/usr/share/datasets/fashion-mnist")) {
    const r = await vaekit("attributes", "--model", copy, "--data", "fashion-mnist", "--split", "test", "--limit", "300", "--json", "--quiet");
    assert.deepEqual((JSON.parse(r.stdout) as typeof set).classes.map((c) => c.name), ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);
    await vaekit("edit", "--model", copy, "--image", files[0], "--attribute", "ankle boot", "--out", "boot.png", "--quiet");
  }
});

test("arithmetic decodes μ(a) − μ(b) + μ(c)", async () => {
  await vaekit("arithmetic", "--model", modelDir, files[0], "-", files[1], "+", files[2], "--out", "sum.png", "--grid", "sum-grid.png", "--quiet");
  const mu = (await inf.encode(new Float32Array([...pixels(files[0]), ...pixels(files[1]), ...pixels(files[2])]))).mu;
  const expected = await inf.decode(latentSum([
    { sign: 1, z: row(mu, L, 0) },
    { sign: -1, z: row(mu, L, 1) },
    { sign: 1, z: row(mu, L, 2) },
  ]));
  assert.ok(meanAbsDiff(pixels(join(dir, "sum.png")), expected) < 1 / 255);
  assertAllDiffer(gridCells(join(dir, "sum-grid.png"), 1, 4), "arithmetic row");
});

test("image commands fail with one clear line", async () => {
  const bare = join(dir, "bare.safetensors");
  const b = loadModel(modelDir);
  writeFileSync(bare, await encodeModel({ ...b, extras: {} }));
  let r = await vaekitFails("edit", "--model", bare, "--image", files[0], "--attribute", "3");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^vaekit: .*has no attribute vectors; run `vaekit attributes/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  r = await vaekitFails("edit", "--model", modelDir, "--image", files[0], "--attribute", "eleven");
  assert.match(r.stderr, /unknown attribute "eleven" \(have: 0, 1, 2/);
  r = await vaekitFails("interpolate", "--model", modelDir, "--from", join(dir, "missing.png"), "--to", files[1]);
  assert.match(r.stderr, /missing\.png: file not found/);
  r = await vaekitFails("arithmetic", "--model", modelDir, files[0], files[1]);
  assert.match(r.stderr, /expected \+ or - before/);
  r = await vaekitFails("interpolate", "--model", modelDir, "--from", files[0], "--to", files[1], "--steps", "1");
  assert.equal(r.code, 2);
});
