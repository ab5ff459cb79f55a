/**
 * How convolutions are written into a traced program. "patches": shifted matmuls (conv.ts), the
 * fast path on the engine's own devices, whose native convolution is ~700× slower on wasm.
 * "native": the engine's conv primitive, which the ONNX exporter turns into Conv / ConvTranspose
 * nodes (ONNX Runtime's own convolution kernels, without the patch copies). The exporter switches
 * to "native" while it traces.
 */
export type ConvLowering = "patches" | "native";

let current: ConvLowering = "patches";

export function convLowering(): ConvLowering {
  return current;
}

/** Run `f` with convolutions lowered as `mode` (restored afterwards, also on error). */
export function withConvLowering<T>(mode: ConvLowering, f: () => T): T {
  const before = current;
  current = mode;
  try {
    return f();
  } finally {
    current = before;
  }
}
