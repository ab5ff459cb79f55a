/**
 * What a trained speech model does with segments: reconstruct, sample from the prior and morph
 * between two utterances by latent interpolation. Browser-safe (host arrays in and out); turn
 * the results into sound with segmentToAudio / segmentToWavBytes (synthesis.ts).
 *
 * Every output is a segment plus its content length, since the decoder's frames past the end
 * of a word carry no meaning (see model.ts): a reconstruction keeps its input's length, a morph
 * step interpolates the two lengths, a prior sample reads the length off its latent.
 */
import { VaekitError } from "../../errors.js";
import { makeInference } from "../../models/inference.js";
import { predictLength, type SpeechModel } from "./model.js";

/** A model-layout segment (nMels × frames, mel-major) and how many of its frames are real. */
export interface GeneratedSegment {
  data: Float32Array;
  length: number;
  /** The latent it was decoded from. */
  z: Float32Array;
}

export interface SpeechGenerator {
  /** Reconstruction through the posterior mean; keeps the input's length. */
  reconstruct(data: Float32Array, length: number): Promise<GeneratedSegment>;
  /** Reconstructions of many segments at once (count × D values), e.g. for evaluation. */
  reconstructAll(data: Float32Array): Promise<Float32Array>;
  /** n prior samples z ~ N(0, temperature²·I), decoded. */
  sample(n: number, seed: number, temperature?: number): Promise<GeneratedSegment[]>;
  /** `steps` points from a to b (both included) on the line between their posterior means. */
  morph(a: { data: Float32Array; length: number }, b: { data: Float32Array; length: number }, steps: number): Promise<GeneratedSegment[]>;
}

export function makeSpeechGenerator(model: SpeechModel): SpeechGenerator {
  const inf = makeInference(model.bundle);
  const L = model.bundle.config.latentDim;
  const D = model.info.features.nMels * model.info.frames;
  const checkInput = (data: Float32Array, length: number) => {
    if (data.length !== D) throw new VaekitError(`segment has ${data.length} values, the model expects ${D}`);
    if (!Number.isInteger(length) || length < 1 || length > model.info.frames) throw new VaekitError(`segment length must be in 1..${model.info.frames}, got ${length}`);
  };
  const decodeRows = async (z: Float32Array, lengths: number[]): Promise<GeneratedSegment[]> => {
    const x = await inf.decode(z);
    return lengths.map((length, i) => ({ data: x.slice(i * D, (i + 1) * D), length, z: z.slice(i * L, (i + 1) * L) }));
  };
  return {
    async reconstruct(data, length) {
      checkInput(data, length);
      return (await decodeRows((await inf.encode(data)).mu, [length]))[0];
    },
    reconstructAll: (data) => inf.reconstruct(data),
    async sample(n, seed, temperature = 1) {
      if (!Number.isInteger(n) || n < 1) throw new VaekitError(`sample count must be a positive integer, got ${n}`);
      const { z } = await inf.sample(n, seed, temperature);
      const lengths = Array.from({ length: n }, (_, i) => predictLength(model.info.length, z.subarray(i * L, (i + 1) * L)));
      return decodeRows(z, lengths);
    },
    async morph(a, b, steps) {
      if (!Number.isInteger(steps) || steps < 2) throw new VaekitError(`morph needs at least 2 steps, got ${steps}`);
      checkInput(a.data, a.length);
      checkInput(b.data, b.length);
      const both = new Float32Array(2 * D);
      both.set(a.data);
      both.set(b.data, D);
      const { mu } = await inf.encode(both);
      const z = new Float32Array(steps * L);
      const lengths: number[] = [];
      for (let s = 0; s < steps; s++) {
        const t = s / (steps - 1);
        for (let k = 0; k < L; k++) z[s * L + k] = (1 - t) * mu[k] + t * mu[L + k];
        lengths.push(Math.max(1, Math.round((1 - t) * a.length + t * b.length)));
      }
      return decodeRows(z, lengths);
    },
  };
}
