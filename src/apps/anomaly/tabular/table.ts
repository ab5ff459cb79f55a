/**
 * Table rows for a VAE (browser-safe): CSV text → header + string cells (csv-parse), a schema
 * (numeric columns with their standardisation, categorical columns with their categories) that
 * is stored in the model, and the encoding of rows into vectors: standardised numbers, then one
 * one-hot block per categorical column. Missing values are never dropped silently.
 */
import { parse } from "csv-parse/sync";
import { z } from "zod";
import { VaekitError } from "../../../errors.js";

export interface Table {
  source: string;
  header: string[];
  /** Data rows (strings as in the file), header excluded. */
  rows: string[][];
}

export const NumericColumn = z.object({ name: z.string(), type: z.literal("numeric"), mean: z.number(), std: z.number().positive() });
export const CategoricalColumn = z.object({ name: z.string(), type: z.literal("categorical"), categories: z.array(z.string()).min(1) });
export const ColumnSpec = z.discriminatedUnion("type", [NumericColumn, CategoricalColumn]);
export type ColumnSpec = z.infer<typeof ColumnSpec>;
export const TabularSchema = z.object({
  columns: z.array(ColumnSpec).min(1),
  /** Column used as the row id in outputs (not a feature). */
  idColumn: z.string().optional(),
});
export type TabularSchema = z.infer<typeof TabularSchema>;

export const MISSING_POLICIES = ["error", "drop", "impute"] as const;
export type MissingPolicy = (typeof MISSING_POLICIES)[number];

/** Cell texts read as "missing" (case-insensitive, after trimming). */
export const MISSING_MARKERS = ["", "na", "n/a", "nan", "null", "none", "?", "."];
export const isMissing = (cell: string) => MISSING_MARKERS.includes(cell.trim().toLowerCase());

/** Parse CSV text with a header row; every row must have the header's number of cells. */
export function parseCsv(text: string, source = "CSV"): Table {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: false, trim: true }) as string[][];
  } catch (e) {
    throw new VaekitError(`${source}: malformed CSV: ${(e as Error).message}`);
  }
  if (records.length === 0) throw new VaekitError(`${source}: empty CSV (no header row)`);
  const header = records[0];
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (h === "") throw new VaekitError(`${source}: column ${i + 1} of the header has no name`);
    if (seen.has(h)) throw new VaekitError(`${source}: the header names column "${h}" twice`);
    seen.add(h);
  });
  if (records.length < 2) throw new VaekitError(`${source}: the CSV has a header but no data rows`);
  return { source, header, rows: records.slice(1) };
}

const asNumber = (cell: string) => (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(cell.trim()) ? Number(cell) : NaN);

export interface InferOptions {
  /** Force these columns to be categorical (e.g. numeric codes). */
  categorical?: string[];
  /** Leave these columns out of the model. */
  ignore?: string[];
  idColumn?: string;
}

function columnIndex(table: Table, name: string, flag: string): number {
  const i = table.header.indexOf(name);
  if (i < 0) throw new VaekitError(`${flag} "${name}": ${table.source} has no such column (columns: ${table.header.join(", ")})`);
  return i;
}

/**
 * A schema from training rows: a column whose present cells all parse as numbers is numeric
 * (mean and standard deviation over present cells), any other is categorical (its distinct values, sorted).
 */
export function inferSchema(table: Table, opts: InferOptions = {}): TabularSchema {
  const forced = new Set(opts.categorical ?? []);
  const ignored = new Set([...(opts.ignore ?? []), ...(opts.idColumn ? [opts.idColumn] : [])]);
  for (const name of [...forced, ...ignored]) columnIndex(table, name, forced.has(name) ? "--categorical" : "--ignore/--id");
  const columns: ColumnSpec[] = [];
  table.header.forEach((name, j) => {
    if (ignored.has(name)) return;
    const present = table.rows.map((r) => r[j]).filter((c) => !isMissing(c));
    if (present.length === 0) throw new VaekitError(`${table.source}: column "${name}" has no values`);
    const nums = present.map(asNumber);
    if (!forced.has(name) && nums.every(Number.isFinite)) {
      const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
      const sd = Math.sqrt(nums.reduce((a, b) => a + (b - mean) ** 2, 0) / nums.length);
      columns.push({ name, type: "numeric", mean, std: sd > 1e-12 ? sd : 1 });
    } else {
      columns.push({ name, type: "categorical", categories: [...new Set(present)].sort() });
    }
  });
  if (columns.length === 0) throw new VaekitError(`${table.source}: no feature columns left`);
  return { columns, idColumn: opts.idColumn };
}

/** Length of an encoded row. */
export function encodedSize(schema: TabularSchema): number {
  return schema.columns.reduce((s, c) => s + (c.type === "numeric" ? 1 : c.categories.length), 0);
}

/** Layout of the encoded vector: numeric values first (in schema order), then the one-hot blocks. */
export function layout(schema: TabularSchema) {
  const numeric = schema.columns.filter((c) => c.type === "numeric") as z.infer<typeof NumericColumn>[];
  const categorical = schema.columns.filter((c) => c.type === "categorical") as z.infer<typeof CategoricalColumn>[];
  return { numeric, categorical, sizes: categorical.map((c) => c.categories.length), nNumeric: numeric.length };
}

