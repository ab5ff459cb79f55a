/**
 * Model files: weights as safetensors in PyTorch layout (Linear weight [out, in], Conv2d
 * [out, in, k, k], ConvTranspose2d [in, out, k, k], flattened feature maps in NCHW order) with
 * the model config in the file's metadata, so one file is the whole model and PyTorch's load_state_dict
 * accepts the tensors. A model directory holds model.safetensors and a readable config.json.
 */
import { np, tree, toHost, type Array, decodeSafetensors, encodeSafetensors, type HostTensor } from "../engine/index.js";
import { VaekitError } from "../errors.js";
import { parseVaeConfig, type VaeConfig } from "./config.js";
import { buildVae, type VaeParams } from "./vae.js";
import type { DenseParams } from "./layers.js";
import { isTransposedConvName } from "./networks.js";

export interface ModelBundle {
  config: VaeConfig;
  params: VaeParams;
  /** Extra JSON the applications keep with a model (attribute vectors, thresholds, ...). */
  extras: Record<string, unknown>;
}

function isLayer(v: unknown): v is DenseParams {
  return typeof v === "object" && v !== null && "w" in v && "b" in v;
}

/** Host-side axis permutation of a row-major tensor: out axis i = in axis perm[i]. */
export function permuteHost(t: HostTensor, perm: number[]): HostTensor {
  const { shape, data } = t;
  const n = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = shape.map(() => 1);
  for (let i = n - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * shape[i + 1];
  const stride = perm.map((p) => inStrides[p]); // input stride of each output axis
  const out = new Float32Array(data.length);
  const idx = shape.map(() => 0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    for (let a = n - 1; a >= 0; a--) {
      idx[a]++;
      src += stride[a];
      if (idx[a] < outShape[a]) break;
      src -= stride[a] * outShape[a];
      idx[a] = 0;
    }
  }
  return { shape: outShape, data: out };
}

/**
 * File layout ↔ memory layout of a layer weight (PyTorch's in files):
 * dense [in, out] ↔ Linear [out, in]; conv [k, k, Cin, Cout] ↔ Conv2d [Cout, Cin, k, k];
 * transposed conv [Cin, k, k, Cout] ↔ ConvTranspose2d [Cin, Cout, k, k].
 */
function weightPerms(name: string, ndim: number): { toFile: number[]; fromFile: number[] } {
  if (ndim === 2) return { toFile: [1, 0], fromFile: [1, 0] };
  if (ndim === 4 && isTransposedConvName(name)) return { toFile: [0, 3, 1, 2], fromFile: [0, 2, 3, 1] };
  if (ndim === 4) return { toFile: [3, 2, 0, 1], fromFile: [2, 3, 1, 0] };
  throw new Error(`layer ${name}: unsupported weight rank ${ndim}`);
}

/**
 * Dense layers next to a conv feature map see it flattened. In memory that is NHWC order
 * (h, w, c); PyTorch flattens NCHW (c, h, w). Files use PyTorch's order, so these layers'
 * weights are reordered along the flattened axis: the encoder's first dense layer(s) after
 * the last conv read the map, the decoder's dec_fc writes it. HW and c come from the weights.
 */
interface MapLayers {
  /** layer name → [HW, c] of the map it reads (file weight axis 1) */
  reads: Map<string, [number, number]>;
  /** layer name → [HW, c] of the map it writes (file weight axis 0, bias) */
  writes: Map<string, [number, number]>;
}

function mapLayers(params: VaeParams): MapLayers {
  const reads = new Map<string, [number, number]>();
  const writes = new Map<string, [number, number]>();
  const layer = (name: string) => (isLayer(params[name]) ? (params[name] as DenseParams) : undefined);
  let n = 0;
  while (layer(`enc_conv${n + 1}`)) n++;
  if (n > 0) {
    const c = layer(`enc_conv${n}`)!.w.shape[3];
    // every dense layer that reads the encoder's output (the flattened map, when no enc_fc follows)
    const readers = layer("enc_fc1") ? ["enc_fc1"] : ["enc_mu", "enc_logvar", "enc_ctx", "enc_up2_fc1"].filter((name) => layer(name));
    for (const name of readers) {
      const F = layer(name)!.w.shape[0];
      reads.set(name, [F / c, c]);
    }
  }
  const deconv = layer("dec_deconv1");
  const proj = layer("dec_fc");
  if (deconv && proj) {
    const c = deconv.w.shape[0];
    writes.set("dec_fc", [proj.w.shape[1] / c, c]);
  }
  return { reads, writes };
}

/** Reorder axis 0 (2-D or 1-D) or axis 1 (2-D) of a file tensor between (HW, c) and (c, HW). */
function reorderFlat(t: HostTensor, axis: 0 | 1, [HW, c]: [number, number], toChw: boolean): HostTensor {
  const [a, b] = toChw ? [HW, c] : [c, HW];
  if (t.shape.length === 1) return { shape: t.shape, data: permuteHost({ shape: [a, b], data: t.data }, [1, 0]).data };
  const [R, K] = t.shape;
  if (axis === 1) return { shape: t.shape, data: permuteHost({ shape: [R, a, b], data: t.data }, [0, 2, 1]).data };
  return { shape: t.shape, data: permuteHost({ shape: [a, b, K], data: t.data }, [1, 0, 2]).data };
}

async function hostOf(a: Array): Promise<HostTensor> {
  return { shape: a.shape.slice(), data: await toHost(a.ref) };
}

/** Parameter tree → PyTorch-style state dict (borrows params). */
export async function toStateDict(params: VaeParams): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  const { reads, writes } = mapLayers(params);
  for (const [name, v] of Object.entries(params)) {
    if (isLayer(v)) {
      let weight = permuteHost(await hostOf(v.w), weightPerms(name, v.w.ndim).toFile);
      let bias = await hostOf(v.b);
      if (reads.has(name)) weight = reorderFlat(weight, 1, reads.get(name)!, true);
      if (writes.has(name)) {
        weight = reorderFlat(weight, 0, writes.get(name)!, true);
        bias = reorderFlat(bias, 0, writes.get(name)!, true);
      }
      out[`${name}.weight`] = weight;
      out[`${name}.bias`] = bias;
    } else {
      out[name] = await hostOf(v as Array);
    }
  }
  return out;
}

