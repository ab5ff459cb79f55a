/**
 * Node-side inputs for scoring: a dataset spec or IDX file(s) (src/data/load), a folder of
 * PNG/JPEG images (brought to the model's shape), or a CSV file for a tabular model.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname } from "node:path";
import { VaekitError } from "../../errors.js";
import { loadDataset, type Split } from "../../data/load.js";
import { IMAGE_EXTENSIONS, loadImageFolder } from "../../io/files.js";
import type { Channels } from "../../io/image.js";
import type { AnomalyModel } from "./model-file.js";
import { encodeTable, parseCsv, type MissingPolicy } from "./tabular/table.js";

export interface ScoringInput {
  /** n × D values in the model's encoding. */
  x: Float32Array;
  n: number;
  /** One id per example: file name, CSV id/row number, or dataset index. */
  ids: string[];
  source: string;
  /** Things the user should know (rows dropped for missing values, …). */
  notes: string[];
}

export interface LoadOptions {
  split?: Split;
  limit?: number;
  missing?: MissingPolicy;
}

const isCsv = (p: string) => extname(p).toLowerCase() === ".csv";

function hasImages(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && readdirSync(dir).some((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase()));
  } catch {
    return false;
  }
}

function readText(path: string): string {
  if (!existsSync(path)) throw new VaekitError(`${path}: file not found`);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new VaekitError(`${path}: cannot read (${(e as Error).message})`);
  }
}

function limited(inp: ScoringInput, D: number, limit?: number): ScoringInput {
  if (limit === undefined || limit >= inp.n) return inp;
  return { ...inp, n: limit, x: inp.x.slice(0, limit * D), ids: inp.ids.slice(0, limit) };
}

/** CSV rows encoded with a tabular model's schema. */
export function loadCsvForModel(path: string, model: AnomalyModel, missing: MissingPolicy = "error"): ScoringInput {
  if (model.type !== "tabular") throw new VaekitError(`${path}: CSV data needs a tabular model (train one with \`vaekit train-tabular\`)`);
  const enc = encodeTable(parseCsv(readText(path), path), model.bundle.config.schema, missing);
  const notes: string[] = [];
  if (enc.dropped.length) notes.push(`${enc.dropped.length} row(s) with missing values left out (--missing drop): rows ${enc.dropped.slice(0, 10).join(", ")}${enc.dropped.length > 10 ? ", …" : ""}`);
  if (enc.imputed) notes.push(`${enc.imputed} missing cell(s) imputed (--missing impute)`);
  if (enc.n === 0) throw new VaekitError(`${path}: no rows left to score`);
  return { x: enc.x, n: enc.n, ids: enc.ids, source: path, notes };
}

export function loadScoringData(spec: string, model: AnomalyModel, opts: LoadOptions = {}): ScoringInput {
  if (isCsv(spec)) {
    const inp = loadCsvForModel(spec, model, opts.missing);
    const D = inp.x.length / inp.n;
    return limited(inp, D, opts.limit);
  }
  if (model.type === "tabular") throw new VaekitError(`--data ${spec}: a tabular model scores CSV files (*.csv)`);
  const [h, w, c] = model.bundle.config.inputShape;
  const D = h * w * c;
  if (hasImages(spec)) {
    if (c !== 1 && c !== 3) throw new VaekitError(`image folders need a model with 1 or 3 channels; this one has ${c}`);
    const folder = loadImageFolder(spec, { shape: [h, w, c as Channels] });
    const x = new Float32Array(folder.images.length * D);
    folder.images.forEach((im, i) => x.set(im.data, i * D));
    const inp = { x, n: folder.images.length, ids: folder.files.map((f) => basename(f)), source: spec, notes: [] };
    return limited(inp, D, opts.limit);
  }
  const ds = loadDataset(spec, opts.split ?? "test");
  if (ds.shape.join("×") !== [h, w, c].join("×")) {
    throw new VaekitError(`${ds.name} has examples of shape ${ds.shape.join("×")} but the model expects ${h}×${w}×${c}`);
  }
  const inp = { x: ds.x, n: ds.n, ids: Array.from({ length: ds.n }, (_, i) => String(i)), source: ds.name, notes: [] };
  return limited(inp, D, opts.limit);
}
