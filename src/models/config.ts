import { z } from "zod";
import { VaekitError } from "../errors.js";

/**
 * A local autoregressive context for the Bernoulli likelihood (PixelCNN-style, as in PixelVAE,
 * Gulrajani et al. 2017): pixel i's logit is the decoder's output for i plus a function of the
 * pixels before i in raster order inside a `kernel`×`kernel` window (a masked "type A"
 * convolution over x). hidden = 0: that function is linear; hidden = C: C ReLU features of the
 * window, each also fed the decoder's output, mixed by a 1×1 layer. 1-channel images only.
 */
export const AutoregressiveConfig = z.object({
  kernel: z
    .number()
    .int()
    .min(3)
    .default(5)
    .refine((k) => k % 2 === 1, { message: "the causal window needs an odd kernel (3, 5, 7, …)" }),
  hidden: z.number().int().nonnegative().default(16),
});
export type AutoregressiveConfig = z.infer<typeof AutoregressiveConfig>;

/** Likelihood p(x|z) of the decoder. */
export const LikelihoodConfig = z.discriminatedUnion("type", [
  /**
   * Binary (or [0,1] cross-entropy) pixels; decoder outputs logits. With `autoregressive`, each
   * logit also sees the pixels before it (AutoregressiveConfig); absent: independent pixels.
   */
  z.object({ type: z.literal("bernoulli"), autoregressive: AutoregressiveConfig.optional() }),
  z.object({
    type: z.literal("gaussian"),
    /**
     * fixed: σ given; learned: one learned log σ² per value; learned-global: one learned log σ²
     * shared by all values; network: the decoder outputs σ²(z) too.
     */
    variance: z.enum(["fixed", "learned", "learned-global", "network"]),
    sigma: z.number().positive().default(1),
  }),
  /** Continuous Bernoulli on [0,1] (Loaiza-Ganem & Cunningham 2019), properly normalised. */
  z.object({ type: z.literal("continuous-bernoulli") }),
  /**
   * Discretised logistic (mixture) for `bins`-level images scaled to [0,1] (value v ↦ v/(bins−1)),
   * each value modelled independently; mixtures = 1 is a single logistic.
   */
  z.object({
    type: z.literal("discretized-logistic"),
    mixtures: z.number().int().positive().default(1),
    bins: z.number().int().min(2).default(256),
  }),
]);
export type LikelihoodConfig = z.infer<typeof LikelihoodConfig>;

export const MlpConfig = z.object({
  type: z.literal("mlp"),
  hidden: z.array(z.number().int().positive()).min(1),
});
export type MlpConfig = z.infer<typeof MlpConfig>;

/**
 * A convolutional encoder or decoder (NHWC, any image size, any channel count).
 * Encoder: `channels` are the widths after each strided conv (input → c1 → c2 …), then flatten,
 * the dense `hidden` layers, and the (μ, log σ²) heads.
 * Decoder (mirror): dense `hidden` layers, a dense layer to the smallest feature map with
 * `channels[0]` channels, then one transposed conv per entry (c1 → c2 … → image channels).
 * Every transposed conv gets the output padding that undoes its conv exactly, so odd sizes
 * (28 → 14 → 7 → 4 → 7 → 14 → 28) round-trip without cropping.
 * `residualBlocks` adds blocks x + conv3×3(relu(conv3×3(relu x))) at every width.
 */
export const ConvConfig = z.object({
  type: z.literal("conv"),
  channels: z.array(z.number().int().positive()).min(1),
  kernel: z.number().int().positive().default(4),
  stride: z.number().int().positive().default(2),
  /** Zero padding; absent: ⌊(kernel − stride + 1)/2⌋ (1 for k4 s2, halving each size). */
  padding: z.number().int().nonnegative().optional(),
  residualBlocks: z.number().int().nonnegative().default(0),
  hidden: z.array(z.number().int().positive()).default([]),
});
export type ConvConfig = z.infer<typeof ConvConfig>;

export const NetworkConfig = z.discriminatedUnion("type", [MlpConfig, ConvConfig]);
export type NetworkConfig = z.infer<typeof NetworkConfig>;

/**
 * The KL weight over training, a pure function of the optimiser step t = 0, 1, …, multiplied by β:
 * constant: 1; linear warm-up: min(1, t / warmupSteps); cyclical (Fu et al. 2019): within each
 * period of `periodSteps`, a linear ramp from 0 to 1 over the first `rampFraction`, then 1;
 * after `cycles` periods (0 = never) it stays at 1.
 */
