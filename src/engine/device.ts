import { defaultDevice, initBackends } from "./jax.js";
import { VaekitError } from "../errors.js";

export type DeviceChoice = "auto" | "wasm" | "webgpu";
export type ActiveDevice = "wasm" | "webgpu";
export const DEVICE_CHOICES: readonly DeviceChoice[] = ["auto", "wasm", "webgpu"];

const isNode = typeof process !== "undefined" && !!process.versions?.node;
let active: ActiveDevice | null = null;

/**
 * In Node, WebGPU comes from the optional `webgpu` package (Dawn); it must be installed as
 * `navigator.gpu` before the engine probes for an adapter. Returns false when unavailable.
 */
async function provideNodeWebGpu(): Promise<boolean> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return true;
  try {
    const name = "webgpu"; // indirection keeps bundlers from pulling the Node addon into the browser build
    const mod = (await import(name)) as { create: (opts: string[]) => unknown; globals: object };
    Object.assign(globalThis, mod.globals);
    const gpu = mod.create([]);
    Object.defineProperty(globalThis, "navigator", {
      value: { gpu, userAgent: "Node.js", hardwareConcurrency: g.navigator ? undefined : 1 },
      configurable: true,
      writable: true,
    });
    return true;
  } catch {
    return false;
  }
}

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
}
type Adapter = { info?: AdapterInfo; isFallbackAdapter?: boolean };

/** The WebGPU adapter, or null. */
async function findAdapter(): Promise<Adapter | null> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<Adapter | null> } } }).navigator?.gpu;
  if (!gpu) return null;
  try {
    return (await gpu.requestAdapter()) ?? null;
  } catch {
    return null;
  }
}

/**
 * A CPU emulation of a GPU (SwiftShader, lavapipe/llvmpipe): fine for testing the WebGPU path,
 * slower than the wasm device for real work, so `auto` passes it over.
 */
function isSoftwareAdapter(a: Adapter): boolean {
  const text = `${a.info?.vendor ?? ""} ${a.info?.architecture ?? ""} ${a.info?.description ?? ""}`.toLowerCase();
  return a.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/.test(text);
}

let adapterName = "";
let passedOver = "";

/** A line saying which device the engine uses and why (after initEngine). */
export function deviceSummary(): string {
  if (active === "webgpu") return `webgpu (${adapterName})`;
  return passedOver ? `wasm (the WebGPU adapter, ${passedOver}, emulates a GPU on the CPU)` : "wasm";
}

/**
 * Start the engine on a device. `wasm` is the default; `webgpu` fails with a clear error when
 * no adapter exists; `auto` takes WebGPU when a hardware adapter exists, else wasm. Idempotent.
 */
export async function initEngine(choice: DeviceChoice = "wasm"): Promise<ActiveDevice> {
  if (!DEVICE_CHOICES.includes(choice)) {
    throw new VaekitError(`unknown device "${choice}" (choose ${DEVICE_CHOICES.join(", ")})`);
  }
  if (active && (choice === "auto" || choice === active)) return active;
  let want: ActiveDevice = "wasm";
  if (choice !== "wasm") {
    const adapter = !isNode || (await provideNodeWebGpu()) ? await findAdapter() : null;
    const name = adapter ? [adapter.info?.vendor, adapter.info?.architecture || adapter.info?.description].filter(Boolean).join(" ") || "unnamed adapter" : "";
    if (adapter && (choice === "webgpu" || !isSoftwareAdapter(adapter))) {
      want = "webgpu";
      adapterName = name;
    } else if (adapter) {
      passedOver = name;
    } else if (choice === "webgpu") {
      throw new VaekitError(
        isNode
          ? "WebGPU requested but no GPU adapter was found (needs the optional `webgpu` package and a Vulkan driver); use --device wasm"
          : "WebGPU requested but this browser exposes no GPU adapter; use the wasm device",
      );
    }
  }
  const started = await initBackends(want);
  if (!started.includes(want)) throw new VaekitError(`the engine could not start its ${want} device`);
  defaultDevice(want);
  active = want;
  return want;
}

/** The device the engine runs on (after initEngine). */
export function activeDevice(): ActiveDevice {
  if (!active) throw new Error("initEngine() has not been called");
  return active;
}
