/**
 * IDX files (the MNIST container format), browser-safe part: parse and build byte buffers.
 * Layout: two zero bytes, a dtype byte, a rank byte, `rank` big-endian uint32 dimensions,
 * then the values in row-major order. Only unsigned bytes (dtype 0x08) are supported,
 * which is what MNIST and Fashion-MNIST use. Reading files from disk lives in load.ts (Node only).
 */
import { VaekitError } from "../errors.js";

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const DTYPE_UBYTE = 0x08;
const DTYPE_NAMES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
};

/** True when the bytes start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parse an uncompressed IDX buffer. `source` names the file (or upload) in error messages.
 * The returned data is a view into `bytes` (no copy).
 */
export function parseIdx(bytes: Uint8Array, source = "IDX data"): IdxArray {
  if (isGzip(bytes)) {
    throw new VaekitError(`${source}: is gzip-compressed; decompress it first (use readIdxBytes or readIdxFile)`);
  }
  if (bytes.length < 4) {
    throw new VaekitError(`${source}: truncated IDX file: ${bytes.length} bytes, too short for the 4-byte header`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
    throw new VaekitError(`${source}: not an IDX file (magic number 0x${magic} does not start with two zero bytes)`);
  }
  const dtype = bytes[2];
  const rank = bytes[3];
  if (dtype !== DTYPE_UBYTE) {
    const known = DTYPE_NAMES[dtype];
    const what = known ? `${known} (0x${hex(dtype)})` : `unknown dtype 0x${hex(dtype)}`;
    throw new VaekitError(`${source}: IDX values are ${what}; only unsigned bytes (0x08) are supported`);
  }
  if (rank === 0) throw new VaekitError(`${source}: IDX header has rank 0 (no dimensions)`);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new VaekitError(
      `${source}: truncated IDX file: header declares ${rank} dimensions but the file ends after ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const present = bytes.length - headerLength;
  if (present < count) {
    throw new VaekitError(
      `${source}: truncated IDX file: dimensions ${dims.join("×")} need ${count} data bytes but only ${present} are present`,
    );
  }
  if (present > count) {
    throw new VaekitError(
      `${source}: corrupt IDX file: dimensions ${dims.join("×")} need ${count} data bytes but ${present} are present`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Build an uncompressed unsigned-byte IDX buffer (for tests, exports and the browser app). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (dims.length === 0 || dims.length > 255) throw new VaekitError(`encodeIdx: rank must be 1..255, got ${dims.length}`);
  if (count !== data.length) {
    throw new VaekitError(`encodeIdx: dimensions ${dims.join("×")} need ${count} values, got ${data.length}`);
  }
  const headerLength = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLength + count);
  const view = new DataView(out.buffer);
  out[2] = DTYPE_UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerLength);
  return out;
}

/**
 * Parse IDX bytes that may be gzip-compressed, using the web-standard DecompressionStream
 * (available in browsers and Node >= 18), so uploads of `*.gz` files work in the browser app.
 */
export async function readIdxBytes(bytes: Uint8Array, source = "IDX data"): Promise<IdxArray> {
  if (!isGzip(bytes)) return parseIdx(bytes, source);
  let raw: Uint8Array;
  try {
    // Copy into a plain ArrayBuffer-backed array: Blob does not accept views of shared buffers.
    const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream("gzip"));
    raw = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new VaekitError(`${source}: corrupt gzip data (${(e as Error).message})`);
  }
  return parseIdx(raw, source);
}

function hex(b: number): string {
  return b.toString(16).padStart(2, "0");
}
