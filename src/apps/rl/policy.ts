/**
 * Tiny controllers on a feature vector, defined by a flat parameter vector so evolution strategies can
 * search over them (pure TypeScript, browser-safe).
 *
 * Parameter layout (row-major):
 *   linear: W [outputSize × inputSize], b [outputSize]
 *   mlp:    W1 [hiddenSize × inputSize], b1 [hiddenSize], W2 [outputSize × hiddenSize], b2 [outputSize]
 * Hidden units use tanh. Outputs map to actions by `output`:
 *   "tanh":   continuous action in [-1, 1]^outputSize;
 *   "argmax": discrete action index, returned as a one-element array.
 */
import { VaekitError } from "../../errors.js";
import { actionSize, type ActionSpace } from "./env.js";

export interface PolicySpec {
  kind: "linear" | "mlp";
  inputSize: number;
  outputSize: number;
  /** Hidden units (mlp only). */
  hiddenSize?: number;
  output: "tanh" | "argmax";
}

export interface Policy {
  readonly spec: PolicySpec;
  readonly params: Float64Array;
  act(features: Float32Array): Float32Array;
}

/** Number of parameters a policy of this spec has. */
export function paramCount(spec: PolicySpec): number {
  validateSpec(spec);
  const { inputSize: i, outputSize: o } = spec;
  if (spec.kind === "linear") return o * i + o;
  const h = spec.hiddenSize!;
  return h * i + h + o * h + o;
}

/** A policy spec whose outputs fit the env's action space. */
export function policySpecFor(
  space: ActionSpace,
  inputSize: number,
  kind: "linear" | "mlp" = "linear",
  hiddenSize = 16,
): PolicySpec {
  const outputSize = space.kind === "continuous" ? actionSize(space) : space.n;
  const output = space.kind === "continuous" ? "tanh" : "argmax";
  return kind === "linear" ? { kind, inputSize, outputSize, output } : { kind, inputSize, outputSize, hiddenSize, output };
}

function validateSpec(spec: PolicySpec): void {
  const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (spec.kind !== "linear" && spec.kind !== "mlp") throw new VaekitError(`policy: unknown kind "${spec.kind}"`);
  if (!positiveInt(spec.inputSize) || !positiveInt(spec.outputSize)) {
    throw new VaekitError(`policy: inputSize and outputSize must be positive integers, got ${spec.inputSize}, ${spec.outputSize}`);
  }
  if (spec.kind === "mlp" && !positiveInt(spec.hiddenSize)) {
    throw new VaekitError(`policy: mlp needs a positive integer hiddenSize, got ${spec.hiddenSize}`);
  }
  if (spec.output !== "tanh" && spec.output !== "argmax") throw new VaekitError(`policy: unknown output "${spec.output}"`);
}

/** y = W x + b for W stored row-major at params[offset...], b right after W. */
function affine(params: Float64Array, offset: number, x: ArrayLike<number>, rows: number, cols: number, y: Float64Array): number {
  const bias = offset + rows * cols;
  for (let r = 0; r < rows; r++) {
    let s = params[bias + r];
    const row = offset + r * cols;
    for (let c = 0; c < cols; c++) s += params[row + c] * x[c];
    y[r] = s;
  }
  return bias + rows;
}

/** Build a policy from its spec and parameter vector (copied). */
export function createPolicy(spec: PolicySpec, params: ArrayLike<number>): Policy {
  const count = paramCount(spec);
  if (params.length !== count) throw new VaekitError(`policy: got ${params.length} parameters, a ${spec.kind} policy of this shape has ${count}`);
  const theta = Float64Array.from(params);
  for (let i = 0; i < theta.length; i++) {
    if (!Number.isFinite(theta[i])) throw new VaekitError(`policy: parameter ${i} is ${theta[i]}`);
  }
  const hidden = new Float64Array(spec.hiddenSize ?? 0);
  const out = new Float64Array(spec.outputSize);
  const act = (features: Float32Array): Float32Array => {
    if (features.length !== spec.inputSize) {
      throw new VaekitError(`policy: got ${features.length} features, expected ${spec.inputSize}`);
    }
    if (spec.kind === "linear") {
      affine(theta, 0, features, spec.outputSize, spec.inputSize, out);
    } else {
      const next = affine(theta, 0, features, hidden.length, spec.inputSize, hidden);
      for (let k = 0; k < hidden.length; k++) hidden[k] = Math.tanh(hidden[k]);
      affine(theta, next, hidden, spec.outputSize, hidden.length, out);
    }
    if (spec.output === "argmax") {
      let best = 0;
      for (let k = 1; k < out.length; k++) if (out[k] > out[best]) best = k;
      return Float32Array.of(best);
    }
    return Float32Array.from(out, Math.tanh);
  };
  return { spec, params: theta, act };
}