export interface EncodedTable {
  /** n × encodedSize(schema). */
  x: Float32Array;
  n: number;
  /** Row ids: the id column's values, or the 1-based data row numbers. */
  ids: string[];
  /** 1-based data row numbers of rows left out by the "drop" policy. */
  dropped: number[];
  /** Count of cells filled in by the "impute" policy. */
  imputed: number;
}

const MAX_LISTED = 8;

/**
 * Encode rows against a schema. Missing cells: "error" throws listing them (row and column),
 * "drop" leaves their rows out (reported in `dropped`), "impute" fills a numeric cell with the
 * training mean and leaves a categorical cell's block all zero (no category is asserted).
 */
export function encodeTable(table: Table, schema: TabularSchema, missing: MissingPolicy = "error"): EncodedTable {
  const { numeric, categorical, nNumeric } = layout(schema);
  const D = encodedSize(schema);
  const numIdx = numeric.map((c) => columnIndex(table, c.name, "model column"));
  const catIdx = categorical.map((c) => columnIndex(table, c.name, "model column"));
  const idIdx = schema.idColumn && table.header.includes(schema.idColumn) ? table.header.indexOf(schema.idColumn) : -1;

  const missingCells: string[] = [];
  const missingByColumn = new Map<string, number>();
  const bad: string[] = [];
  const keep: number[] = [];
  table.rows.forEach((row, r) => {
    let rowMissing = false;
    const note = (name: string) => {
      rowMissing = true;
      missingByColumn.set(name, (missingByColumn.get(name) ?? 0) + 1);
      if (missingCells.length < MAX_LISTED) missingCells.push(`row ${r + 1} column "${name}"`);
    };
    numeric.forEach((c, k) => {
      const cell = row[numIdx[k]];
      if (isMissing(cell)) note(c.name);
      else if (!Number.isFinite(asNumber(cell)) && bad.length < MAX_LISTED) bad.push(`row ${r + 1} column "${c.name}": "${cell}" is not a number`);
    });
    categorical.forEach((c, k) => {
      const cell = row[catIdx[k]];
      if (isMissing(cell)) note(c.name);
      else if (!c.categories.includes(cell) && bad.length < MAX_LISTED) {
        bad.push(`row ${r + 1} column "${c.name}": category "${cell}" was not seen in training (known: ${c.categories.slice(0, 10).join(", ")})`);
      }
    });
    if (!(rowMissing && missing === "drop")) keep.push(r);
  });
  if (bad.length) throw new VaekitError(`${table.source}: ${bad.join("; ")}`);
  const totalMissing = [...missingByColumn.values()].reduce((a, b) => a + b, 0);
  if (totalMissing > 0 && missing === "error") {
    const perColumn = [...missingByColumn].map(([c, k]) => `"${c}" ${k}`).join(", ");
    throw new VaekitError(
      `${table.source}: ${totalMissing} missing value(s) (per column: ${perColumn}); first: ${missingCells.join(", ")}` +
        `${totalMissing > missingCells.length ? ", …" : ""}. Choose --missing drop (leave those rows out) or --missing impute`,
    );
  }
  const x = new Float32Array(keep.length * D);
  let imputed = 0;
  keep.forEach((r, i) => {
    const row = table.rows[r];
    const base = i * D;
    numeric.forEach((c, k) => {
      const cell = row[numIdx[k]];
      if (isMissing(cell)) imputed++;
      else x[base + k] = (asNumber(cell) - c.mean) / c.std; // missing → 0 = the training mean
    });
    let at = base + nNumeric;
    categorical.forEach((c, k) => {
      const cell = row[catIdx[k]];
      if (isMissing(cell)) imputed++;
      else x[at + c.categories.indexOf(cell)] = 1;
      at += c.categories.length;
    });
  });
  const kept = new Set(keep);
  const dropped = table.rows.map((_, r) => r).filter((r) => !kept.has(r)).map((r) => r + 1);
  const ids = keep.map((r) => (idIdx >= 0 ? table.rows[r][idIdx] : String(r + 1)));
  return { x, n: keep.length, ids, dropped, imputed };
}

/** A Table from an array of JSON objects (what the scoring service receives for table models). */
export function tableFromObjects(objects: unknown[], schema: TabularSchema, source = "request"): Table {
  const header = schema.columns.map((c) => c.name);
  if (schema.idColumn) header.push(schema.idColumn);
  const rows = objects.map((o, i) => {
    if (typeof o !== "object" || o === null || Array.isArray(o)) throw new VaekitError(`${source}: example ${i} is not an object with the model's columns`);
    return header.map((h) => {
      const v = (o as Record<string, unknown>)[h];
      if (v === undefined || v === null) return "";
      if (typeof v === "number" || typeof v === "string") return String(v);
      throw new VaekitError(`${source}: example ${i} column "${h}" must be a number or a string`);
    });
  });
  return { source, header, rows };
}
