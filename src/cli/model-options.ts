/**
 * `vaekit train` flags that choose the model: architecture, likelihood, objective and KL schedule.
 * A --config file is the base; a flag overrides it only when given on the command line, and the
 * result is validated as a whole (one-line error naming the field).
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { VaekitError } from "../errors.js";
import { parseVaeConfig, referenceConfig, type LikelihoodConfig, type NetworkConfig, type ObjectiveConfig, type VaeConfig } from "../models/config.js";
import { choiceArg, floatArg, intArg } from "./options.js";

export const LIKELIHOOD_CHOICES = [
  "bernoulli",
  "gaussian",
  "gaussian-fixed",
  "gaussian-learned",
  "gaussian-global",
  "continuous-bernoulli",
  "discretized-logistic",
] as const;

function sizesArg(flag: string) {
  return (v: string): number[] => {
    const xs = v.split(",").map(Number);
    if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new VaekitError(`${flag} expects sizes like 32,64, got "${v}"`);
    return xs;
  };
}

/** Register the model flags on a command. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", "model config JSON (flags below override it)")
    .option("--latent <n>", "latent dimensions", intArg(1), 20)
    .option("--arch <kind>", "mlp|conv encoder and mirrored decoder", choiceArg(["mlp", "conv"] as const))
    .option("--hidden <sizes>", "MLP hidden sizes, decoder mirrored (default 400,200); for conv: dense layers after the convolutions")
    .option("--channels <sizes>", "conv widths, e.g. 32,64 (decoder mirrored)", sizesArg("--channels"))
    .option("--kernel <k>", "conv kernel size (default 4)", intArg(1))
    .option("--stride <s>", "conv stride (default 2)", intArg(1))
    .option("--padding <p>", "conv padding (default ⌊(kernel − stride + 1)/2⌋)", intArg(0))
    .option("--res-blocks <n>", "residual blocks per conv stage (default 0)", intArg(0))
    .option(
      "--likelihood <kind>",
      "bernoulli|gaussian (decoder outputs mean and variance)|gaussian-fixed|gaussian-learned (per value)|gaussian-global|continuous-bernoulli|discretized-logistic",
      choiceArg(LIKELIHOOD_CHOICES),
    )
    .option("--sigma <x>", "σ of gaussian-fixed", floatArg(0, true), 1)
    .option("--mixtures <k>", "logistic mixture components of discretized-logistic", intArg(1), 1)
    .option("--ar-kernel <k>", "autoregressive Bernoulli: each pixel's logit also reads the earlier pixels of a k×k causal window (odd k; default 5)", intArg(3))
    .option("--ar-hidden <c>", "hidden features of the autoregressive window (0 = linear; default 16)", intArg(0))
    .option("--beta <x>", "weight of the KL term", floatArg(0), 1)
    .option("--objective <kind>", "elbo|iwae training objective", choiceArg(["elbo", "iwae"] as const))
    .option("--iwae-k <k>", "importance samples of the iwae objective (default 5)", intArg(1))
    .option("--free-bits <nats>", "free bits: minimum KL per latent dimension (elbo objective)", floatArg(0))
    .option("--kl-warmup <steps>", "linear KL warm-up from 0 to β over this many steps", intArg(1))
    .option("--kl-cycle <steps>", "cyclical KL annealing with this period in steps", intArg(1))
    .option("--kl-ramp <fraction>", "fraction of each KL cycle spent ramping up", floatArg(0, true), 0.5)
    .option("--kl-cycles <n>", "number of KL cycles, then constant (0 = cycle to the end)", intArg(0), 0)
    .option("--prior <kind>", "standard-normal|vamp (VampPrior: a mixture of the posteriors at learned pseudo-inputs)", choiceArg(PRIOR_CHOICES))
    .option("--vamp-components <k>", "pseudo-inputs of the VampPrior (default 500)", intArg(1))
    .option("--posterior <kind>", "gaussian|iaf (inverse autoregressive flow on the Gaussian)", choiceArg(POSTERIOR_CHOICES))
    .option("--flow-steps <n>", "IAF steps (default 4)", intArg(1))
    .option("--flow-hidden <sizes>", "hidden widths of each IAF step's MADE network (default 256)", sizesArg("--flow-hidden"))
    .option("--flow-context <n>", "size of the encoder's context vector fed to every IAF step (0 = none; default 32)", intArg(0))
    .option("--latents <sizes>", "stochastic layer sizes, bottom (read by the decoder) to top; two or more make a ladder (hierarchical) VAE, e.g. 32,16", sizesArg("--latents"))
    .option("--ladder-hidden <sizes>", "hidden widths of the ladder's bottom-up and top-down MLPs (default 256)", sizesArg("--ladder-hidden"))
    .option("--ladder-merge <kind>", "residual (bottom-up shifts the top-down prior; default)|precision (LVAE precision weighting)", choiceArg(["precision", "residual"] as const));
}

export const PRIOR_CHOICES = ["standard-normal", "vamp"] as const;
export const POSTERIOR_CHOICES = ["gaussian", "iaf"] as const;

function readConfigFile(path: string): VaeConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new VaekitError(`--config ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  return parseVaeConfig(json, path);
}

function likelihoodFrom(kind: (typeof LIKELIHOOD_CHOICES)[number], o: Record<string, unknown>): LikelihoodConfig {
  switch (kind) {
    case "bernoulli":
      return { type: "bernoulli" };
    case "continuous-bernoulli":
      return { type: "continuous-bernoulli" };
    case "discretized-logistic":
      return { type: "discretized-logistic", mixtures: o.mixtures as number, bins: 256 };
    case "gaussian":
      return { type: "gaussian", variance: "network", sigma: 1 };
    case "gaussian-fixed":
      return { type: "gaussian", variance: "fixed", sigma: o.sigma as number };
    case "gaussian-learned":
      return { type: "gaussian", variance: "learned", sigma: 1 };
    case "gaussian-global":
      return { type: "gaussian", variance: "learned-global", sigma: 1 };
  }
}

/**
 * The model config from --config and the flags. `given(name)` says whether a flag was on the
 * command line (commander's option value source), so defaults never override the file.
 */
