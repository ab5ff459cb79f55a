/** Flag parsers for commander: a bad value becomes one line and exit code 2. */
import { InvalidArgumentError } from "commander";

export function intArg(min = -Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer${min > -Infinity ? ` ≥ ${min}` : ""}, got "${v}"`);
    return n;
  };
}

export function floatArg(min = -Infinity, exclusiveMin = false) {
  return (v: string): number => {
    const n = Number(v);
    const ok = Number.isFinite(n) && (exclusiveMin ? n > min : n >= min);
    if (!ok) throw new InvalidArgumentError(`expected a number ${exclusiveMin ? ">" : "≥"} ${min}, got "${v}"`);
    return n;
  };
}

export function choiceArg<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!choices.includes(v as T)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}, got "${v}"`);
    return v as T;
  };
}

/** A count (≥ 1) or a fraction in (0, 1). */
export function sizeArg(v: string): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0 && (n < 1 || Number.isInteger(n)))) {
    throw new InvalidArgumentError(`expected a count ≥ 1 or a fraction in (0, 1), got "${v}"`);
  }
  return n;
}

/** The engines a training or evaluation step can run on (see TrainConfig.engine). */
export const ENGINE_CHOICES = ["jax", "onnx"] as const;
export const ENGINE_HELP = "jax (the engine on --device) | onnx (ONNX Runtime's CPU kernels; needs onnxruntime-node)";
