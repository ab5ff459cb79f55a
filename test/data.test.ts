import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { VaekitError } from "../src/errors.js";
import { encodeIdx, parseIdx, readIdxBytes } from "../src/data/idx.js";
import {
  binarize,
  binarizeBatchHost,
  createDataset,
  datasetFromIdx,
  exampleSize,
  subset,
  trainValidationSplit,
  validateDataset,
  type Dataset,
} from "../src/data/datasets.js";
import { batches, batchesPerEpoch } from "../src/data/batches.js";
import {
  FASHION_MNIST_DIR,
  loadDataset,
  loadEmbeddedMnist,
  loadFashionMnist,
  loadIdxPair,
  readIdxFile,
} from "../src/data/load.js";
import { Rng } from "../src/data/rng.js";

const tmp = mkdtempSync(join(tmpdir(), "vaekit-data-test-"));

function bytesOf(n: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** Assert `fn` throws a VaekitError whose one-line message matches every pattern. */
function assertVaekitError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VaekitError, `expected VaekitError, got ${String(e)}`);
    assert.ok(!e.message.includes("\n"), `message should be one line: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** A dataset whose label is the example's index, to see which examples a split or batch picked. */
function indexedDataset(n: number, shape: [number, number, number] = [2, 3, 1]): Dataset {
  const size = shape[0] * shape[1] * shape[2];
  const x = new Float32Array(n * size);
  for (let i = 0; i < n; i++) for (let j = 0; j < size; j++) x[i * size + j] = (i % 100) / 100 + j / 1000;
  return { name: "indexed", x, shape, n, labels: Int32Array.from({ length: n }, (_, i) => i) };
}

test("IDX header bytes follow the format (big-endian dims after 00 00 08 rank)", () => {
  const buf = encodeIdx([2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6));
  assert.deepEqual([...buf], [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
  const big = encodeIdx([70000], new Uint8Array(70000));
  assert.deepEqual([...big.subarray(0, 8)], [0, 0, 8, 1, 0, 1, 0x11, 0x70]);
});

test("IDX round trip: raw and gzip files, and async bytes", async () => {
  const data = bytesOf(5 * 4 * 3);
  const raw = encodeIdx([5, 4, 3], data);
  const parsed = parseIdx(raw);
  assert.deepEqual(parsed.dims, [5, 4, 3]);
  assert.deepEqual([...parsed.data], [...data]);

  const rawPath = join(tmp, "round.idx");
  const gzPath = join(tmp, "round.idx.gz");
  writeFileSync(rawPath, raw);
  writeFileSync(gzPath, gzipSync(raw));
  for (const p of [rawPath, gzPath]) {
    const f = readIdxFile(p);
    assert.deepEqual(f.dims, [5, 4, 3]);
    assert.deepEqual([...f.data], [...data]);
  }
  const fromGzBytes = await readIdxBytes(gzipSync(raw), "upload.gz");
  assert.deepEqual(fromGzBytes.dims, [5, 4, 3]);
  assert.deepEqual([...fromGzBytes.data], [...data]);
});

test("truncated IDX files are rejected with the file name", () => {
  const raw = encodeIdx([10, 4, 4], bytesOf(160));
  const cut = join(tmp, "cut.idx");
  writeFileSync(cut, raw.subarray(0, raw.length - 7));
  assertVaekitError(() => readIdxFile(cut), /cut\.idx/, /truncated/, /160 data bytes/, /153/);

  const cutHeader = join(tmp, "cut-header.idx");
  writeFileSync(cutHeader, raw.subarray(0, 9));
  assertVaekitError(() => readIdxFile(cutHeader), /cut-header\.idx/, /truncated/, /3 dimensions/);

  const cutGz = join(tmp, "cut.idx.gz");
  const gz = gzipSync(raw);
  writeFileSync(cutGz, gz.subarray(0, gz.length - 10));
  assertVaekitError(() => readIdxFile(cutGz), /cut\.idx\.gz/, /gzip/);

  const tooLong = new Uint8Array(raw.length + 3);
  tooLong.set(raw);
  assertVaekitError(() => parseIdx(tooLong, "long.idx"), /long\.idx/, /corrupt/);
});

test("wrong magic, unsupported dtype and missing file are rejected", () => {
  const raw = encodeIdx([4], Uint8Array.of(1, 2, 3, 4));
  const badMagic = raw.slice();
  badMagic[0] = 0x50;
  badMagic[1] = 0x4b;
  const path = join(tmp, "bad-magic.idx");
  writeFileSync(path, badMagic);
  assertVaekitError(() => readIdxFile(path), /bad-magic\.idx/, /not an IDX file/, /0x504b0801/);

  const float = raw.slice();
  float[2] = 0x0d;
  assertVaekitError(() => parseIdx(float, "f.idx"), /f\.idx/, /float32/, /only unsigned bytes/);
  assertVaekitError(() => readIdxFile(join(tmp, "nope.idx")), /nope\.idx/, /not found/);
  assertVaekitError(() => parseIdx(gzipSync(raw), "g"), /gzip/);
});

test("IDX image/label pairs become datasets scaled to [0,1]", () => {
  const images = encodeIdx([3, 2, 2], Uint8Array.of(0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8));
  const labels = encodeIdx([3], Uint8Array.of(2, 0, 1));
  const ip = join(tmp, "img-idx3-ubyte");
  const lp = join(tmp, "lab-idx1-ubyte.gz");
  writeFileSync(ip, images);
  writeFileSync(lp, gzipSync(labels));
  const ds = loadIdxPair(ip, lp);
  assert.equal(ds.n, 3);
  assert.deepEqual(ds.shape, [2, 2, 1]);
  assert.equal(exampleSize(ds), 4);
  assert.deepEqual([...ds.x.subarray(0, 4)], [0, 1, 0.2, 0.4].map(Math.fround));
  assert.deepEqual([...ds.labels!], [2, 0, 1]);
  assert.deepEqual(loadDataset(`${ip},${lp}`, "test").labels, ds.labels);

  const fewLabels = join(tmp, "few-labels-idx1-ubyte");
  writeFileSync(fewLabels, encodeIdx([2], Uint8Array.of(0, 1)));
  assertVaekitError(() => loadIdxPair(ip, fewLabels), /few-labels/, /2 labels/, /3 images/);

  const rgb = datasetFromIdx("rgb", parseIdx(encodeIdx([2, 1, 2, 3], bytesOf(12))));
  assert.deepEqual(rgb.shape, [1, 2, 3]);
  assertVaekitError(() => datasetFromIdx("flat", parseIdx(encodeIdx([5], bytesOf(5)))), /flat images/, /dimensions/);
});

test("a directory with MNIST file names loads both splits", () => {
  const dir = join(tmp, "mini-mnist");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(encodeIdx([4, 2, 2], bytesOf(16))));
  writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(encodeIdx([4], Uint8Array.of(0, 1, 2, 3))));
  writeFileSync(join(dir, "t10k-images-idx3-ubyte"), encodeIdx([2, 2, 2], bytesOf(8)));
  writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), encodeIdx([2], Uint8Array.of(5, 6)));
  const train = loadDataset(dir, "train");
  const test_ = loadDataset(dir, "test");
  assert.equal(train.n, 4);
  assert.equal(test_.n, 2);
  assert.equal(train.name, "mini-mnist:train");
  assert.deepEqual([...test_.labels!], [5, 6]);
  const real = loadDataset(`mnist=${dir}`, "train");
  assert.deepEqual(real.classNames, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  assertVaekitError(() => loadDataset("no-such-dataset", "train"), /unknown dataset "no-such-dataset"/);
  assertVaekitError(() => loadDataset("a,b,c", "train"), /two files/);
});

test("embedded MNIST: 10,000 digits, 28×28×1 in [0,1], 10 classes, interleaved", () => {
  const ds = loadEmbeddedMnist();
  assert.equal(ds.n, 10000);
  assert.deepEqual(ds.shape, [28, 28, 1]);
  assert.equal(ds.x.length, 10000 * 784);
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.x) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.ok(min >= 0 && max <= 1 && max > 0.9, `range [${min}, ${max}]`);
  assert.equal(ds.classNames?.length, 10);
  assert.deepEqual([...ds.labels!.subarray(0, 20)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

  // Per-class counts and the first "0" agree with the package's own files.
  const pkg = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
  const counts = new Array(10).fill(0);
  for (const l of ds.labels!) counts[l]++;
  for (let d = 0; d < 10; d++) {
    const raw = JSON.parse(readFileSync(join(pkg, "src", "digits", `${d}.json`), "utf8")).data as number[];
    assert.equal(counts[d], raw.length / 784, `count of digit ${d}`);
    if (d === 0) assert.deepEqual([...ds.x.subarray(0, 784)], raw.slice(0, 784).map(Math.fround));
  }

  // Each call returns an independent copy.
  ds.x[0] = 0.5;
  assert.notEqual(loadEmbeddedMnist().x[0], 0.5);
});

test("embedded MNIST split is a fixed 8,000/2,000 partition", () => {
  const train = loadDataset("mnist", "train");
  const test_ = loadDataset("mnist", "test");
  assert.equal(train.n, 8000);
  assert.equal(test_.n, 2000);
  assert.equal(train.name, "mnist:train");
  // Disjoint and covering: every example of the full set appears in exactly one part (compared by content).
  const all = loadEmbeddedMnist();
  const key = (x: Float32Array, i: number) => x.subarray(i * 784, (i + 1) * 784).join(",");
  const seen = new Map<string, number>();
  for (let i = 0; i < all.n; i++) seen.set(key(all.x, i), (seen.get(key(all.x, i)) ?? 0) + 1);
  const parts = new Map<string, number>();
  for (const part of [train, test_]) {
    for (let i = 0; i < part.n; i++) parts.set(key(part.x, i), (parts.get(key(part.x, i)) ?? 0) + 1);
  }
  assert.deepEqual(parts, seen);
  assert.deepEqual(loadDataset("mnist", "test").labels, test_.labels);
});

test("Fashion-MNIST from the Debian package: 60,000 / 10,000", (t) => {
  if (!existsSync(join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz"))) {
    t.skip(`${FASHION_MNIST_DIR} not installed (apt-get install dataset-fashion-mnist)`);
    return;
  }
  const train = loadFashionMnist("train");
  const test_ = loadDataset("fashion-mnist", "test");
  assert.equal(train.n, 60000);
  assert.equal(test_.n, 10000);
  assert.deepEqual(train.shape, [28, 28, 1]);
  assert.equal(train.classNames![9], "Ankle boot");
  assert.equal(train.classNames!.length, 10);
  // Fashion-MNIST is balanced: 6,000 per class in train, 1,000 in test.
  for (const [ds, per] of [[train, 6000], [test_, 1000]] as const) {
    const counts = new Array(10).fill(0);
    for (const l of ds.labels!) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(per));
  }
});

test("missing Fashion-MNIST directory names the Debian package", () => {
  assertVaekitError(
    () => loadFashionMnist("train", join(tmp, "no-fashion-here")),
    /no-fashion-here/,
    /apt-get install dataset-fashion-mnist/,
  );
  assertVaekitError(() => loadDataset(`fashion-mnist=${join(tmp, "nowhere")}`, "test"), /apt-get install/);
});

test("static binarisation is reproducible from the seed and matches the pixel means", () => {
  const ds = subset(loadEmbeddedMnist(), Int32Array.from({ length: 500 }, (_, i) => i));
  const a = binarize(ds, "static", 7);
  const b = binarize(ds, "static", 7);
  const c = binarize(ds, "static", 8);
  assert.deepEqual(a.x, b.x);
  assert.notDeepEqual(a.x, c.x);
  assert.ok(a.x.every((v) => v === 0 || v === 1));
  assert.equal(binarize(ds, "none", 7), ds);
  assert.deepEqual(a.labels, ds.labels);
  // Sum of Bernoulli(p) draws: mean Σp, variance Σp(1-p); allow 5 standard deviations.
  let expected = 0;
  let variance = 0;
  for (const p of ds.x) {
    expected += p;
    variance += p * (1 - p);
  }
  const ones = a.x.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(ones - expected) < 5 * Math.sqrt(variance), `${ones} ones, expected ${expected}`);
  // Pixels that are exactly 0 or 1 stay put.
  for (let i = 0; i < ds.x.length; i++) if (ds.x[i] === 0 || ds.x[i] === 1) assert.equal(a.x[i], ds.x[i]);

  const host = binarizeBatchHost(Float32Array.of(0, 1, 0.5, 0.5), new Rng(3));
  assert.deepEqual(host, binarizeBatchHost(Float32Array.of(0, 1, 0.5, 0.5), new Rng(3)));
  assert.deepEqual([...host.subarray(0, 2)], [0, 1]);
});

test("user data with NaN or values outside [0,1] is rejected", () => {
  const ok = createDataset({ name: "ok", x: new Float32Array(8).fill(0.5), shape: [2, 2, 1] });
  assert.equal(ok.n, 2);
  const nan = new Float32Array(8);
  nan[5] = NaN;
  assertVaekitError(() => createDataset({ name: "user.csv", x: nan, shape: [2, 2, 1] }), /user\.csv/, /NaN/, /example 1/);
  const big = new Float32Array(8);
  big[2] = 1.5;
  assertVaekitError(() => createDataset({ name: "big", x: big, shape: [2, 2, 1] }), /1\.5/, /outside \[0, 1\]/);
  assertVaekitError(() => validateDataset({ name: "odd", x: new Float32Array(7), shape: [2, 2, 1], n: 2 }), /7 pixel values/);
  assertVaekitError(
    () => validateDataset({ name: "lab", x: new Float32Array(8), shape: [2, 2, 1], n: 2, labels: Int32Array.of(0) }),
    /1 labels for 2 examples/,
  );
});

test("train/validation split is seeded, disjoint and covering", () => {
  const ds = indexedDataset(103);
  const { train, validation } = trainValidationSplit(ds, 0.2, 11);
  assert.equal(validation.n, 21);
  assert.equal(train.n, 82);
  const all = [...train.labels!, ...validation.labels!].sort((a, b) => a - b);
  assert.deepEqual(all, [...ds.labels!]);
  // Rows travel with their labels.
  const size = exampleSize(ds);
  const j = validation.labels![3];
  assert.deepEqual(validation.x.subarray(3 * size, 4 * size), ds.x.subarray(j * size, (j + 1) * size));

  assert.deepEqual(trainValidationSplit(ds, 0.2, 11).validation.labels, validation.labels);
  assert.notDeepEqual(trainValidationSplit(ds, 0.2, 12).validation.labels, validation.labels);
  assert.equal(trainValidationSplit(ds, 10, 0).validation.n, 10);
  assert.equal(trainValidationSplit(ds, 0, 0).train.n, 103);
  assertVaekitError(() => trainValidationSplit(ds, 200, 0), /exceeds/);
  assertVaekitError(() => trainValidationSplit(ds, 2.5, 0), /whole number/);
});

test("batches visit every example once per epoch, deterministically from the seed", () => {
  const ds = indexedDataset(23);
  const size = exampleSize(ds);
  const rng = new Rng(5);
  const epochs: number[][] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    const order: number[] = [];
    const sizes: number[] = [];
    for (const batch of batches(ds, 5, rng)) {
      sizes.push(batch.indices.length);
      assert.equal(batch.x.length, batch.indices.length * size);
      batch.indices.forEach((idx, r) =>
        assert.deepEqual(batch.x.subarray(r * size, (r + 1) * size), ds.x.subarray(idx * size, (idx + 1) * size)),
      );
      order.push(...batch.indices);
    }
    assert.deepEqual(sizes, [5, 5, 5, 5, 3]);
    assert.equal(sizes.length, batchesPerEpoch(23, 5));
    assert.deepEqual([...order].sort((a, b) => a - b), [...ds.labels!]);
    epochs.push(order);
  }
  assert.notDeepEqual(epochs[0], epochs[1], "each epoch is reshuffled");

  const again = new Rng(5);
  assert.deepEqual([...batches(ds, 5, again)].flatMap((b) => [...b.indices]), epochs[0]);

  const dropped = [...batches(ds, 5, new Rng(1), { dropLast: true })];
  assert.equal(dropped.length, 4);
  assert.equal(batchesPerEpoch(23, 5, true), 4);
  const ordered = [...batches(ds, 10, new Rng(1), { shuffle: false })].flatMap((b) => [...b.indices]);
  assert.deepEqual(ordered, [...ds.labels!]);
  assertVaekitError(() => batches(ds, 0, new Rng(1)), /batch size/);
});
