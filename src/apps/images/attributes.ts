/**
 * Attribute vectors from labelled data (browser-safe): for each class, the mean posterior mean
 * μ(x) of its examples minus the mean over all other examples. Adding s times that vector to an
 * image's latent moves it towards the class. The set is stored in a model file's extras under
 * "attributes", so `vaekit edit` and the browser app can use it later.
 */
import { z } from "zod";
import { VaekitError } from "../../errors.js";

export interface AttributeClass {
  name: string;
  count: number;
  /** Mean latent of the class. */
  mean: number[];
  /** Mean of the class minus mean of the rest. */
  vector: number[];
}

export interface AttributeSet {
  /** Where the labels came from (dataset spec or folder). */
  source: string;
  latentDim: number;
  classes: AttributeClass[];
}

const AttributeSetSchema = z.object({
  source: z.string(),
  latentDim: z.number().int().positive(),
  classes: z
    .array(
      z.object({
        name: z.string(),
        count: z.number().int().positive(),
        mean: z.array(z.number()),
        vector: z.array(z.number()),
      }),
    )
    .min(1),
});

export const ATTRIBUTES_KEY = "attributes";

/**
 * Attribute vectors from latent means mu (n×L) and labels in 0..classNames.length−1.
 * Classes without examples are left out; at least two non-empty classes are needed.
 */
export function computeAttributes(mu: Float32Array, L: number, labels: ArrayLike<number>, classNames: readonly string[], source: string): AttributeSet {
  const n = mu.length / L;
  if (labels.length !== n) throw new VaekitError(`${source}: ${labels.length} labels for ${n} examples`);
  const K = classNames.length;
  const sums = Array.from({ length: K }, () => new Float64Array(L));
  const counts = new Array<number>(K).fill(0);
  const total = new Float64Array(L);
  for (let i = 0; i < n; i++) {
    const k = labels[i];
    if (!(Number.isInteger(k) && k >= 0 && k < K)) throw new VaekitError(`${source}: label ${k} has no class name`);
    counts[k]++;
    for (let j = 0; j < L; j++) {
      sums[k][j] += mu[i * L + j];
      total[j] += mu[i * L + j];
    }
  }
  const present = classNames.map((_, k) => k).filter((k) => counts[k] > 0);
  if (present.length < 2) throw new VaekitError(`${source}: attribute vectors need examples of at least two classes`);
  const classes = present.map((k) => {
    const mean = Array.from(sums[k], (s) => s / counts[k]);
    const rest = Array.from(total, (t, j) => (t - sums[k][j]) / (n - counts[k]));
    return { name: classNames[k], count: counts[k], mean, vector: mean.map((m, j) => m - rest[j]) };
  });
  return { source, latentDim: L, classes };
}

/** The attribute set kept in a model's extras, validated, or undefined when there is none. */
export function readAttributes(extras: Record<string, unknown>, latentDim: number, source = "model file"): AttributeSet | undefined {
  const raw = extras[ATTRIBUTES_KEY];
  if (raw === undefined) return undefined;
  const r = AttributeSetSchema.safeParse(raw);
  if (!r.success) throw new VaekitError(`${source}: the stored attribute vectors are malformed (${r.error.issues[0].path.join(".")}: ${r.error.issues[0].message})`);
  const set = r.data;
  const bad = set.latentDim !== latentDim || set.classes.some((c) => c.mean.length !== latentDim || c.vector.length !== latentDim);
  if (bad) throw new VaekitError(`${source}: the stored attribute vectors are for a ${set.latentDim}-D latent, the model has ${latentDim}`);
  return set;
}

function findClass(set: AttributeSet, name: string): AttributeClass {
  const exact = set.classes.find((c) => c.name === name);
  if (exact) return exact;
  const folded = set.classes.filter((c) => c.name.toLowerCase() === name.toLowerCase());
  if (folded.length === 1) return folded[0];
  throw new VaekitError(`unknown attribute "${name}" (have: ${set.classes.map((c) => c.name).join(", ")})`);
}

/**
 * The direction named by `spec`: "NAME" gives NAME's attribute vector (towards NAME, away from
 * the rest); "FROM->TO" gives mean(TO) − mean(FROM).
 */
export function attributeDirection(set: AttributeSet, spec: string): Float32Array {
  const arrow = spec.indexOf("->");
  if (arrow < 0) return Float32Array.from(findClass(set, spec.trim()).vector);
  const from = findClass(set, spec.slice(0, arrow).trim());
  const to = findClass(set, spec.slice(arrow + 2).trim());
  return Float32Array.from(to.mean, (m, j) => m - from.mean[j]);
}

/** z + strength · direction. */
export function applyDirection(z: Float32Array, direction: Float32Array, strength: number): Float32Array {
  return z.map((v, j) => v + strength * direction[j]);
}
