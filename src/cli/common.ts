/** Pieces shared by the CLI commands. */
import { Option, type Command } from "commander";
import { DEVICE_CHOICES, deviceSummary, initEngine, type DeviceChoice } from "../engine/index.js";
import { choiceArg } from "./options.js";
import { binarize, type Dataset } from "../data/datasets.js";
import { loadDataset, DATASET_SPEC_HELP, type Split } from "../data/load.js";
import type { ModelBundle } from "../models/io.js";
import { imageGrid } from "../io/png.js";
import { writePng } from "../io/files.js";
import { VaekitError } from "../errors.js";

export function deviceOption(): Option {
  return new Option("--device <device>", `compute device: ${DEVICE_CHOICES.join("|")}`).default("wasm").argParser(choiceArg(DEVICE_CHOICES));
}

/** The device to start for a command: `auto` is wasm for the CPU engines (onnx, wasm worker threads), which run beside it. */
export function deviceFor(o: { device: DeviceChoice; engine?: string; workers?: number }): DeviceChoice {
  return o.device === "auto" && (o.engine === "onnx" || (o.workers ?? 1) > 1) ? "wasm" : o.device;
}

export async function startEngine(device: DeviceChoice, quiet = false): Promise<void> {
  await initEngine(device);
  if (!quiet && device !== "wasm") process.stderr.write(`device: ${deviceSummary()}\n`);
}

export const dataHelp = `dataset: ${DATASET_SPEC_HELP}`;

/** Load a split, optionally binarised once with a seed, and limited to the first `limit` examples. */
export function loadEvalData(spec: string, split: Split, mode: "none" | "static", seed: number, limit?: number): Dataset {
  let ds = loadDataset(spec, split);
  if (limit !== undefined && limit < ds.n) {
    const size = ds.x.length / ds.n;
    ds = { ...ds, n: limit, x: ds.x.slice(0, limit * size), labels: ds.labels?.slice(0, limit) };
  }
  return binarize(ds, mode, seed);
}

/** The data must have the model's input shape. */
export function checkShape(ds: Dataset, bundle: ModelBundle): void {
  const want = bundle.config.inputShape.join("×");
  if (ds.shape.join("×") !== want) throw new VaekitError(`${ds.name} has examples of shape ${ds.shape.join("×")} but the model expects ${want}`);
}

/** Write rows of n×D values as a PNG grid of the model's image shape. */
export function writeGrid(path: string, x: Float32Array, shape: readonly number[], cols: number, scale = 2): void {
  const n = x.length / (shape[0] * shape[1] * shape[2]);
  writePng(path, imageGrid(x, [n, ...shape], { cols, scale }));
}

/** Register a command's options that every command shares. */
export function withCommon(cmd: Command): Command {
  return cmd.addOption(deviceOption()).option("--quiet", "no progress output", false);
}
