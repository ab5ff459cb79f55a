import { VaekitError } from "../errors.js";

/** A named host tensor, float32, row-major. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * safetensors encoding (the format PyTorch/HF use): 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes.
 */
export function encodeSafetensors(tensors: Record<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const { shape, data } = tensors[name];
    if (shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`tensor ${name}: shape ${shape} does not match ${data.length} values`);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

/** Decode safetensors bytes; `source` names the file in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source = "model file"): DecodedSafetensors {
  const bad = (why: string) => new VaekitError(`${source} is not a valid safetensors file: ${why}`);
  if (bytes.length < 8) throw bad("too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) throw bad("header length out of range (truncated or corrupt)");
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw bad("header is not JSON");
  }
  const base = 8 + n;
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (entry as unknown as Record<string, string>) ?? {};
      continue;
    }
    const { dtype, shape, data_offsets } = entry;
    if (!Array.isArray(shape) || !Array.isArray(data_offsets)) throw bad(`entry ${name} is malformed`);
    const [s, e] = data_offsets;
    const count = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (dtype === "F32") {
      if (e - s !== count * 4) throw bad(`tensor ${name} has ${e - s} bytes for shape [${shape}]`);
      if (base + e > bytes.length) throw bad(`tensor ${name} runs past the end of the file (truncated)`);
      data = new Float32Array(bytes.slice(base + s, base + e).buffer);
    } else if (dtype === "F64") {
      if (e - s !== count * 8 || base + e > bytes.length) throw bad(`tensor ${name} is truncated or mis-sized`);
      data = Float32Array.from(new Float64Array(bytes.slice(base + s, base + e).buffer));
    } else {
      throw bad(`tensor ${name} has unsupported dtype ${dtype}`);
    }
    tensors[name] = { shape, data };
  }
  return { tensors, metadata };
}
