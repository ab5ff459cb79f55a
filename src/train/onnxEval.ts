/**
 * IWAE evaluation on ONNX Runtime (Node, optional `onnxruntime-node`): the importance log-weights
 * log p(x|z_i) + log p(z_i) − log q(z_i|x) of a chunk of samples for a batch of examples are
 * traced by the engine, compiled to ONNX and run natively; the log-mean-exp over k runs on the
 * host in float64, as in evaluate.ts. With noise "inputs" the samples ε are given, so the result
 * can be checked against the engine's own iwaeLogWeights for the same ε.
 */
import { np, random, RunningLogMeanExp, tree, type Array } from "../engine/index.js";
import { compileToOnnx, type OnnxProgram } from "../engine/onnx.js";
import { createOnnxSession, type OnnxSession } from "../engine/onnxRuntime.js";
import { buildVae, type Vae, type VaeParams } from "../models/vae.js";
import { inputSize, type VaeConfig } from "../models/config.js";
import { VaekitError } from "../errors.js";
import { flatLayout, flattenToHost, plainLatentProblem } from "./parallelShard.js";
import { unsupported } from "./onnxStep.js";

export { onnxRuntimeProblem } from "./onnxStep.js";
import { paddedBatch } from "./evaluate.js";

/** log w [k, B] for x [B, D] and noise eps [k, B, L] (both consumed); params borrowed. */
export function logWeightsWithNoise(model: Vae, params: VaeParams, x: Array, eps: Array): Array {
  const [k, B, L] = eps.shape;
  const D = x.shape[1];
  const q = model.encode(params, x.ref);
  const z = q.sampleWithNoise(eps);
  const logPosterior = q.logProb(z.ref);
  const logPrior = model.prior.logProb(z.ref);
  const xs = np.broadcastTo(x.reshape([1, B, D]), [k, B, D]).reshape([k * B, D]);
  const logLik = model.decode(params, z.reshape([k * B, L])).logProb(xs).reshape([k, B]);
  return logLik.add(logPrior).sub(logPosterior);
}

export interface OnnxIwaeOptions {
  /** Examples per run (the last batch is zero-padded). */
  batch?: number;
  /** Importance samples per run; k must be a multiple. */
  chunk?: number;
  threads?: number;
  noise?: "graph" | "inputs";
  seed?: number;
}

export interface OnnxIwae {
  /** One run: log-weights [chunk·batch] (sample-major) for x [batch·D] and, with noise "inputs", eps [chunk·batch·L]. */
  logWeights(params: Float32Array[], x: Float32Array, eps?: Float32Array): Promise<Float32Array>;
  /** −log p̂(x) per example and its mean over x (n × D), with k importance samples. */
  evaluate(params: VaeParams, x: Float32Array, k: number, onProgress?: (done: number, total: number) => void): Promise<{ iwae_nll: number; iwae_k: number; n: number; perExample: Float64Array }>;
  close(): Promise<void>;
}

export async function makeOnnxIwae(model: VaeConfig | Vae, opts: OnnxIwaeOptions = {}): Promise<OnnxIwae> {
  if (!("encode" in model)) model = buildVae(model);
  const m = model;
  const problem = plainLatentProblem(m.config);
  if (problem) throw new VaekitError(`the onnx engine cannot evaluate this model: ${problem}; use --engine jax`);
  const B = opts.batch ?? 100;
  const c = opts.chunk ?? 100;
  const D = inputSize(m.config);
  const L = m.config.latentDim;
  const like = m.init(random.key(0));
  const layout = flatLayout(like);
  const [likeLeaves, def] = tree.flatten(like) as [Array[], ReturnType<typeof tree.flatten>[1]];
  const n = likeLeaves.length;
  const fn = (...args: Array[]) => {
    const [x, eps] = args.splice(-2);
    return logWeightsWithNoise(m, tree.unflatten(def, args) as VaeParams, x, eps);
  };
  const examples = [...likeLeaves.map((a) => a.ref), np.zeros([B, D]), np.zeros([c, B, L])];
  const noise = opts.noise ?? "graph";
  let program: OnnxProgram;
  try {
    program = compileToOnnx(fn as never, examples, noise === "graph" ? { randomInputs: { [n + 1]: "normal" }, seed: opts.seed ?? 0 } : {});
  } catch (e) {
    throw unsupported(e, "evaluate");
  } finally {
    tree.dispose(examples);
    tree.dispose(like);
  }
  const session: OnnxSession = await createOnnxSession(program, { threads: opts.threads ?? 1 });
  const leavesOf = (params: VaeParams) => {
    const flat = flattenToHost(params, layout);
    return layout.shapes.map((s, i) => flat.slice(layout.offsets[i], layout.offsets[i] + s.reduce((a, b) => a * b, 1)));
  };

  async function logWeights(params: Float32Array[], x: Float32Array, eps?: Float32Array): Promise<Float32Array> {
    const inputs = [...params, x];
    if (noise === "inputs") {
      if (!eps || eps.length !== c * B * L) throw new Error(`onnx iwae: eps [${c}·${B}·${L}] is required with noise "inputs"`);
      inputs.push(eps);
    }
    const [lw] = await session.run(inputs);
    return lw as Float32Array;
  }

  return {
    logWeights,
    async evaluate(params, x, k, onProgress) {
      if (noise !== "graph") throw new Error("onnx iwae: evaluate() draws its own samples; create it with noise \"graph\"");
      if (k % c !== 0) throw new VaekitError(`IWAE k = ${k} must be a multiple of the chunk size ${c}`);
      const count = x.length / D;
      const leaves = leavesOf(params);
      const per = new Float64Array(count);
      const total = Math.ceil(count / B) * (k / c);
      let done = 0;
      for (let start = 0; start < count; start += B) {
        const rows = Math.min(B, count - start);
        const xb = paddedBatch(x, D, start, B);
        const acc = new RunningLogMeanExp(rows);
        for (let s = 0; s < k; s += c) {
          acc.add(await logWeights(leaves, xb), c, B);
          onProgress?.(++done, total);
        }
        for (let i = 0; i < rows; i++) per[start + i] = -acc.value(i);
      }
      let sum = 0;
      for (const v of per) sum += v;
      return { iwae_nll: sum / count, iwae_k: k, n: count, perExample: per };
    },
    close: () => session.release(),
  };
}
