/**
 * Detection metrics for anomaly scores (browser-safe, pure). Convention everywhere in this app:
 * a higher score means more anomalous; the anomalous set is the positive class.
 * Tied scores are handled exactly: the ROC steps diagonally through a tie, AUROC counts a tie as ½
 * (the Mann–Whitney statistic) and average precision treats a tie as one threshold.
 */
import { VaekitError } from "../../errors.js";

export interface RocCurvePoints {
  /** False-positive rates from 0 to 1, one point per distinct threshold (plus the origin). */
  fpr: Float64Array;
  /** True-positive rates, same length. */
  tpr: Float64Array;
  /** thresholds[i]: flag scores ≥ this to get (fpr[i], tpr[i]); +Infinity for the origin. */
  thresholds: Float64Array;
}

function checkScores(name: string, scores: ArrayLike<number>): void {
  if (scores.length === 0) throw new VaekitError(`${name} scores are empty`);
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new VaekitError(`${name} score ${i} is NaN`);
  }
}

/** (score, isAnomalous) pairs sorted by score, highest first. */
function ranked(normal: ArrayLike<number>, anomalous: ArrayLike<number>): { s: Float64Array; pos: Uint8Array } {
  checkScores("normal", normal);
  checkScores("anomalous", anomalous);
  const n = normal.length + anomalous.length;
  const s = new Float64Array(n);
  const pos = new Uint8Array(n);
  for (let i = 0; i < normal.length; i++) s[i] = normal[i];
  for (let i = 0; i < anomalous.length; i++) {
    s[normal.length + i] = anomalous[i];
    pos[normal.length + i] = 1;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b] - s[a]);
  return { s: Float64Array.from(order, (i) => s[i]), pos: Uint8Array.from(order, (i) => pos[i]) };
}

/** ROC curve through every distinct threshold, from (0,0) to (1,1). */
export function rocCurve(normal: ArrayLike<number>, anomalous: ArrayLike<number>): RocCurvePoints {
  const { s, pos } = ranked(normal, anomalous);
  const P = anomalous.length;
  const N = normal.length;
  const fpr = [0];
  const tpr = [0];
  const thresholds = [Infinity];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < s.length; i++) {
    if (pos[i]) tp++;
    else fp++;
    if (i === s.length - 1 || s[i + 1] !== s[i]) {
      fpr.push(fp / N);
      tpr.push(tp / P);
      thresholds.push(s[i]);
    }
  }
  return { fpr: Float64Array.from(fpr), tpr: Float64Array.from(tpr), thresholds: Float64Array.from(thresholds) };
}

/**
 * Area under the ROC curve = P(anomalous score > normal score) + ½ P(equal): the Mann–Whitney U
 * statistic over |normal|·|anomalous|, computed with mid-ranks in O(n log n).
 */
export function auroc(normal: ArrayLike<number>, anomalous: ArrayLike<number>): number {
  const { s, pos } = ranked(normal, anomalous);
  // ascending mid-ranks: walk the descending order from the end
  const n = s.length;
  let rankSumPos = 0;
  let i = n - 1;
  while (i >= 0) {
    let j = i;
    while (j > 0 && s[j - 1] === s[i]) j--;
    // positions j..i (descending order) share one score; ascending ranks n-i .. n-j (1-based)
    const midRank = (n - i + (n - j)) / 2;
    for (let k = j; k <= i; k++) if (pos[k]) rankSumPos += midRank;
    i = j - 1;
  }
  const P = anomalous.length;
  const N = normal.length;
  return (rankSumPos - (P * (P + 1)) / 2) / (P * N);
}

/**
 * Area under the precision–recall curve as average precision: Σ (R_k − R_{k−1}) · P_k over the
 * distinct thresholds k (step-wise, no interpolation; the usual definition for ranked retrieval).
 */
export function auprc(normal: ArrayLike<number>, anomalous: ArrayLike<number>): number {
  const { s, pos } = ranked(normal, anomalous);
  const P = anomalous.length;
  let tp = 0;
  let seen = 0;
  let prevRecall = 0;
  let ap = 0;
  for (let i = 0; i < s.length; i++) {
    seen++;
    if (pos[i]) tp++;
    if (i === s.length - 1 || s[i + 1] !== s[i]) {
      const recall = tp / P;
      ap += (recall - prevRecall) * (tp / seen);
      prevRecall = recall;
    }
  }
  return ap;
}

/** The smallest false-positive rate at which the true-positive rate reaches `tpr` (default 95%). */
export function fprAtTpr(normal: ArrayLike<number>, anomalous: ArrayLike<number>, tpr = 0.95): number {
  const roc = rocCurve(normal, anomalous);
  for (let i = 0; i < roc.tpr.length; i++) if (roc.tpr[i] >= tpr - 1e-12) return roc.fpr[i];
  return 1;
}

export interface DetectionMetrics {
  auroc: number;
  auprc: number;
  fpr_at_95_tpr: number;
  n_normal: number;
  n_anomalous: number;
}

export function detectionMetrics(normal: ArrayLike<number>, anomalous: ArrayLike<number>): DetectionMetrics {
  return {
    auroc: auroc(normal, anomalous),
    auprc: auprc(normal, anomalous),
    fpr_at_95_tpr: fprAtTpr(normal, anomalous, 0.95),
    n_normal: normal.length,
    n_anomalous: anomalous.length,
  };
}
