/**
 * Running compiled ONNX programs (onnx.ts) with ONNX Runtime in Node (`onnxruntime-node`, an
 * optional dependency: its CPU library ships inside the package). The runtime is loaded lazily,
 * so code that never asks for it works without it.
 */
import type { OnnxDtype, OnnxProgram } from "./onnx.js";
import { VaekitError } from "../errors.js";

export type HostData = Float32Array | Int32Array | Uint32Array | Uint8Array;

interface OrtTensor {
  data: HostData;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  Tensor: new (type: string, data: HostData, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(bytes: Uint8Array, opts: object): Promise<OrtSession> };
}

let ortPromise: Promise<OrtModule | null> | null = null;

/** The ONNX Runtime module, or null (with the reason in `onnxRuntimeUnavailable`) when missing. */
export async function loadOnnxRuntime(): Promise<OrtModule | null> {
  ortPromise ??= (async () => {
    try {
      const name = "onnxruntime-node"; // indirection: bundlers must not pull the native addon into browser builds
      const mod = (await import(name)) as OrtModule & { default?: OrtModule };
      return mod.InferenceSession ? mod : (mod.default ?? null);
    } catch (e) {
      unavailableReason = e instanceof Error ? e.message.split("\n")[0] : String(e);
      return null;
    }
  })();
  return ortPromise;
}
let unavailableReason = "";
export function onnxRuntimeUnavailable(): string {
  return unavailableReason || "onnxruntime-node is not installed";
}

const TYPE_NAMES: Record<OnnxDtype, string> = { float32: "float32", int32: "int32", uint32: "uint32", bool: "bool" };

export interface OnnxSession {
  readonly program: OnnxProgram;
  /** Run with inputs in `program.inputs` order; returns outputs in `program.outputs` order. */
  run(inputs: HostData[]): Promise<HostData[]>;
  release(): Promise<void>;
}

/**
 * A session for a program. `threads` = intra-op threads (1 = one core, as the PyTorch baseline);
 * `profilePrefix` makes the runtime write a JSON profile of every node, complete after release().
 */
export async function createOnnxSession(program: OnnxProgram, opts: { threads?: number; profilePrefix?: string } = {}): Promise<OnnxSession> {
  const ort = await loadOnnxRuntime();
  if (!ort) throw new VaekitError(`the onnx engine needs onnxruntime-node (${onnxRuntimeUnavailable()}); install it or use the wasm engine`);
  const session = await ort.InferenceSession.create(program.bytes, {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3, // errors only: no warnings about initializers the optimiser folded away
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
    // pool threads sleep instead of spinning between kernels: on a shared or small machine,
    // spinning threads steal the cores the other threads need
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  });
  return {
    program,
    async run(inputs) {
      if (inputs.length !== program.inputs.length) throw new Error(`onnx session: ${inputs.length} inputs given, the program takes ${program.inputs.length}`);
      const feeds: Record<string, OrtTensor> = {};
      program.inputs.forEach((info, i) => {
        feeds[info.name] = new ort.Tensor(TYPE_NAMES[info.dtype], inputs[i], info.shape);
      });
      const result = await session.run(feeds);
      return program.outputs.map((o) => result[o.name].data);
    },
    release: () => session.release(),
  };
}
