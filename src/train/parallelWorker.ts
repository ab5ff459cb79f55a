/**
 * One data-parallel training worker (a Node worker_thread with its own engine instance).
 * Protocol (messages from parallel.ts):
 *   {cmd:"load", params, m, v, t}  → {ok}            set parameters and Adam state (flat vectors)
 *   {cmd:"step", k0, k1, klWeight} → {ok, stats}     gradient of this worker's rows of the batch in
 *                                                    the shared x buffer, all-reduce, Adam update
 *   {cmd:"state"}                  → {ok, params, m, v, t}
 * The all-reduce runs in shared memory: each worker writes its gradient vector to its own slot,
 * waits at a barrier, sums one slice of every slot into the shared sum (same order everywhere),
 * waits again, then applies the identical Adam update to its own copy of the parameters.
 */
import { parentPort, workerData } from "node:worker_threads";
import { initEngine, keyFromWords, np, random, tree, type AdamState } from "../engine/index.js";
import { buildVae, type VaeParams } from "../models/vae.js";
import type { VaeConfig } from "../models/config.js";
import type { TrainConfig } from "./config.js";
import { flatLayout, flattenToHost, makeFlatAdamFn, makeShardGradFn, shardRange, sumShards, unflattenFromHost, SHARD_STATS } from "./parallelShard.js";

export interface WorkerInit {
  config: VaeConfig;
  tc: TrainConfig;
  batch: number;
  workers: number;
  index: number;
  inputSize: number;
  /** Int32 [arrived, generation, failed]: the barrier. */
  control: SharedArrayBuffer;
  /** The batch, B × D float32, written by the main thread before each step. */
  x: SharedArrayBuffer;
  /** One gradient slot per worker, then the sum: each (size + SHARD_STATS) float32. */
  grads: SharedArrayBuffer[];
  sum: SharedArrayBuffer;
}

const init = workerData as WorkerInit;
const port = parentPort!;

/**
 * Generation barrier on shared memory (Atomics.wait is allowed in workers). ctl[2] ≠ 0 means a
 * worker failed: the others stop waiting and fail too instead of hanging.
 */
function barrier(ctl: Int32Array, parties: number): void {
  const gen = Atomics.load(ctl, 1);
  if (Atomics.add(ctl, 0, 1) === parties - 1) {
    Atomics.store(ctl, 0, 0);
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  } else {
    while (Atomics.load(ctl, 1) === gen) {
      if (Atomics.load(ctl, 2) !== 0) throw new Error("another parallel worker failed");
      Atomics.wait(ctl, 1, gen, 200);
    }
  }
}

async function main() {
  await initEngine("wasm");
  const model = buildVae(init.config);
  const like = model.init(random.key(0));
  const layout = flatLayout(like);
  const [lo, hi] = shardRange(init.batch, init.workers, init.index);
  const D = init.inputSize;
  const gradFn = makeShardGradFn(model, init.tc, init.batch, lo, hi);
  const adamFn = makeFlatAdamFn(layout, init.tc);
  const ctl = new Int32Array(init.control);
  const xs = new Float32Array(init.x);
  const slots = init.grads.map((b) => new Float32Array(b));
  const sum = new Float32Array(init.sum);
  const total = layout.size + SHARD_STATS;
  const [sliceLo, sliceHi] = shardRange(total, init.workers, init.index);
  let params: VaeParams | null = null;
  let opt: AdamState<VaeParams> | null = null;

  port.on("message", (msg: { cmd: string; [k: string]: unknown }) => {
    try {
      if (msg.cmd === "load") {
        if (params) tree.dispose(params);
        if (opt) tree.dispose(opt);
        const vec = (name: string) => {
          const v = msg[name] as Float32Array;
          if (v.length !== layout.size) throw new Error(`parallel worker: ${name} has ${v.length} values, the model has ${layout.size}`);
          return v;
        };
        params = unflattenFromHost(like, layout, vec("params"));
        opt = {
          m: unflattenFromHost(like, layout, vec("m")),
          v: unflattenFromHost(like, layout, vec("v")),
          t: np.array(msg.t as number, { dtype: np.float32 }),
        };
        port.postMessage({ ok: true });
      } else if (msg.cmd === "step") {
        if (!params || !opt) throw new Error("parallel worker: step before load");
        const xShard = np.array(xs.slice(lo * D, hi * D)).reshape([hi - lo, D]);
        const klWeight = np.array(msg.klWeight as number, { dtype: np.float32 });
        const g = gradFn(tree.ref(params), xShard, keyFromWords(msg.k0 as number, msg.k1 as number), klWeight).dataSync() as Float32Array;
        slots[init.index].set(g);
        barrier(ctl, init.workers);
        sumShards(slots, sum, sliceLo, sliceHi);
        barrier(ctl, init.workers);
        const gsum = np.array(sum.slice(0, layout.size));
        const stats = sum.slice(layout.size, total);
        // report first: the update runs while the main thread prepares the next batch
        port.postMessage({ ok: true, stats });
        const out = adamFn(params, opt, gsum);
        params = out.params;
        opt = out.opt;
      } else if (msg.cmd === "state") {
        if (!params || !opt) throw new Error("parallel worker: state before load");
        port.postMessage({
          ok: true,
          params: flattenToHost(params, layout),
          m: flattenToHost(opt.m, layout),
          v: flattenToHost(opt.v, layout),
          t: opt.t.ref.dataSync()[0],
        });
      } else {
        throw new Error(`parallel worker: unknown command ${msg.cmd}`);
      }
    } catch (e) {
      Atomics.store(ctl, 2, 1);
      Atomics.notify(ctl, 1);
      port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
  port.postMessage({ ok: true, ready: true });
}

main().catch((e) => port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }));
