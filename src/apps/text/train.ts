/**
 * Training the sentence VAE (browser-safe): a jitted Adam step on padded batches, with KL
 * annealing, word dropout and free bits as configured, and validation every `evalEvery` steps.
 * Shuffles, word dropout and device keys all derive from the seed.
 */
import { z } from "zod";
import { adamInit, adamUpdate, defaultAdam, jitted, keyFromWords, np, random, toHost, tree, valueAndGrad, type AdamState, type Array, type JsTree } from "../../engine/index.js";
import { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { applyWordDropout, makeBatch } from "./batch.js";
import { evaluateText, type TextMetrics } from "./evaluate.js";
import { initTextVae, type TextVaeConfig, type TextVaeParams } from "./model.js";
import { klWeight, textLoss } from "./objective.js";

export const TextTrainConfig = z.object({
  steps: z.number().int().positive(),
  batchSize: z.number().int().positive().default(64),
  lr: z.number().positive().default(1e-3),
  clipNorm: z.number().nonnegative().default(5),
  seed: z.number().int().nonnegative().default(0),
  klAnneal: z
    .object({
      kind: z.enum(["none", "linear"]).default("linear"),
      warmupSteps: z.number().int().nonnegative().default(2000),
      start: z.number().min(0).max(1).default(0),
    })
    .default({ kind: "linear", warmupSteps: 2000, start: 0 }),
  /** Probability of replacing each decoder input word with UNK (0 = off). */
  wordDropout: z.number().min(0).max(1).default(0),
  /** Free bits λ in nats (0 = off), per latent dimension or for the whole KL (see objective.ts). */
  freeBits: z.number().nonnegative().default(0),
  freeBitsScope: z.enum(["dimension", "total"]).default("total"),
  /** Validate every this many steps (and at the end). */
  evalEvery: z.number().int().positive().default(500),
});
export type TextTrainConfig = z.infer<typeof TextTrainConfig>;

export interface TextHistoryEntry {
  step: number;
  beta: number;
  train_loss: number;
  train_recon: number;
  train_kl: number;
  validation: TextMetrics;
  seconds: number;
}

export interface TextTrainHooks {
  onStep?: (info: { step: number; steps: number; loss: number; kl: number; beta: number }) => void;
  onEval?: (entry: TextHistoryEntry) => void | Promise<void>;
}

export interface TextTrainResult {
  params: TextVaeParams;
  history: TextHistoryEntry[];
}

/** The parameter tree as the optimiser sees it (the optional latent parts make it a looser type). */
type ParamTree = JsTree<Array>;

export function makeTextTrainStep(tc: TextTrainConfig) {
  const adam = { ...defaultAdam, lr: tc.lr, clipNorm: tc.clipNorm };
  return jitted(
    (params: TextVaeParams, opt: AdamState<ParamTree>, targets: Array, reversed: Array, decoderInputs: Array, mask: Array, rowWeight: Array, key: Array, beta: Array) => {
      const lossFn = (p: ParamTree) => textLoss(p as TextVaeParams, { targets, reversed, decoderInputs, mask }, rowWeight, key, beta, tc.freeBits, tc.freeBitsScope);
      const [[loss, aux], grads] = valueAndGrad(lossFn, { hasAux: true })(params as ParamTree);
      const [p1, o1] = adamUpdate(params as ParamTree, grads as ParamTree, opt, adam);
      return { params: p1 as unknown as TextVaeParams, opt: o1, stats: np.stack([loss, aux.recon, aux.kl]) };
    },
  );
}

const i32 = (a: Int32Array, T: number, B: number) => np.array(a, { dtype: np.int32 }).reshape([T, B]);

/** Train a text VAE (or, with latentDim 0, the language-model baseline) from scratch. */
export async function trainTextVae(
  config: TextVaeConfig,
  tc: TextTrainConfig,
  data: { train: readonly Int32Array[]; validation: readonly Int32Array[] },
  hooks: TextTrainHooks = {},
): Promise<TextTrainResult> {
  const n = data.train.length;
  const B = tc.batchSize;
  if (n < B) throw new VaekitError(`the training split has ${n} sentences, fewer than one batch of ${B}`);
  const T = config.maxTokens + 1;
  let params = initTextVae(config, random.key(tc.seed));
  let opt = adamInit(params as ParamTree);
  const step = makeTextTrainStep(tc);
  const rng = new Rng(tc.seed * 7919 + 17);
  const keyRng = rng.fork();
  const dropRng = rng.fork();
  const ones = new Float32Array(B).fill(1);
  const history: TextHistoryEntry[] = [];
  let order = rng.permutation(n);
  let cursor = 0;
  let sums = [0, 0, 0];
  let since = 0;
  let t0 = performance.now();
  for (let s = 0; s < tc.steps; s++) {
    if (cursor + B > n) {
      order = rng.permutation(n);
      cursor = 0;
    }
    let batch = makeBatch(data.train, order.subarray(cursor, cursor + B), T);
    cursor += B;
    if (tc.wordDropout > 0 && config.latentDim > 0) batch = applyWordDropout(batch, tc.wordDropout, dropRng).batch;
    const beta = config.latentDim > 0 ? klWeight(s, tc.klAnneal) : 1;
    const out = step(
      params,
      opt,
      i32(batch.targets, T, B),
      i32(batch.reversed, T, B),
      i32(batch.decoderInputs, T, B),
      np.array(batch.mask).reshape([T, B]),
      np.array(ones),
      keyFromWords(keyRng.nextUint32(), keyRng.nextUint32()),
      np.array(beta, { dtype: np.float32 }),
    );
    const [loss, recon, kl] = await toHost(out.stats);
    if (!Number.isFinite(loss)) throw new VaekitError(`training diverged: the loss became ${loss} at step ${s + 1}; try a lower --lr`);
    params = out.params;
    opt = out.opt;
    sums = [sums[0] + loss, sums[1] + recon, sums[2] + kl];
    since++;
    hooks.onStep?.({ step: s + 1, steps: tc.steps, loss, kl, beta });
    if (s % 16 === 15) await new Promise((r) => setTimeout(r, 0)); // let progress timers run
    if ((s + 1) % tc.evalEvery === 0 || s + 1 === tc.steps) {
      const seconds = (performance.now() - t0) / 1000;
      const validation = await evaluateText(params, config, data.validation, { seed: tc.seed, iwaeK: 0 });
      const entry: TextHistoryEntry = {
        step: s + 1,
        beta,
        train_loss: sums[0] / since,
        train_recon: sums[1] / since,
        train_kl: sums[2] / since,
        validation,
        seconds,
      };
      history.push(entry);
      await hooks.onEval?.(entry);
      sums = [0, 0, 0];
      since = 0;
      t0 = performance.now();
    }
  }
  tree.dispose(opt as never);
  return { params, history };
}
