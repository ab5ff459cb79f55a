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
