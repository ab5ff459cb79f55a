/**
 * The engine seam: the only file in vaekit that imports the array/autodiff library.
 * Everything else imports from "src/engine", so a faster engine can be swapped in here.
 */
export {
  numpy as np,
  nn,
  random,
  lax,
  tree,
  jit,
  grad,
  valueAndGrad,
  vmap,
  blockUntilReady,
  defaultDevice,
  init as initBackends,
} from "@jax-js/jax";
export type { Array, JsTree, Device } from "@jax-js/jax";

import { jit as jaxJit } from "@jax-js/jax";
/** `jit` with the function's own TypeScript signature (parameter trees are plain objects). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function jitted<F extends (...args: any[]) => any>(f: F): F {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return jaxJit(f as any) as unknown as F;
}

import { numpy as jnp, type Array as JArray } from "@jax-js/jax";
/** A PRNG key made from two host-drawn 32-bit words (no device work to derive per-step keys). */
export function keyFromWords(a: number, b: number): JArray {
  return jnp.array(new Uint32Array([a >>> 0, b >>> 0]), { dtype: jnp.uint32 });
}

/**
 * Copy an array's values to the host (consumes it). Asynchronous because WebGPU in Node has no
 * synchronous readback (dataSync needs a browser's OffscreenCanvas). On wasm the synchronous read
 * is kept: the engine's async path compiles kernels that are waiting in the same batch once each,
 * not once in all (first calls of a jitted function several times slower).
 */
export async function toHost(a: JArray): Promise<Float32Array> {
  return (a.device === "wasm" ? a.dataSync() : await a.data()) as Float32Array;
}

/** `toHost` for a flat list of arrays, read in one go (each consumed). */
export async function toHostAll(arrays: JArray[]): Promise<Float32Array[]> {
  return Promise.all(arrays.map(toHost));
}

/**
 * A one-line explanation, with the way out, of an engine failure a user can cause (null for
 * others, which are bugs). The wasm device addresses 4 GiB: one array beyond that fails to allocate.
 */
export function engineLimitMessage(e: unknown): string | null {
  const message = e instanceof Error ? e.message : String(e);
  if (/memory32 limit|Allocation exceeds/i.test(message)) {
    return "the wasm device ran out of memory (an array would exceed its 4 GiB address space): use a smaller --batch-size or (train) --micro-batch, or --engine onnx where the command has it";
  }
  return null;
}
