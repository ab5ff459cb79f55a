/**
 * RL files on disk (Node-only): random rollouts as safetensors (frames readable by numpy/PyTorch),
 * trained controllers as JSON, and the VAE model file with the environment it was trained on.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "../../engine/index.js";
import { VaekitError } from "../../errors.js";
import { writeFileAtomic } from "../../io/atomic.js";
import { loadModel, saveModel } from "../../models/files.js";
import type { ModelBundle } from "../../models/io.js";
import type { CatchConfig } from "./catch.js";
import { parseControllerFile, type ControllerFile } from "./pipeline.js";
import type { RandomRollouts } from "./rollouts.js";

export const ROLLOUTS_FORMAT = "vaekit.rl-rollouts/1";

export interface RolloutsFile {
  rollouts: RandomRollouts;
  env: CatchConfig;
  seed: number;
}

/** Write rollouts: frames [n, h, w, c], actions, rewards, dones, episode starts and returns; env config in the metadata. */
export function saveRollouts(path: string, file: RolloutsFile): void {
  const r = file.rollouts;
  const tensors: Record<string, HostTensor> = {
    frames: { shape: [r.n, ...r.shape], data: r.frames },
    actions: { shape: [r.n, r.actionSize], data: r.actions },
    rewards: { shape: [r.n], data: r.rewards },
    dones: { shape: [r.n], data: Float32Array.from(r.dones) },
    episode_starts: { shape: [r.episodeStarts.length], data: Float32Array.from(r.episodeStarts) },
    episode_returns: { shape: [r.episodeReturns.length], data: Float32Array.from(r.episodeReturns) },
  };
  writeFileAtomic(path, encodeSafetensors(tensors, { format: ROLLOUTS_FORMAT, env: JSON.stringify(file.env), seed: String(file.seed) }));
}

export function loadRollouts(path: string): RolloutsFile {
  if (!existsSync(path)) throw new VaekitError(`rollouts file not found: ${path}`);
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(path)), path);
  if (metadata.format !== ROLLOUTS_FORMAT) throw new VaekitError(`${path} is not a vaekit rollouts file (run "vaekit rl collect")`);
  const need = (name: string) => {
    const t = tensors[name];
    if (t === undefined) throw new VaekitError(`${path}: missing tensor "${name}"`);
    return t;
  };
  const frames = need("frames");
  if (frames.shape.length !== 4) throw new VaekitError(`${path}: frames must be [n, h, w, c], got [${frames.shape}]`);
  const [n, h, w, c] = frames.shape;
  for (let i = 0; i < frames.data.length; i++) {
    const v = frames.data[i];
    if (!(v >= 0 && v <= 1)) throw new VaekitError(`${path}: frame value ${v} at index ${i} is outside [0, 1]`);
  }
  const actions = need("actions");
  const lengthOk = (t: HostTensor, name: string) => {
    if (t.shape[0] !== n) throw new VaekitError(`${path}: "${name}" has ${t.shape[0]} rows, frames have ${n}`);
  };
  lengthOk(actions, "actions");
  lengthOk(need("rewards"), "rewards");
  lengthOk(need("dones"), "dones");
  let env: CatchConfig;
  try {
    env = JSON.parse(metadata.env) as CatchConfig;
  } catch {
    throw new VaekitError(`${path}: the environment config in the metadata is not valid JSON`);
  }
  return {
    rollouts: {
      frames: frames.data,
      shape: [h, w, c],
      n,
      actions: actions.data,
      actionSize: actions.shape[1],
      rewards: need("rewards").data,
      dones: Uint8Array.from(need("dones").data),
      episodeStarts: Int32Array.from(need("episode_starts").data),
      episodeReturns: Float64Array.from(need("episode_returns").data),
    },
    env,
    seed: Number(metadata.seed),
  };
}

/** What a frame VAE keeps about its training data, in the model file's extras. */
export interface RlVaeExtras {
  env: CatchConfig;
  /** Environment steps spent collecting the frames it was trained on (charged to latent controllers). */
  rolloutSteps: number;
  rollouts: string;
}

/** Add the RL extras to a saved model directory (re-saves model.safetensors and config.json). */
export async function attachRlExtras(modelDir: string, extras: RlVaeExtras): Promise<ModelBundle> {
  const bundle = loadModel(modelDir);
  const withRl = { ...bundle, extras: { ...bundle.extras, rl: extras } };
  await saveModel(modelDir, withRl);
  return withRl;
}

/** Load a frame VAE and its RL extras; a VAE without them was not trained by "vaekit rl train-vae". */
export function loadRlVae(pathOrDir: string): { bundle: ModelBundle; rl: RlVaeExtras } {
  const bundle = loadModel(pathOrDir);
  const rl = bundle.extras.rl as RlVaeExtras | undefined;
  if (rl === undefined || typeof rl.rolloutSteps !== "number" || typeof rl.env !== "object") {
    throw new VaekitError(`${pathOrDir}: this VAE has no RL training record (train it with "vaekit rl train-vae")`);
  }
  return { bundle, rl };
}

/** Write a controller; its VAE path is stored relative to the controller file's folder. */
export function saveController(path: string, file: ControllerFile, vaePath?: string): void {
  const stored: ControllerFile = vaePath === undefined ? file : { ...file, vae: relative(dirname(resolve(path)), resolve(vaePath)) || "." };
  writeFileAtomic(path, JSON.stringify(stored, null, 1) + "\n");
}

/** Read a controller and resolve its VAE path (absolute, or undefined for pixel controllers). */
export function loadController(path: string): { controller: ControllerFile; vaePath?: string } {
  if (!existsSync(path)) throw new VaekitError(`controller file not found: ${path}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new VaekitError(`${path}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
  const controller = parseControllerFile(json, path);
  const vae = controller.vae;
  const vaePath = vae === undefined ? undefined : isAbsolute(vae) ? vae : join(dirname(resolve(path)), vae);
  return { controller, vaePath };
}
