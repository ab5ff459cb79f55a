/**
 * The training step on ONNX Runtime's native CPU kernels (Node, the optional `onnxruntime-node`):
 * the loss and its gradient are traced by the engine and compiled to ONNX; Adam (the same
 * formulas as optim.ts) runs as one SIMD pass (optimWasm.ts) over parameters and moments kept on the host.
 *
 * Randomness: the engine's PRNG cannot be expressed in ONNX, so the binarisation noise u ~ U[0,1)
 * and ε ~ N(0, I) are either drawn by the graph (`noise: "graph"`, seeded: a fixed sequence per
 * seed) or passed in (`noise: "inputs"`, for exact comparisons with the engine's step).
 */
import { defaultAdam, np, random, tree, valueAndGrad, type AdamState, type Array } from "../engine/index.js";
import { createHostAdam } from "../engine/optimWasm.js";

type JsTreeDef = ReturnType<typeof tree.flatten>[1];
import { compileToOnnx, OnnxUnsupportedError, type OnnxProgram } from "../engine/onnx.js";
import { createOnnxSession, loadOnnxRuntime, onnxRuntimeUnavailable, type OnnxSession } from "../engine/onnxRuntime.js";
import { buildVae, type Vae, type VaeParams } from "../models/vae.js";
import { inputSize, type VaeConfig } from "../models/config.js";
import { VaekitError } from "../errors.js";
import type { TrainConfig } from "./config.js";
import { flatLayout, flattenToHost, noiseShape, shardingProblem, shardLoss, unflattenFromHost } from "./parallelShard.js";

export interface OnnxStepOptions {
  /** ONNX Runtime intra-op threads (1 = one core). */
  threads?: number;
  noise?: "graph" | "inputs";
  /** Seed of the graph's own noise (noise "graph"). */
  seed?: number;
  /** Write an ONNX Runtime profile (JSON) with this file-name prefix; it is complete after close(). */
  profilePrefix?: string;
}

export interface OnnxStepStats {
  loss: number;
  recon: number;
  kl: number;
}

export interface OnnxTrainStep {
  readonly program: OnnxProgram;
  load(params: VaeParams, opt: AdamState<VaeParams>): void;
  /**
   * One step on x (B × D) with KL weight β·w(t) (default β); `noise` (u [B·D], eps: [B·L], or
   * [k·B·L] for IWAE) is required with noise "inputs".
   */
  step(x: Float32Array, noise?: { u: Float32Array; eps: Float32Array }, klWeight?: number): Promise<OnnxStepStats>;
  state(): { params: VaeParams; opt: AdamState<VaeParams> };
  close(): Promise<void>;
}

/**
 * The gradient program: (param leaves…, klWeight [], x [B,D], u [B,D], eps [noiseShape]) →
 * (gradient leaves…, stats [3]): the loss makeTrainStep minimises (shardLoss over the whole batch).
 * Adam is not in the graph: ONNX Runtime's CPU provider fuses no element-wise ops, so Adam's dozen
 * passes over every parameter would each be a separate kernel; optimWasm.ts does it in one pass.
 */
export function gradientFunction(model: Vae, tc: TrainConfig, def: JsTreeDef) {
  return (...args: Array[]) => {
    const [u, eps] = args.splice(-2);
    const [klWeight, x] = args.splice(-2);
    const B = x.shape[0];
    const xb = tc.binarize === "dynamic" ? u.less(x).astype(np.float32) : (u.dispose(), x);
    const params = tree.unflatten(def, args) as VaeParams;
    const lossFn = (p: VaeParams) => shardLoss(model, p, xb, eps, klWeight, B);
    const [[loss, aux], grads] = valueAndGrad(lossFn, { hasAux: true })(params);
    return [...(tree.leaves(grads) as Array[]), np.stack([loss, aux.recon.div(B), aux.kl.div(B)])];
  };
}

/** Why ONNX Runtime cannot be used here (the optional onnxruntime-node failed to load), or null. */
export async function onnxRuntimeProblem(): Promise<string | null> {
  return (await loadOnnxRuntime()) ? null : onnxRuntimeUnavailable();
}

