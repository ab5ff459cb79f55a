import { z } from "zod";

export const Binarize = z.enum(["none", "dynamic", "static"]);
export type Binarize = z.infer<typeof Binarize>;

/** Everything that decides a training run besides the model; stored in every checkpoint. */
export const TrainConfig = z.object({
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive().default(128),
  lr: z.number().positive().default(1e-3),
  seed: z.number().int().nonnegative().default(0),
  /** dynamic: a fresh Bernoulli sample of every batch; static: sampled once from the seed. */
  binarize: Binarize.default("dynamic"),
  /** Clip the global gradient norm (0 = off). */
  clipNorm: z.number().nonnegative().default(0),
});
export type TrainConfig = z.infer<typeof TrainConfig>;
