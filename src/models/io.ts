/**
 * Model files: weights as safetensors in PyTorch layout (Linear weight [out, in]) with the model
 * config in the file's metadata, so one file is the whole model and PyTorch's load_state_dict
 * accepts the tensors. A model directory holds model.safetensors and a readable config.json.
 */
import { np, tree, type Array, decodeSafetensors, encodeSafetensors, type HostTensor } from "../engine/index.js";
import { VaekitError } from "../errors.js";
import { parseVaeConfig, type VaeConfig } from "./config.js";
import { buildVae, type VaeParams } from "./vae.js";
import type { DenseParams } from "./layers.js";

export interface ModelBundle {
  config: VaeConfig;
  params: VaeParams;
  /** Extra JSON the applications keep with a model (attribute vectors, thresholds, ...). */
  extras: Record<string, unknown>;
}

function isDense(v: unknown): v is DenseParams {
  return typeof v === "object" && v !== null && "w" in v && "b" in v;
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function hostOf(a: Array): HostTensor {
  return { shape: a.shape.slice(), data: a.ref.dataSync() as Float32Array };
}

/** Parameter tree → PyTorch-style state dict (borrows params). */
export function toStateDict(params: VaeParams): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, v] of Object.entries(params)) {
    if (isDense(v)) {
      const [i, o] = v.w.shape;
      out[`${name}.weight`] = { shape: [o, i], data: transpose2d(hostOf(v.w).data, i, o) };
      out[`${name}.bias`] = hostOf(v.b);
    } else {
      out[name] = hostOf(v as Array);
    }
  }
  return out;
}

/** State dict → parameter tree, checked name by name and shape by shape against the config. */
export function fromStateDict(config: VaeConfig, dict: Record<string, HostTensor>, source = "model file"): VaeParams {
  const template = buildVae(config).init(np.array([0, 0], { dtype: np.uint32 }));
  const expected = toShapes(template);
  tree.dispose(template as never);
  const params: VaeParams = {};
  const seen = new Set<string>();
  for (const [name, shape] of Object.entries(expected)) {
    const t = dict[name];
    if (!t) throw new VaekitError(`${source}: missing tensor "${name}"`);
    if (t.shape.join(",") !== shape.join(",")) {
      throw new VaekitError(`${source}: tensor "${name}" has shape [${t.shape}] but the config needs [${shape}]`);
    }
    for (const x of t.data) if (!Number.isFinite(x)) throw new VaekitError(`${source}: tensor "${name}" contains NaN or Inf`);
    seen.add(name);
  }
  const extra = Object.keys(dict).filter((k) => !seen.has(k));
  if (extra.length) throw new VaekitError(`${source}: unexpected tensor "${extra[0]}" for this config`);
  for (const name of Object.keys(expected)) {
    const base = name.replace(/\.(weight|bias)$/, "");
    if (name.endsWith(".weight")) {
      const [o, i] = dict[name].shape;
      params[base] = {
        w: np.array(transpose2d(dict[name].data, o, i)).reshape([i, o]),
        b: np.array(dict[`${base}.bias`].data),
      };
    } else if (!name.endsWith(".bias")) {
      params[name] = np.array(dict[name].data).reshape(dict[name].shape);
    }
  }
  return params;
}

function toShapes(params: VaeParams): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, v] of Object.entries(params)) {
    if (isDense(v)) {
      out[`${name}.weight`] = [v.w.shape[1], v.w.shape[0]];
      out[`${name}.bias`] = v.b.shape.slice();
    } else out[name] = (v as Array).shape.slice();
  }
  return out;
}

/** Serialise a model to safetensors bytes (browser-safe). */
export function encodeModel(bundle: ModelBundle): Uint8Array {
  return encodeSafetensors(toStateDict(bundle.params), {
    format: "vaekit.model/1",
    config: JSON.stringify(bundle.config),
    extras: JSON.stringify(bundle.extras ?? {}),
  });
}

/** Parse safetensors bytes into a model; errors name `source`. */
export function decodeModel(bytes: Uint8Array, source = "model file", configOverride?: unknown): ModelBundle {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  let configJson: unknown = configOverride;
  let extras: Record<string, unknown> = {};
  try {
    if (configJson === undefined) {
      if (!metadata.config) throw new VaekitError(`${source}: no vaekit config inside (give --config for a PyTorch state dict)`);
      configJson = JSON.parse(metadata.config);
    }
    if (metadata.extras) extras = JSON.parse(metadata.extras);
  } catch (e) {
    if (e instanceof VaekitError) throw e;
    throw new VaekitError(`${source}: the config inside is not valid JSON`);
  }
  const config = parseVaeConfig(configJson, source);
  return { config, params: fromStateDict(config, tensors, source), extras };
}
