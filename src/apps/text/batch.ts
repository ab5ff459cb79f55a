/**
 * Padded, time-major mini-batches of token sequences (browser-safe).
 *
 * With T = maxTokens + 1 steps, a sentence w1..wn becomes
 *   targets        w1 w2 .. wn EOS PAD ..   (also the forward encoder's input)
 *   reversed       wn .. w2 w1 EOS PAD ..   (the backward encoder's input)
 *   decoderInputs  BOS w1 .. wn PAD ..      (teacher forcing: the decoder sees the previous token)
 *   mask           1  1  .. 1  1   0 ..     (n + 1 ones: every word and the end are predicted)
 * Arrays are [T, B] row-major, so step t of the whole batch is one contiguous row.
 */
import type { Rng } from "../../data/rng.js";
import { VaekitError } from "../../errors.js";
import { BOS, EOS, PAD, UNK } from "./tokenizer.js";

export interface TextBatch {
  steps: number;
  size: number;
  /** Rows that hold a real sentence (the rest are all-PAD filler with mask 0). */
  rows: number;
  targets: Int32Array;
  reversed: Int32Array;
  decoderInputs: Int32Array;
  mask: Float32Array;
  /** Predicted tokens in the batch (sum of the mask). */
  tokens: number;
}

/** Batch the sequences at `indices` (fewer than `size` → filler rows), each at most steps − 1 tokens. */
export function makeBatch(sequences: readonly Int32Array[], indices: ArrayLike<number>, steps: number, size = indices.length): TextBatch {
  if (indices.length > size) throw new Error(`makeBatch: ${indices.length} sequences for a batch of ${size}`);
  const targets = new Int32Array(steps * size).fill(PAD);
  const reversed = new Int32Array(steps * size).fill(PAD);
  const decoderInputs = new Int32Array(steps * size).fill(PAD);
  const mask = new Float32Array(steps * size);
  let tokens = 0;
  for (let b = 0; b < indices.length; b++) {
    const seq = sequences[indices[b]];
    if (seq.length > steps - 1) throw new VaekitError(`a sequence of ${seq.length} tokens does not fit ${steps - 1} (max tokens)`);
    decoderInputs[b] = BOS;
    for (let t = 0; t < seq.length; t++) {
      targets[t * size + b] = seq[t];
      reversed[t * size + b] = seq[seq.length - 1 - t];
      decoderInputs[(t + 1) * size + b] = seq[t];
    }
    targets[seq.length * size + b] = EOS;
    reversed[seq.length * size + b] = EOS;
    for (let t = 0; t <= seq.length; t++) mask[t * size + b] = 1;
    tokens += seq.length + 1;
  }
  return { steps, size, rows: indices.length, targets, reversed, decoderInputs, mask, tokens };
}

/**
 * Word dropout (Bowman et al. 2016): each real decoder input after BOS is replaced by UNK with
 * probability `rate`, so the decoder must lean on z. Targets and the encoder's inputs are untouched.
 * Returns a new batch and how many inputs were replaced.
 */
export function applyWordDropout(batch: TextBatch, rate: number, rng: Rng): { batch: TextBatch; replaced: number; eligible: number } {
  if (!(rate >= 0 && rate <= 1)) throw new VaekitError(`word dropout must be in [0, 1], got ${rate}`);
  const decoderInputs = batch.decoderInputs.slice();
  let replaced = 0;
  let eligible = 0;
  const { size, steps } = batch;
  for (let t = 1; t < steps; t++) {
    for (let b = 0; b < size; b++) {
      const i = t * size + b;
      if (batch.mask[i] === 0) continue; // past the end: nothing is predicted from here
      eligible++;
      if (rate > 0 && rng.uniform() < rate) {
        decoderInputs[i] = UNK;
        replaced++;
      }
    }
  }
  return { batch: { ...batch, decoderInputs }, replaced, eligible };
}
