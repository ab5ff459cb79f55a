import { z } from "zod";
import { VaekitError } from "../errors.js";

/** Likelihood p(x|z) of the decoder. */
export const LikelihoodConfig = z.discriminatedUnion("type", [
  z.object({ type: z.literal("bernoulli") }),
  z.object({
    type: z.literal("gaussian"),
    /** fixed: σ given; learned: one learned log σ² per pixel; network: the decoder outputs σ²(z) too. */
    variance: z.enum(["fixed", "learned", "network"]),
    sigma: z.number().positive().default(1),
  }),
]);
export type LikelihoodConfig = z.infer<typeof LikelihoodConfig>;

export const MlpConfig = z.object({
  type: z.literal("mlp"),
  hidden: z.array(z.number().int().positive()).min(1),
});
export type MlpConfig = z.infer<typeof MlpConfig>;

/** A VAE, fully described by JSON: this is what a model file stores beside its weights. */
export const VaeConfig = z.object({
  format: z.literal("vaekit.vae/1").default("vaekit.vae/1"),
  inputShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  latentDim: z.number().int().positive(),
  encoder: MlpConfig,
  decoder: MlpConfig,
  likelihood: LikelihoodConfig,
  prior: z.object({ type: z.literal("standard-normal") }).default({ type: "standard-normal" }),
  beta: z.number().nonnegative().default(1),
});
export type VaeConfig = z.infer<typeof VaeConfig>;

/** The seed article's network: MLP 784→400→200→(μ, log σ²), mirrored decoder, Bernoulli output. */
export function referenceConfig(latentDim = 20): VaeConfig {
  return {
    format: "vaekit.vae/1",
    inputShape: [28, 28, 1],
    latentDim,
    encoder: { type: "mlp", hidden: [400, 200] },
    decoder: { type: "mlp", hidden: [200, 400] },
    likelihood: { type: "bernoulli" },
    prior: { type: "standard-normal" },
    beta: 1,
  };
}

/** Parse and validate a config from JSON; `source` names where it came from in errors. */
export function parseVaeConfig(json: unknown, source = "model config"): VaeConfig {
  const r = VaeConfig.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new VaekitError(`${source}: invalid config at "${issue.path.join(".")}": ${issue.message}`);
  }
  return r.data;
}

export const inputSize = (c: VaeConfig) => c.inputShape[0] * c.inputShape[1] * c.inputShape[2];