/** A model the ONNX exporter cannot express becomes a one-line user error that names the way out. */
export function unsupported(e: unknown, what: "train" | "evaluate"): unknown {
  if (!(e instanceof OnnxUnsupportedError)) return e;
  return new VaekitError(`the onnx engine cannot ${what} this model (${e.message}); use --engine jax`);
}

/** `model` is a config (built with buildVae) or an already built model. */
export async function makeOnnxTrainStep(model: VaeConfig | Vae, tc: TrainConfig, opts: OnnxStepOptions = {}): Promise<OnnxTrainStep> {
  if (!("encode" in model)) model = buildVae(model);
  const config = model.config;
  const like = model.init(random.key(0));
  const layout = flatLayout(like);
  const [likeLeaves, def] = tree.flatten(like) as [Array[], JsTreeDef];
  const nLeaves = likeLeaves.length;
  const B = tc.batchSize;
  const D = inputSize(config);
  const noise = opts.noise ?? "graph";
  const problem = shardingProblem(config);
  if (problem) throw new VaekitError(`the onnx engine cannot train this model: ${problem}; use --engine jax --workers 1`);
  const adam = { ...defaultAdam, lr: tc.lr, clipNorm: tc.clipNorm };
  const epsShape = noiseShape(config, B);
  const scalar = () => np.array(0, { dtype: np.float32 });
  const examples = [...likeLeaves.map((a) => a.ref), scalar(), np.zeros([B, D]), np.zeros([B, D]), np.zeros(epsShape)];
  const randomInputs = noise === "graph" ? { [nLeaves + 2]: "uniform" as const, [nLeaves + 3]: "normal" as const } : {};
  let program: OnnxProgram;
  try {
    program = compileToOnnx(gradientFunction(model, tc, def) as never, examples, { randomInputs, seed: opts.seed ?? 0 });
  } catch (e) {
    throw unsupported(e, "train");
  } finally {
    tree.dispose(examples);
  }
  const session: OnnxSession = await createOnnxSession(program, { threads: opts.threads ?? 1, profilePrefix: opts.profilePrefix });
  const leaves = (vec: Float32Array) => layout.shapes.map((shape, i) => vec.subarray(layout.offsets[i], layout.offsets[i] + shape.reduce((a, b) => a * b, 1)));
  const host = createHostAdam(layout.shapes.map((shape) => shape.reduce((a, b) => a * b, 1)));
  let loaded = false;
  const join = (parts: Float32Array[]) => {
    const out = new Float32Array(layout.size);
    parts.forEach((a, i) => out.set(a, layout.offsets[i]));
    return out;
  };
  const fill = (dst: Float32Array[], src: Float32Array) => leaves(src).forEach((a, i) => dst[i].set(a));
  return {
    program,
    load(params, opt) {
      fill(host.params, flattenToHost(params, layout));
      fill(host.m, flattenToHost(opt.m, layout));
      fill(host.v, flattenToHost(opt.v, layout));
      host.t = opt.t.ref.dataSync()[0];
      loaded = true;
    },
    async step(x, given, klWeight = config.beta) {
      if (!loaded) throw new Error("onnx step: call load() first");
      if (x.length !== B * D) throw new VaekitError(`onnx step: batch has ${x.length} values, expected ${B}×${D}`);
      const inputs: Float32Array[] = [...host.params, Float32Array.of(klWeight), x];
      if (noise === "inputs") {
        const nEps = epsShape.reduce((a, b) => a * b, 1);
        if (!given || given.u.length !== B * D || given.eps.length !== nEps) throw new Error(`onnx step: noise inputs u [${B}·${D}] and eps [${epsShape}] are required`);
        inputs.push(given.u, given.eps);
      }
      const out = (await session.run(inputs)) as Float32Array[];
      const s = out[nLeaves];
      for (let j = 0; j < nLeaves; j++) host.grads[j].set(out[j]);
      host.update(adam);
      return { loss: s[0], recon: s[1], kl: s[2] };
    },
    state() {
      return {
        params: unflattenFromHost(like, layout, join(host.params)),
        opt: { m: unflattenFromHost(like, layout, join(host.m)), v: unflattenFromHost(like, layout, join(host.v)), t: np.array(host.t, { dtype: np.float32 }) },
      };
    },
    async close() {
      await session.release();
      tree.dispose(like);
    },
  };
}
