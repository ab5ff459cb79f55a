/**
 * Training the tabular VAE (browser-safe): the same pattern as src/train/trainer.ts — a jitted
 * Adam step on shuffled mini-batches with per-step keys from a seeded host Rng, validation
 * negative ELBO each epoch, and a clear stop if the loss stops being finite.
 */
import { adamInit, adamUpdate, defaultAdam, jitted, keyFromWords, np, random, toHost, tree, valueAndGrad, type AdamState, type Array } from "../../../engine/index.js";
import { Rng } from "../../../data/rng.js";
import { VaekitError } from "../../../errors.js";
import { buildTabularVae, type TabularParams, type TabularVaeConfig } from "./model.js";

export interface TabularTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Fraction (< 1) or count of rows held out for validation. */
  validation: number;
}

export const DEFAULT_TABULAR_TRAIN: TabularTrainOptions = { epochs: 200, batchSize: 64, lr: 2e-3, seed: 0, validation: 0.1 };

export interface TabularEpoch {
  epoch: number;
  train_loss: number;
  val_neg_elbo: number;
}

/** Rows [start, start+B) of an n×D array in `order`. */
function gather(x: Float32Array, D: number, order: Int32Array, start: number, B: number): Float32Array {
  const out = new Float32Array(B * D);
  for (let i = 0; i < B; i++) out.set(x.subarray(order[start + i] * D, (order[start + i] + 1) * D), i * D);
  return out;
}

export async function trainTabularVae(
  config: TabularVaeConfig,
  x: Float32Array,
  options: Partial<TabularTrainOptions> = {},
  onEpoch?: (m: TabularEpoch) => void,
): Promise<{ params: TabularParams; history: TabularEpoch[] }> {
  const o = { ...DEFAULT_TABULAR_TRAIN, ...options };
  const model = buildTabularVae(config);
  const D = model.inputDim;
  const n = x.length / D;
  const nVal = o.validation < 1 ? Math.round(n * o.validation) : o.validation;
  const perm = new Rng(o.seed).permutation(n);
  const valIdx = perm.slice(0, nVal);
  const trainIdx = perm.slice(nVal);
  const nTrain = trainIdx.length;
  const B = Math.min(o.batchSize, nTrain);
  if (nTrain < 2) throw new VaekitError(`the table has ${n} usable rows; at least 2 training rows are needed`);
  const batches = Math.floor(nTrain / B);

  let params = model.init(random.key(o.seed));
  let opt: AdamState<TabularParams> = adamInit(params);
  const adam = { ...defaultAdam, lr: o.lr };
  const step = jitted((p: TabularParams, s: AdamState<TabularParams>, xb: Array, key: Array) => {
    const lossFn = (pp: TabularParams) => {
      const q = model.encode(pp, xb.ref);
      const zz = q.sample(key);
      return q.klToStandardNormal().sub(model.logLik(pp, zz, xb)).mean();
    };
    const [loss, grads] = valueAndGrad(lossFn)(p);
    const [p1, s1] = adamUpdate(p, grads as TabularParams, s, adam);
    return { params: p1, opt: s1, loss };
  });

  const valLoss = jitted((p: TabularParams, xb: Array, key: Array) => {
    const q = model.encode(p, xb.ref);
    return q.klToStandardNormal().sub(model.logLik(p, q.sample(key), xb)).mean();
  });
  const valX = gather(x, D, valIdx, 0, nVal);
  const history: TabularEpoch[] = [];
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const rng = new Rng(o.seed * 1_000_003 + epoch);
    const order = rng.permutation(nTrain).map((i) => trainIdx[i]);
    let sum = 0;
    for (let b = 0; b < batches; b++) {
      const xb = np.array(gather(x, D, order, b * B, B)).reshape([B, D]);
      const out = step(params, opt, xb, keyFromWords(rng.nextUint32(), rng.nextUint32()));
      const loss = (await toHost(out.loss))[0];
      if (!Number.isFinite(loss)) {
        tree.dispose(out.params as never);
        tree.dispose(out.opt as never);
        throw new VaekitError(`tabular training diverged: the loss became ${loss} at epoch ${epoch}; try a lower --lr`);
      }
      params = out.params;
      opt = out.opt;
      sum += loss;
    }
    const val = nVal > 0 ? (await toHost(valLoss(tree.ref(params as never) as TabularParams, np.array(valX).reshape([nVal, D]), random.key(epoch))))[0] : NaN;
    const m = { epoch, train_loss: sum / batches, val_neg_elbo: val };
    history.push(m);
    onEpoch?.(m);
  }
  tree.dispose(opt as never);
  return { params, history };
}
