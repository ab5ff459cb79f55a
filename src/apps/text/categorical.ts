/**
 * Categorical likelihood over the vocabulary for padded sequences (browser-safe): log p of each
 * target token, summed over the real positions of each sentence only.
 */
import { nn, type Array } from "../../engine/index.js";
import { oneHot } from "./model.js";

/**
 * log p(targets) per sentence: Σ_t mask[t,b] · log softmax(logits[t,b])[targets[t,b]].
 * logits [T·B, V] time-major, targets [T, B] int32, mask [T, B] (0 on padding); all consumed.
 * A masked position adds exactly 0 whatever its target, so padding never enters the loss.
 */
export function maskedSequenceLogProb(logits: Array, targets: Array, mask: Array): Array {
  const [T, B] = targets.shape;
  const V = logits.shape[1];
  const tokenLogProb = nn.logSoftmax(logits, -1).mul(oneHot(targets, V).reshape([T * B, V])).sum(-1).reshape([T, B]);
  return tokenLogProb.mul(mask).sum(0);
}