export const KlSchedule = z.discriminatedUnion("type", [
  z.object({ type: z.literal("constant") }),
  z.object({ type: z.literal("linear"), warmupSteps: z.number().int().positive() }),
  z.object({
    type: z.literal("cyclical"),
    periodSteps: z.number().int().positive(),
    rampFraction: z.number().gt(0).max(1).default(0.5),
    cycles: z.number().int().nonnegative().default(0),
  }),
]);
export type KlSchedule = z.infer<typeof KlSchedule>;

/**
 * The training objective. elbo: mean(recon + w·KL) with w = β·schedule(t), optionally with free
 * bits λ per latent dimension (each dimension's batch-mean KL counts as at least λ nats).
 * iwae: the k-sample importance-weighted bound (Burda et al. 2016); w scales log p(z) − log q(z).
 * Evaluation always reports the true ELBO (β = 1, no free bits) and the IWAE bound.
 */
export const ObjectiveConfig = z
  .object({
    type: z.enum(["elbo", "iwae"]).default("elbo"),
    k: z.number().int().positive().default(1),
    freeBits: z.number().nonnegative().default(0),
    klSchedule: KlSchedule.default({ type: "constant" }),
  })
  .refine((o) => o.type === "iwae" || o.k === 1, { message: "k > 1 needs the iwae objective", path: ["k"] })
  .refine((o) => o.type === "elbo" || o.freeBits === 0, { message: "free bits apply to the elbo objective only", path: ["freeBits"] });
export type ObjectiveConfig = z.infer<typeof ObjectiveConfig>;

/**
 * The prior p(z). standard-normal: N(0, I) (the reference). vamp: the VampPrior (Tomczak &
 * Welling 2018), p(z) = (1/K) Σ_k q(z|u_k), a uniform mixture of the encoder's Gaussian
 * posteriors at K learned pseudo-inputs u_k. `pseudoInputs` maps the stored parameters to the data
 * space: sigmoid keeps them in (0, 1) like image pixels, identity leaves them unconstrained.
 * With a flow posterior the components are the encoder's Gaussians before the flow; in a ladder
 * VAE the VampPrior is the prior of the top layer.
 */
export const PriorConfig = z.discriminatedUnion("type", [
  z.object({ type: z.literal("standard-normal") }),
  z.object({
    type: z.literal("vamp"),
    components: z.number().int().positive().default(500),
    pseudoInputs: z.enum(["sigmoid", "identity"]).default("sigmoid"),
  }),
]);
export type PriorConfig = z.infer<typeof PriorConfig>;

/**
 * The posterior q(z|x). gaussian: diagonal Gaussian (the reference; the default when absent).
 * iaf: inverse autoregressive flow (Kingma et al. 2016) on top of the Gaussian: `steps` MADE
 * networks with `hidden` masked ReLU layers, each also fed a `context` vector from the encoder
 * (0 = none); the variable order is reversed between steps. log q(z|x) includes the log-det.
 */
export const PosteriorConfig = z.discriminatedUnion("type", [
  z.object({ type: z.literal("gaussian") }),
  z.object({
    type: z.literal("iaf"),
    steps: z.number().int().positive().default(4),
    hidden: z.array(z.number().int().positive()).min(1).default([256]),
    context: z.number().int().nonnegative().default(32),
  }),
]);
export type PosteriorConfig = z.infer<typeof PosteriorConfig>;

/**
 * A ladder (hierarchical) VAE with top-down inference (Sønderby et al. 2016). `latentDim` is the
 * bottom layer z₁ (what the decoder reads); `latents` lists the layers above it, bottom to top.
 * Bottom-up: the encoder network gives features d₁ and (μ̂₁, log σ̂₁²); each higher layer's
 * MLP (`hidden`) maps d_{i−1} to d_i and (μ̂_i, log σ̂_i²). Top-down: p(z_i|z_{i+1}) is an MLP
 * (`hidden`) of z_{i+1}, shared by the generative model and inference; q(z_i|·) merges it with
 * the bottom-up estimate: residual (default): the bottom-up outputs shift the prior's mean and
 * log-variance (μ_p + μ̂, log σ_p² + log σ̂², as in NVAE); precision: LVAE's precision-weighted
 * mean and variance (trained markedly slower than the plain VAE in our runs).
 * The top layer's q is bottom-up only; its prior is the configured prior.
 */
