/**
 * A VAE for table rows (browser-safe): MLP encoder over the encoded row (standardised numbers +
 * one-hot categories) → DiagGaussian q(z|x); MLP decoder → per numeric column a Gaussian with a
 * learned per-column variance, per categorical column a softmax over its categories.
 * log p(x|z) is the sum over columns, so each column's term can also be reported on its own.
 */
import { z } from "zod";
import { nn, np, random, type Array } from "../../../engine/index.js";
import { DiagGaussian } from "../../../distributions/index.js";
import { CategoricalBlocks } from "../../../distributions/categorical.js";
import { dense, initDense, type DenseParams } from "../../../models/layers.js";
import { VaekitError } from "../../../errors.js";
import type { LatentModel } from "../latent-model.js";
import { encodedSize, layout, TabularSchema } from "./table.js";

export const TABULAR_FORMAT = "vaekit.tabular-vae/1";

export const TabularVaeConfig = z.object({
  format: z.literal(TABULAR_FORMAT).default(TABULAR_FORMAT),
  schema: TabularSchema,
  latentDim: z.number().int().positive(),
  hidden: z.array(z.number().int().positive()).min(1),
});
export type TabularVaeConfig = z.infer<typeof TabularVaeConfig>;

export type TabularParams = Record<string, DenseParams | Array>;

export function parseTabularConfig(json: unknown, source = "tabular model"): TabularVaeConfig {
  const r = TabularVaeConfig.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new VaekitError(`${source}: invalid tabular model config at "${issue.path.join(".")}": ${issue.message}`);
  }
  return r.data;
}

export interface TabularVae extends LatentModel<TabularParams> {
  config: TabularVaeConfig;
  init(key: Array): TabularParams;
  /** log p(x_c|z) per column [N, C]: numeric columns first, then categorical (layout order). */
  logLikPerColumn(params: TabularParams, z: Array, x: Array): Array;
  /** Names of the columns in logLikPerColumn order. */
  columnOrder: string[];
}

const LOG_2PI = Math.log(2 * Math.PI);

export function buildTabularVae(config: TabularVaeConfig): TabularVae {
  const { numeric, categorical, sizes, nNumeric } = layout(config.schema);
  const D = encodedSize(config.schema);
  const L = config.latentDim;
  const H = config.hidden;
  const enc = [D, ...H];
  const dec = [L, ...[...H].reverse()];
  const nEnc = enc.length - 1;
  const nDec = dec.length - 1;
  const nCat = D - nNumeric;

  function init(key: Array): TabularParams {
    const keys = np.unstack(random.split(key, nEnc + nDec + 3));
    const p: TabularParams = {};
    for (let i = 0; i < nEnc; i++) p[`enc_fc${i + 1}`] = initDense(keys[i], enc[i], enc[i + 1]);
    p.enc_mu = initDense(keys[nEnc], enc[nEnc], L);
    p.enc_logvar = initDense(keys[nEnc + 1], enc[nEnc], L);
    for (let i = 0; i < nDec; i++) p[`dec_fc${i + 1}`] = initDense(keys[nEnc + 2 + i], dec[i], dec[i + 1]);
    p.dec_out = initDense(keys[nEnc + 2 + nDec], dec[nDec], D);
    if (nNumeric > 0) p.num_logvar = np.zeros([nNumeric]);
    return p;
  }

  function encode(p: TabularParams, x: Array): DiagGaussian {
    let h = x;
    for (let i = 0; i < nEnc; i++) h = nn.relu(dense(h, p[`enc_fc${i + 1}`] as DenseParams));
    return new DiagGaussian(dense(h.ref, p.enc_mu as DenseParams), dense(h, p.enc_logvar as DenseParams));
  }

  /** Decoder output [N, D]: numeric means then categorical logits. */
  function decodeOut(p: TabularParams, zz: Array): Array {
    let h = zz;
    for (let i = 0; i < nDec; i++) h = nn.relu(dense(h, p[`dec_fc${i + 1}`] as DenseParams));
    return dense(h, p.dec_out as DenseParams);
  }

  function split(a: Array): [Array | null, Array | null] {
    if (nNumeric === 0) return [null, a];
    if (nCat === 0) return [a, null];
    const [u, v] = np.split(a, [nNumeric], -1);
    return [u, v];
  }

  function logLikPerColumn(p: TabularParams, zz: Array, x: Array): Array {
    const [mean, logits] = split(decodeOut(p, zz));
    const [xn, xc] = split(x);
    const parts: Array[] = [];
    if (mean && xn) {
      const logVar = (p.num_logvar as Array).ref;
      const d = xn.sub(mean);
      // per-column Gaussian log density, not summed
      parts.push(d.ref.mul(d).mul(np.exp(np.negative(logVar.ref))).add(logVar).add(LOG_2PI).mul(-0.5));
    }
    if (logits && xc) parts.push(new CategoricalBlocks(logits, sizes).logProbPerVariable(xc));
    return parts.length === 1 ? parts[0] : np.concatenate(parts, -1);
  }

  function reconError(p: TabularParams, zz: Array, x: Array): Array {
    const [mean, logits] = split(decodeOut(p, zz));
    const recon: Array[] = [];
    if (mean) recon.push(mean);
    if (logits) recon.push(new CategoricalBlocks(logits, sizes).mean());
    const d = (recon.length === 1 ? recon[0] : np.concatenate(recon, -1)).sub(x);
    return d.ref.mul(d);
  }

  return {
    config,
    inputDim: D,
    latentDim: L,
    init,
    encode,
    logLik: (p, zz, x) => logLikPerColumn(p, zz, x).sum(-1),
    logLikPerColumn,
    reconError,
    columnOrder: [...numeric.map((c) => c.name), ...categorical.map((c) => c.name)],
  };
}
