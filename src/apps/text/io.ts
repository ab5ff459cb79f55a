/**
 * Text model files (browser-safe): one safetensors file holding the weights (named by their path
 * in the parameter tree, e.g. "decoder.ur", "output.w"; matrices stored [in, out]) with the
 * model config, the tokenizer and application extras (length report, metrics) in its metadata.
 */
import { np, decodeSafetensors, encodeSafetensors, random, toHostAll, tree, type Array, type HostTensor } from "../../engine/index.js";
import { VaekitError } from "../../errors.js";
import { initTextVae, parseTextVaeConfig, type TextVaeConfig, type TextVaeParams } from "./model.js";
import { Tokenizer } from "./tokenizer.js";

export const TEXT_MODEL_FORMAT = "vaekit.text-model/1";

export interface TextModelBundle {
  config: TextVaeConfig;
  params: TextVaeParams;
  tokenizer: Tokenizer;
  /** JSON kept with the model: corpus length report, training config, final metrics... */
  extras: Record<string, unknown>;
}

function isArray(v: unknown): v is Array {
  return typeof v === "object" && v !== null && "shape" in v && "dataSync" in v;
}

/** Leaves of a parameter tree by dotted path (borrows the tree). */
export function flattenParams(params: TextVaeParams): Map<string, Array> {
  const out = new Map<string, Array>();
  const walk = (v: unknown, path: string) => {
    if (isArray(v)) out.set(path, v);
    else if (v && typeof v === "object") for (const [k, c] of Object.entries(v)) walk(c, path ? `${path}.${k}` : k);
  };
  walk(params, "");
  return out;
}

export async function encodeTextModel(bundle: TextModelBundle): Promise<Uint8Array> {
  const leaves = [...flattenParams(bundle.params)];
  const values = await toHostAll(leaves.map(([, a]) => a.ref));
  const tensors: Record<string, HostTensor> = {};
  leaves.forEach(([name, a], i) => (tensors[name] = { shape: a.shape.slice(), data: values[i] }));
  return encodeSafetensors(tensors, {
    format: TEXT_MODEL_FORMAT,
    config: JSON.stringify(bundle.config),
    tokenizer: JSON.stringify(bundle.tokenizer.toJSON()),
    extras: JSON.stringify(bundle.extras ?? {}),
  });
}

function parseJson(text: string | undefined, what: string, source: string): unknown {
  if (text === undefined) throw new VaekitError(`${source}: no ${what} inside`);
  try {
    return JSON.parse(text);
  } catch {
    throw new VaekitError(`${source}: the ${what} inside is not valid JSON`);
  }
}

/** Parse a text model; every problem is one VaekitError naming `source`. */
export function decodeTextModel(bytes: Uint8Array, source = "text model"): TextModelBundle {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== TEXT_MODEL_FORMAT) {
    throw new VaekitError(`${source}: not a vaekit text model (format "${metadata.format ?? "none"}"; expected ${TEXT_MODEL_FORMAT})`);
  }
  const config = parseTextVaeConfig(parseJson(metadata.config, "model config", source), source);
  const tokenizer = Tokenizer.fromJSON(parseJson(metadata.tokenizer, "tokenizer", source), `${source}: tokenizer`);
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new VaekitError(`${source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model expects ${config.vocabSize}`);
  }
  const extras = (metadata.extras ? parseJson(metadata.extras, "extras", source) : {}) as Record<string, unknown>;
  // The template's shapes say which tensors must be present.
  const template = initTextVae(config, random.key(0));
  const expected = new Map([...flattenParams(template)].map(([k, a]) => [k, a.shape.slice()]));
  tree.dispose(template as never);
  for (const [name, shape] of expected) {
    const t = tensors[name];
    if (!t) throw new VaekitError(`${source}: missing tensor "${name}"`);
    if (t.shape.join(",") !== shape.join(",")) throw new VaekitError(`${source}: tensor "${name}" has shape [${t.shape}] but the config needs [${shape}]`);
    for (const x of t.data) if (!Number.isFinite(x)) throw new VaekitError(`${source}: tensor "${name}" contains NaN or Inf`);
  }
  const unexpected = Object.keys(tensors).find((k) => !expected.has(k));
  if (unexpected) throw new VaekitError(`${source}: unexpected tensor "${unexpected}" for this config`);
  const params: Record<string, unknown> = {};
  for (const name of expected.keys()) {
    const parts = name.split(".");
    let node = params;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = np.array(tensors[name].data).reshape(tensors[name].shape);
  }
  return { config, params: params as TextVaeParams, tokenizer, extras };
}
