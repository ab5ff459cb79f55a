/**
 * The models the anomaly app scores with (browser-safe): an image VAE model file (src/models/io)
 * or a tabular VAE file. Both are safetensors with JSON metadata; the tabular one has format
 * "vaekit.tabular-vae/1" and keeps its schema (columns, standardisation, categories) in its config.
 */
import { decodeSafetensors, encodeSafetensors, np, toHostAll, type Array, type HostTensor } from "../../engine/index.js";
import { VaekitError } from "../../errors.js";
import { decodeModel, encodeModel, type ModelBundle } from "../../models/io.js";
import type { DenseParams } from "../../models/layers.js";
import { buildTabularVae, parseTabularConfig, TABULAR_FORMAT, type TabularParams, type TabularVaeConfig } from "./tabular/model.js";

export interface TabularBundle {
  config: TabularVaeConfig;
  params: TabularParams;
  extras: Record<string, unknown>;
}

export type AnomalyModel = { type: "image"; bundle: ModelBundle } | { type: "tabular"; bundle: TabularBundle };

export const extrasOf = (m: AnomalyModel) => m.bundle.extras;

const isDense = (v: unknown): v is DenseParams => typeof v === "object" && v !== null && "w" in v && "b" in v;

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Tabular model → safetensors bytes; dense weights in PyTorch layout (`name.weight` [out, in]). */
export async function encodeTabularModel(b: TabularBundle): Promise<Uint8Array> {
  // Collect every tensor first and read them in one go (device reads are asynchronous).
  const entries: { name: string; shape: number[]; array: Array; transposeOf?: [number, number] }[] = [];
  for (const [name, v] of Object.entries(b.params)) {
    if (isDense(v)) {
      const [i, o] = v.w.shape;
      entries.push({ name: `${name}.weight`, shape: [o, i], array: v.w.ref, transposeOf: [i, o] });
      entries.push({ name: `${name}.bias`, shape: [o], array: v.b.ref });
    } else {
      const a = v as Array;
      entries.push({ name, shape: a.shape.slice(), array: a.ref });
    }
  }
  const values = await toHostAll(entries.map((e) => e.array));
  const tensors: Record<string, HostTensor> = {};
  entries.forEach((e, k) => {
    tensors[e.name] = { shape: e.shape, data: e.transposeOf ? transpose(values[k], ...e.transposeOf) : values[k] };
  });
  return encodeSafetensors(tensors, { format: TABULAR_FORMAT, config: JSON.stringify(b.config), extras: JSON.stringify(b.extras ?? {}) });
}

function decodeTabular(tensors: Record<string, HostTensor>, metadata: Record<string, string>, source: string): TabularBundle {
  let configJson: unknown;
  let extras: Record<string, unknown> = {};
  try {
    configJson = JSON.parse(metadata.config ?? "null");
    if (metadata.extras) extras = JSON.parse(metadata.extras);
  } catch {
    throw new VaekitError(`${source}: the tabular model's metadata is not valid JSON`);
  }
  const config = parseTabularConfig(configJson, source);
  const template = buildTabularVae(config).init(np.array([0, 0], { dtype: np.uint32 }));
  const params: TabularParams = {};
  const need = (name: string, shape: number[]) => {
    const t = tensors[name];
    if (!t) throw new VaekitError(`${source}: missing tensor "${name}"`);
    if (t.shape.join(",") !== shape.join(",")) throw new VaekitError(`${source}: tensor "${name}" has shape [${t.shape}], expected [${shape}]`);
    for (const v of t.data) if (!Number.isFinite(v)) throw new VaekitError(`${source}: tensor "${name}" contains NaN or Inf`);
    return t;
  };
  for (const [name, v] of Object.entries(template)) {
    if (isDense(v)) {
      const [i, o] = v.w.shape;
      const w = need(`${name}.weight`, [o, i]);
      const b = need(`${name}.bias`, [o]);
      params[name] = { w: np.array(transpose(w.data, o, i)).reshape([i, o]), b: np.array(b.data) };
      v.w.dispose();
      v.b.dispose();
    } else {
      const a = v as Array;
      params[name] = np.array(need(name, a.shape).data).reshape(a.shape);
      a.dispose();
    }
  }
  return { config, params, extras };
}

/** Parse either kind of model file; errors name `source`. */
export function decodeAnomalyModel(bytes: Uint8Array, source = "model file"): AnomalyModel {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format === TABULAR_FORMAT) return { type: "tabular", bundle: decodeTabular(tensors, metadata, source) };
  return { type: "image", bundle: decodeModel(bytes, source) };
}

export function encodeAnomalyModel(m: AnomalyModel): Promise<Uint8Array> {
  return m.type === "image" ? encodeModel(m.bundle) : encodeTabularModel(m.bundle);
}