export function modelConfigFrom(o: Record<string, unknown>, given: (name: string) => boolean, inputShape: [number, number, number]): VaeConfig {
  const base: VaeConfig = o.config ? readConfigFile(o.config as string) : referenceConfig(o.latent as number);
  const cfg: VaeConfig = { ...base, inputShape };
  if (given("latent")) cfg.latentDim = o.latent as number;
  if (given("beta")) cfg.beta = o.beta as number;

  // architecture
  const hidden = o.hidden !== undefined ? sizesArg("--hidden")(o.hidden as string) : undefined;
  const convFlags = ["channels", "kernel", "stride", "padding", "resBlocks"].filter(given);
  const arch = (o.arch as string | undefined) ?? base.encoder.type;
  if (arch === "mlp") {
    if (convFlags.length) throw new VaekitError(`--${convFlags[0].replace("resBlocks", "res-blocks")} applies to conv models; add --arch conv`);
    if (given("arch") && base.encoder.type !== "mlp") {
      const h = hidden ?? [400, 200];
      cfg.encoder = { type: "mlp", hidden: h };
      cfg.decoder = { type: "mlp", hidden: [...h].reverse() };
    } else if (hidden) {
      cfg.encoder = { type: "mlp", hidden };
      cfg.decoder = { type: "mlp", hidden: [...hidden].reverse() };
    }
  } else {
    const prev = base.encoder.type === "conv" ? base.encoder : undefined;
    const enc: NetworkConfig = {
      type: "conv",
      channels: (o.channels as number[] | undefined) ?? prev?.channels ?? [32, 64],
      kernel: (o.kernel as number | undefined) ?? prev?.kernel ?? 4,
      stride: (o.stride as number | undefined) ?? prev?.stride ?? 2,
      residualBlocks: (o.resBlocks as number | undefined) ?? prev?.residualBlocks ?? 0,
      hidden: hidden ?? prev?.hidden ?? [],
    };
    const padding = (o.padding as number | undefined) ?? prev?.padding;
    if (padding !== undefined) enc.padding = padding;
    // a conv config file stays as it is (decoder included) unless a conv flag changes it
    if (!prev || convFlags.length || hidden) {
      cfg.encoder = enc;
      cfg.decoder = { ...enc, channels: [...enc.channels].reverse(), hidden: [...enc.hidden].reverse() };
    }
  }

  // likelihood
  if (given("likelihood")) cfg.likelihood = likelihoodFrom(o.likelihood as (typeof LIKELIHOOD_CHOICES)[number], o);
  else if (given("mixtures") && cfg.likelihood.type === "discretized-logistic") cfg.likelihood = { ...cfg.likelihood, mixtures: o.mixtures as number };
  else if (given("sigma") && cfg.likelihood.type === "gaussian" && cfg.likelihood.variance === "fixed") cfg.likelihood = { ...cfg.likelihood, sigma: o.sigma as number };
  else if (given("mixtures")) throw new VaekitError("--mixtures needs --likelihood discretized-logistic");
  else if (given("sigma")) throw new VaekitError("--sigma needs --likelihood gaussian-fixed");
  if (given("arKernel") || given("arHidden")) {
    if (cfg.likelihood.type !== "bernoulli") throw new VaekitError(`--${given("arKernel") ? "ar-kernel" : "ar-hidden"} needs --likelihood bernoulli`);
    const prev = cfg.likelihood.autoregressive;
    cfg.likelihood = { type: "bernoulli", autoregressive: { kernel: (o.arKernel as number | undefined) ?? prev?.kernel ?? 5, hidden: (o.arHidden as number | undefined) ?? prev?.hidden ?? 16 } };
  }

  // objective and KL schedule
  const objFlags = ["objective", "iwaeK", "freeBits", "klWarmup", "klCycle", "klRamp", "klCycles"].filter(given);
  if (objFlags.length) {
    const prev = cfg.objective;
    const type = (o.objective as "elbo" | "iwae" | undefined) ?? prev?.type ?? (given("iwaeK") ? "iwae" : "elbo");
    const obj: ObjectiveConfig = {
      type,
      k: type === "iwae" ? ((o.iwaeK as number | undefined) ?? (prev?.type === "iwae" ? prev.k : 5)) : 1,
      freeBits: (o.freeBits as number | undefined) ?? prev?.freeBits ?? 0,
      klSchedule: prev?.klSchedule ?? { type: "constant" },
    };
    if (given("iwaeK") && type !== "iwae") throw new VaekitError("--iwae-k needs --objective iwae");
    if (given("klWarmup") && given("klCycle")) throw new VaekitError("choose one of --kl-warmup and --kl-cycle");
    if (given("klWarmup")) obj.klSchedule = { type: "linear", warmupSteps: o.klWarmup as number };
    else if (given("klCycle")) obj.klSchedule = { type: "cyclical", periodSteps: o.klCycle as number, rampFraction: o.klRamp as number, cycles: o.klCycles as number };
    else if (given("klRamp") || given("klCycles")) {
      if (obj.klSchedule.type !== "cyclical") throw new VaekitError("--kl-ramp and --kl-cycles need --kl-cycle");
      obj.klSchedule = { ...obj.klSchedule, rampFraction: given("klRamp") ? (o.klRamp as number) : obj.klSchedule.rampFraction, cycles: given("klCycles") ? (o.klCycles as number) : obj.klSchedule.cycles };
    }
    cfg.objective = obj;
  }
  applyLatentFlags(cfg, o, given);
  return parseVaeConfig(cfg, "model flags");
}