export const HierarchyConfig = z.object({
  latents: z.array(z.number().int().positive()).min(1),
  hidden: z.array(z.number().int().positive()).min(1).default([256]),
  merge: z.enum(["precision", "residual"]).default("residual"),
});
export type HierarchyConfig = z.infer<typeof HierarchyConfig>;

/** Padding of a conv config: as given, else ⌊(kernel − stride + 1)/2⌋. */
export function convPadding(c: ConvConfig): number {
  return c.padding ?? Math.max(0, Math.floor((c.kernel - c.stride + 1) / 2));
}

/** Why a conv stack cannot run on an h×w input (a layer would have no output), or null. */
function convStackProblem(c: ConvConfig, h: number, w: number): string | null {
  const p = convPadding(c);
  for (let i = 0; i < c.channels.length; i++) {
    const [h2, w2] = [h, w].map((n) => Math.floor((n + 2 * p - c.kernel) / c.stride) + 1);
    if (h2 < 1 || w2 < 1) return `conv layer ${i + 1} (k${c.kernel} s${c.stride} p${p}) does not fit a ${h}×${w} feature map: use fewer channels entries or a smaller kernel`;
    [h, w] = [h2, w2];
  }
  return null;
}

/** A VAE, fully described by JSON: this is what a model file stores beside its weights. */
export const VaeConfig = z.object({
  format: z.literal("vaekit.vae/1").default("vaekit.vae/1"),
  inputShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  latentDim: z.number().int().positive(),
  encoder: NetworkConfig,
  decoder: NetworkConfig,
  likelihood: LikelihoodConfig,
  prior: PriorConfig.default({ type: "standard-normal" }),
  /** Absent: a diagonal Gaussian (the reference). Optional, so existing files keep their bytes. */
  posterior: PosteriorConfig.optional(),
  /** Absent: one stochastic layer. */
  hierarchy: HierarchyConfig.optional(),
  beta: z.number().nonnegative().default(1),
  /** Absent: the plain ELBO with constant weight β (the reference). */
  objective: ObjectiveConfig.optional(),
}).superRefine((c, ctx) => {
  for (const side of ["encoder", "decoder"] as const) {
    const net = c[side];
    const problem = net.type === "conv" ? convStackProblem(net, c.inputShape[0], c.inputShape[1]) : null;
    if (problem) ctx.addIssue({ code: "custom", message: problem, path: [side, "channels"] });
  }
  if (c.likelihood.type === "bernoulli" && c.likelihood.autoregressive && c.inputShape[2] !== 1) {
    ctx.addIssue({ code: "custom", message: `the autoregressive Bernoulli likelihood models 1-channel images only, but inputShape has ${c.inputShape[2]} channels`, path: ["likelihood", "autoregressive"] });
  }
  const flow = c.posterior?.type === "iaf";
  if (flow && c.hierarchy) ctx.addIssue({ code: "custom", message: "a flow posterior is not supported in a ladder (hierarchical) VAE", path: ["posterior"] });
  // free bits need the KL split per latent dimension in closed form
  if ((c.objective?.freeBits ?? 0) > 0 && (flow || c.prior.type !== "standard-normal")) {
    ctx.addIssue({ code: "custom", message: "free bits need a closed-form per-dimension KL: not available with a flow posterior or a VampPrior", path: ["objective", "freeBits"] });
  }
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

/** Sizes of the stochastic layers, bottom (z₁, read by the decoder) to top. */
export const latentSizes = (c: VaeConfig): number[] => [c.latentDim, ...(c.hierarchy?.latents ?? [])];

/**
 * True for the reference family: one layer, diagonal Gaussian q, p = N(0, I). Only these models
 * have a closed-form KL and a parameter-free `Vae.prior`.
 */
export const isPlainLatent = (c: VaeConfig): boolean =>
  !c.hierarchy && (c.posterior?.type ?? "gaussian") === "gaussian" && c.prior.type === "standard-normal";

/** The objective with its defaults filled in (absent = plain ELBO). */
export function objectiveOf(c: VaeConfig): ObjectiveConfig {
  return c.objective ?? { type: "elbo", k: 1, freeBits: 0, klSchedule: { type: "constant" } };
}