/** State dict → parameter tree, checked name by name and shape by shape against the config. */
export function fromStateDict(config: VaeConfig, dict: Record<string, HostTensor>, source = "model file"): VaeParams {
  const template = buildVae(config).init(np.array([0, 0], { dtype: np.uint32 }));
  const expected = toShapes(template);
  const { reads, writes } = mapLayers(template);
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
      let file = dict[name];
      let bias = dict[`${base}.bias`];
      if (reads.has(base)) file = reorderFlat(file, 1, reads.get(base)!, false);
      if (writes.has(base)) {
        file = reorderFlat(file, 0, writes.get(base)!, false);
        bias = reorderFlat(bias, 0, writes.get(base)!, false);
      }
      const w = permuteHost(file, weightPerms(base, file.shape.length).fromFile);
      params[base] = { w: np.array(w.data).reshape(w.shape), b: np.array(bias.data) };
    } else if (!name.endsWith(".bias")) {
      params[name] = np.array(dict[name].data).reshape(dict[name].shape);
    }
  }
  return params;
}

function toShapes(params: VaeParams): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, v] of Object.entries(params)) {
    if (isLayer(v)) {
      const perm = weightPerms(name, v.w.ndim).toFile;
      out[`${name}.weight`] = perm.map((p) => v.w.shape[p]);
      out[`${name}.bias`] = v.b.shape.slice();
    } else out[name] = (v as Array).shape.slice();
  }
  return out;
}

/** Serialise a model to safetensors bytes (browser-safe). */
export async function encodeModel(bundle: ModelBundle): Promise<Uint8Array> {
  return encodeSafetensors(await toStateDict(bundle.params), {
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
