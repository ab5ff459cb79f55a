/**
 * Data-parallel training on several CPU cores (Node only: worker_threads + SharedArrayBuffer).
 *
 * Each worker thread runs its own engine, holds a copy of the parameters and Adam state, and
 * computes the gradient of its rows of the batch; the gradients are summed in shared memory
 * (fixed order, so all copies stay bit-identical) and every worker applies the same Adam update.
 * A step equals `makeTrainStep`'s step for the same batch and key words up to float32 summation
 * order (see parallelShard.ts); with one worker it is the same computation off the main thread.
 *
 * Usage (what trainVae does with `workers > 1`):
 *   const par = await makeParallelTrainStep(config, tc, 2);
 *   await par.load(state.params, state.opt);
 *   for each batch: const { loss, recon, kl } = await par.step(xb, [rng.nextUint32(), rng.nextUint32()], klWeight);
 *   ({ params, opt } = await par.state());   // before validation / checkpoints
 *   await par.close();
 */
import { Worker } from "node:worker_threads";
import { np, random, tree, type AdamState } from "../engine/index.js";
import { buildVae, type VaeParams } from "../models/vae.js";
import { inputSize, type VaeConfig } from "../models/config.js";
import { VaekitError } from "../errors.js";
import type { TrainConfig } from "./config.js";
import { flatLayout, flattenToHost, shardingProblem, unflattenFromHost, SHARD_STATS, type FlatLayout } from "./parallelShard.js";
import type { WorkerInit } from "./parallelWorker.js";

export interface ParallelStepStats {
  /** The batch-mean training loss (recon + β·KL), as makeTrainStep's stats[0]. */
  loss: number;
  recon: number;
  kl: number;
}

export interface ParallelTrainStep {
  readonly workers: number;
  /** Send parameters and Adam state to every worker (borrows: the arrays stay usable). */
  load(params: VaeParams, opt: AdamState<VaeParams>): Promise<void>;
  /**
   * One Adam step on the batch x (B × D host values) with the key made from two uint32 words and
   * the KL weight β·w(t) (default β), exactly the arguments of makeTrainStep's step.
   */
  step(x: Float32Array, keyWords: readonly [number, number], klWeight?: number): Promise<ParallelStepStats>;
  /** The current parameters and Adam state as fresh engine arrays on this thread. */
  state(): Promise<{ params: VaeParams; opt: AdamState<VaeParams> }>;
  close(): Promise<void>;
}

type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: string };

/** Worker threads this machine can usefully run (one per core). */
export async function availableCores(): Promise<number> {
  const os = await import("node:os");
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

export async function makeParallelTrainStep(config: VaeConfig, tc: TrainConfig, workers: number): Promise<ParallelTrainStep> {
  const B = tc.batchSize;
  if (!Number.isInteger(workers) || workers < 1) throw new VaekitError(`--workers must be a positive integer (got ${workers})`);
  if (workers > B) throw new VaekitError(`--workers ${workers} is more than the batch size ${B}`);
  if (typeof SharedArrayBuffer === "undefined") throw new VaekitError("parallel training needs SharedArrayBuffer, which this runtime lacks");
  const problem = shardingProblem(config);
  if (problem) throw new VaekitError(`--workers > 1 is not possible for this model: ${problem}; use --workers 1`);
  const D = inputSize(config);
  const like = buildVae(config).init(random.key(0)); // structure and shapes only
  const layout: FlatLayout = flatLayout(like);
  const total = layout.size + SHARD_STATS;
  const control = new SharedArrayBuffer(3 * 4);
  const xShared = new SharedArrayBuffer(B * D * 4);
  const xView = new Float32Array(xShared);
  const grads = Array.from({ length: workers }, () => new SharedArrayBuffer(total * 4));
  const sum = new SharedArrayBuffer(total * 4);
  const url = new URL("./parallelWorker.js", import.meta.url);

  // one pending reply per worker at a time: requests are strictly sequential
  const pending: ((r: Reply) => void)[] = [];
  let failure: string | null = null;
  const threads = Array.from({ length: workers }, (_, index) => {
    const data: WorkerInit = { config, tc, batch: B, workers, index, inputSize: D, control, x: xShared, grads, sum };
    const w = new Worker(url, { workerData: data });
    w.on("message", (r: Reply) => {
      const resolve = pending[index];
      if (resolve) {
        delete pending[index];
        resolve(r);
      }
    });
    const fail = (why: string) => {
      failure ??= why;
      pending[index]?.({ ok: false, error: why });
      delete pending[index];
    };
    w.on("error", (e) => fail(`parallel worker ${index} crashed: ${e.message}`));
    w.on("exit", (code) => code !== 0 && fail(`parallel worker ${index} exited with code ${code}`));
    return w;
  });
  const reply = (index: number) => new Promise<Reply>((resolve) => (pending[index] = resolve));
  const check = (r: Reply): Record<string, unknown> => {
    if (!r.ok) throw new VaekitError(`parallel training failed: ${r.error}`);
    return r;
  };
  /** Send a message to every worker and wait for all replies (the first failure wins). */
  async function all(msg: (index: number) => object): Promise<Record<string, unknown>[]> {
    if (failure) throw new VaekitError(`parallel training failed: ${failure}`);
    const replies = threads.map((w, i) => {
      const p = reply(i);
      w.postMessage(msg(i));
      return p;
    });
    return (await Promise.all(replies)).map(check);
  }

  // wait until every worker has started its engine
  await Promise.all(threads.map((_, i) => reply(i))).then((rs) => rs.map(check));

  return {
    workers,
    async load(params, opt) {
      const p = flattenToHost(params, layout);
      const m = flattenToHost(opt.m, layout);
      const v = flattenToHost(opt.v, layout);
      const t = opt.t.ref.dataSync()[0];
      await all(() => ({ cmd: "load", params: p, m, v, t }));
    },
    async step(x, [k0, k1], klWeight = config.beta) {
      if (x.length !== B * D) throw new VaekitError(`parallel step: batch has ${x.length} values, expected ${B}×${D}`);
      xView.set(x);
      const [first] = await all(() => ({ cmd: "step", k0: k0 >>> 0, k1: k1 >>> 0, klWeight }));
      const s = first.stats as Float32Array;
      return { loss: s[0], recon: s[1] / B, kl: s[2] / B };
    },
    async state() {
      if (failure) throw new VaekitError(`parallel training failed: ${failure}`);
      const p = reply(0);
      threads[0].postMessage({ cmd: "state" });
      const r = check(await p);
      return {
        params: unflattenFromHost(like, layout, r.params as Float32Array),
        opt: {
          m: unflattenFromHost(like, layout, r.m as Float32Array),
          v: unflattenFromHost(like, layout, r.v as Float32Array),
          t: np.array(r.t as number, { dtype: np.float32 }),
        },
      };
    },
    async close() {
      await Promise.all(threads.map((w) => w.terminate()));
      tree.dispose(like);
    },
  };
}