/** --prior/--posterior/--latents and their options: change cfg where a flag was given. */
function applyLatentFlags(cfg: VaeConfig, o: Record<string, unknown>, given: (name: string) => boolean): void {
  // prior
  if (given("prior")) {
    cfg.prior = o.prior === "vamp" ? { type: "vamp", components: (o.vampComponents as number | undefined) ?? 500, pseudoInputs: "sigmoid" } : { type: "standard-normal" };
  }
  if (given("vampComponents")) {
    if (cfg.prior.type !== "vamp") throw new VaekitError("--vamp-components needs --prior vamp");
    cfg.prior = { ...cfg.prior, components: o.vampComponents as number };
  }

  // posterior
  const flowFlags = ["flowSteps", "flowHidden", "flowContext"].filter(given);
  if (given("posterior") && o.posterior === "gaussian") {
    if (flowFlags.length) throw new VaekitError(`--${kebab(flowFlags[0])} needs --posterior iaf`);
    delete cfg.posterior;
  } else if (given("posterior") || flowFlags.length) {
    const prev = cfg.posterior?.type === "iaf" ? cfg.posterior : undefined;
    if (!given("posterior") && !prev) throw new VaekitError(`--${kebab(flowFlags[0])} needs --posterior iaf`);
    cfg.posterior = {
      type: "iaf",
      steps: (o.flowSteps as number | undefined) ?? prev?.steps ?? 4,
      hidden: (o.flowHidden as number[] | undefined) ?? prev?.hidden ?? [256],
      context: (o.flowContext as number | undefined) ?? prev?.context ?? 32,
    };
  }

  // hierarchy
  if (given("latents")) {
    if (given("latent")) throw new VaekitError("choose one of --latent and --latents");
    const sizes = o.latents as number[];
    cfg.latentDim = sizes[0];
    if (sizes.length === 1) delete cfg.hierarchy;
    else cfg.hierarchy = { latents: sizes.slice(1), hidden: cfg.hierarchy?.hidden ?? [256], merge: cfg.hierarchy?.merge ?? "residual" };
  }
  const ladderFlags = ["ladderHidden", "ladderMerge"].filter(given);
  if (ladderFlags.length) {
    if (!cfg.hierarchy) throw new VaekitError(`--${kebab(ladderFlags[0])} needs a ladder VAE: give --latents with two or more sizes`);
    if (given("ladderHidden")) cfg.hierarchy = { ...cfg.hierarchy, hidden: o.ladderHidden as number[] };
    if (given("ladderMerge")) cfg.hierarchy = { ...cfg.hierarchy, merge: o.ladderMerge as "precision" | "residual" };
  }
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
