/** Node-only image file IO: read one image, load a folder of images, write PNGs atomically. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { VaekitError } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";
import { type DecodeOptions, decodeImage, type FitMode, fitTo, type Image, type ImageShape } from "./image.js";
import { encodePng } from "./png.js";

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new VaekitError(`${path}: file not found`);
    if (code === "EISDIR") throw new VaekitError(`${path}: is a folder, expected an image file`);
    throw new VaekitError(`${path}: cannot read (${(e as Error).message})`);
  }
}

/** Decode a PNG or JPEG file; errors name the file. */
export function readImage(path: string, options: DecodeOptions = {}): Image {
  return decodeImage(readBytes(path), path, options);
}

/** Encode as PNG and write so that readers never see a half-written file. */
export function writePng(path: string, image: Image): void {
  writeFileAtomic(path, encodePng(image));
}

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg"];

/** Compare names so that "img2" sorts before "img10" (digit runs compare as numbers). */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const bothDigits = /^\d/.test(x) && /^\d/.test(y);
    if (bothDigits) {
      const byValue = Number(x) - Number(y);
      if (byValue !== 0) return byValue;
    }
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ImageFolderOptions extends DecodeOptions {
  /** Each sub-folder is a class: its name is the class name, its sorted position the label. */
  labels?: boolean;
  /** Bring every image to this [h, w, c] (default: keep each image as decoded). */
  shape?: ImageShape;
  /** How to reach `shape` (default "resize"); see fitTo. */
  mode?: FitMode;
  padValue?: number;
}

export interface ImageFolder {
  images: Image[];
  /** Paths of the images, in the same order. */
  files: string[];
}

export interface LabelledImageFolder extends ImageFolder {
  /** Class index of each image. */
  labels: Int32Array;
  /** Sub-folder names, sorted; label k is classNames[k]. */
  classNames: string[];
}

function listDir(dir: string): string[] {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new VaekitError(`${dir}: folder not found`);
  }
  if (!stat.isDirectory()) throw new VaekitError(`${dir}: not a folder`);
  return readdirSync(dir)
    .filter((name) => !name.startsWith("."))
    .sort(naturalCompare);
}

function imageFilesIn(dir: string): string[] {
  return listDir(dir)
    .filter((name) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase()))
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

/**
 * Load every PNG/JPEG in `dir` (hidden files skipped, names in natural order). With
 * `labels: true`, images come from the sub-folders instead, one class per sub-folder.
 */
export function loadImageFolder(dir: string, options: ImageFolderOptions & { labels: true }): LabelledImageFolder;
export function loadImageFolder(dir: string, options?: ImageFolderOptions): ImageFolder;
export function loadImageFolder(dir: string, options: ImageFolderOptions = {}): ImageFolder | LabelledImageFolder {
  const load = (path: string) => {
    const image = readImage(path, options);
    return options.shape ? fitTo(image, options.shape, { mode: options.mode, padValue: options.padValue }) : image;
  };
  if (!options.labels) {
    const files = imageFilesIn(dir);
    if (files.length === 0) throw new VaekitError(`${dir}: no PNG or JPEG images found`);
    return { images: files.map(load), files };
  }
  const classNames = listDir(dir).filter((name) => statSync(join(dir, name)).isDirectory());
  if (classNames.length === 0) throw new VaekitError(`${dir}: no class sub-folders found (labels need one folder per class)`);
  const files: string[] = [];
  const labels: number[] = [];
  classNames.forEach((name, label) => {
    const classFiles = imageFilesIn(join(dir, name));
    if (classFiles.length === 0) throw new VaekitError(`${join(dir, name)}: class folder has no PNG or JPEG images`);
    for (const file of classFiles) {
      files.push(file);
      labels.push(label);
    }
  });
  return { images: files.map(load), files, labels: Int32Array.from(labels), classNames };
}
