/** Image generation and editing through the latent space: interpolate, traverse, manifold, attributes, edit, arithmetic. */
import { Command, Option } from "commander";
import { VaekitError } from "../../errors.js";
import { loadModel } from "../../models/files.js";
import { makeInference, type Inference } from "../../models/inference.js";
import type { ModelBundle } from "../../models/io.js";
import { createImage } from "../../io/image.js";
import { writePng } from "../../io/files.js";
import {
  ACTIVE_UNIT_THRESHOLD,
  interpolationPath,
  latentActivity,
  latentPlane,
  latentSum,
  linspace,
  manifoldLatents,
  row,
  traversalLatents,
  unitsByActivity,
} from "../../apps/images/latent.js";
import { ATTRIBUTES_KEY, applyDirection, attributeDirection, computeAttributes, readAttributes } from "../../apps/images/attributes.js";
import { loadImageData, readModelInput, readModelInputs, resaveModel, trainingDataSpec, type InputOptions } from "../../apps/images/files.js";
import { dataHelp, startEngine, withCommon, writeGrid } from "../common.js";
import { choiceArg, floatArg, intArg } from "../options.js";

const FIT_MODES = ["resize", "crop", "pad"] as const;

/** Options every command that reads image files shares. */
function withInputOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--fit <mode>", "how images reach the model's size: resize|crop|pad").default("resize").argParser(choiceArg(FIT_MODES)))
    .option("--invert", "invert pixel values (dark-on-light drawings for a light-on-dark model)", false);
}

const dataOption = (which = "") =>
  new Option("--data <spec|folder>", `${dataHelp}; or a folder of images (sub-folders = labels); default: the model's training data${which}`);

function inputOptions(o: { fit: InputOptions["fit"]; invert: boolean }): InputOptions {
  return { fit: o.fit, invert: o.invert };
}

/** Latent means of a dataset's first `limit` examples (default: the model's training data, test split). */
async function encodeData(inf: Inference, bundle: ModelBundle, spec: string | undefined, limit: number, split: "train" | "test" = "test") {
  const ds = loadImageData(spec ?? trainingDataSpec(bundle), split, bundle.config, limit);
  if (ds.n < 2) throw new VaekitError(`${ds.name}: need at least 2 examples, got ${ds.n}`);
  return { ds, mu: (await inf.encode(ds.x)).mu };
}

function writeImage(path: string, x: Float32Array, shape: readonly number[]): void {
  writePng(path, createImage(shape[1], shape[0], shape[2] as 1 | 3, x));
  process.stderr.write(`wrote ${path}\n`);
}

export function registerImages(program: Command): void {
  withInputOptions(
    withCommon(
      program
        .command("interpolate")
        .description("decode the path between two images' latent means; one row: input, steps, input")
        .requiredOption("--model <path>", "model directory or .safetensors file")
        .requiredOption("--from <image>", "first image (PNG or JPEG)")
        .requiredOption("--to <image>", "last image")
        .option("--steps <n>", "decoded images along the path, ends included", intArg(2), 10)
        .option("--slerp", "spherical instead of linear interpolation", false)
        .option("--no-inputs", "leave the two input images out of the row")
        .option("--out <file>", "output PNG", "interpolation.png"),
    ),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const inf = makeInference(loadModel(o.model));
    const D = inf.config.inputShape.reduce((a, b) => a * b, 1);
    const x = readModelInputs([o.from, o.to], inf.config, inputOptions(o));
    const { mu } = await inf.encode(x);
    const L = inf.config.latentDim;
    const frames = await inf.decode(interpolationPath(row(mu, L, 0), row(mu, L, 1), o.steps, o.slerp));
    const rowImages = o.inputs ? concat(x.subarray(0, D), frames, x.subarray(D)) : frames;
    writeGrid(o.out, rowImages, inf.config.inputShape, rowImages.length / D);
    process.stderr.write(`wrote ${o.out}\n`);
  });

  withInputOptions(withCommon(
    program
      .command("traverse")
      .description("one row per latent unit, most active first: decode with that unit swept over [-range, range]")
      .requiredOption("--model <path>", "model directory or .safetensors file")
      .addOption(dataOption(", test split"))
      .option("--limit <n>", "examples used to measure unit activity", intArg(2), 2000)
      .option("--rows <n>", "units shown (default: up to 10)", intArg(1))
      .option("--steps <n>", "values per row", intArg(2), 9)
      .option("--range <x>", "sweep from -x to x", floatArg(0, true), 3)
      .option("--image <file>", "start from this image's latent mean instead of the prior mean 0")
      .option("--json", "print the units and their activity as JSON", false)
      .option("--out <file>", "output PNG", "traversal.png"),
  )).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const bundle = loadModel(o.model);
    const inf = makeInference(bundle);
    const L = inf.config.latentDim;
    const activity = latentActivity((await encodeData(inf, bundle, o.data, o.limit)).mu, L);
    const units = unitsByActivity(activity).slice(0, o.rows ?? Math.min(L, 10));
    const base = o.image ? (await inf.encode(readModelInput(o.image, inf.config, inputOptions(o)))).mu : new Float32Array(L);
    writeGrid(o.out, await inf.decode(traversalLatents(base, units, linspace(-o.range, o.range, o.steps))), inf.config.inputShape, o.steps);
    const rows = units.map((u) => ({ unit: u, activity: activity[u], active: activity[u] > ACTIVE_UNIT_THRESHOLD }));
    const nActive = Array.from(activity).filter((a) => a > ACTIVE_UNIT_THRESHOLD).length;
    if (o.json) process.stdout.write(JSON.stringify({ active_units: nActive, latent_dim: L, rows }) + "\n");
    else {
      process.stdout.write(`${nActive} of ${L} units active (activity > ${ACTIVE_UNIT_THRESHOLD}); rows, top to bottom:\n`);
      for (const r of rows) process.stdout.write(`  unit ${r.unit}: activity ${r.activity.toFixed(4)}${r.active ? "" : " (inactive)"}\n`);
    }
    process.stderr.write(`wrote ${o.out}\n`);
  });

  withCommon(
    program
      .command("manifold")
      .description("n×n grid of decodes over a 2-D latent, or over the two principal directions of the data's latent means")
      .requiredOption("--model <path>", "model directory or .safetensors file")
      .addOption(dataOption(", test split"))
      .option("--limit <n>", "examples used to find the principal directions", intArg(2), 2000)
      .option("--size <n>", "grid size n", intArg(2), 15)
      .option("--range <x>", "grid spans [-x, x] in latent units (2-D) or data standard deviations along each direction", floatArg(0, true), 2)
      .option("--out <file>", "output PNG", "manifold.png"),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const bundle = loadModel(o.model);
    const inf = makeInference(bundle);
    const L = inf.config.latentDim;
    const plane = latentPlane(L, L === 2 ? undefined : (await encodeData(inf, bundle, o.data, o.limit)).mu);
    writeGrid(o.out, await inf.decode(manifoldLatents(plane, o.size, o.range)), inf.config.inputShape, o.size);
    process.stderr.write(`wrote ${o.out}\n`);
  });

  withCommon(
    program
      .command("attributes")
      .description("attribute vectors from labelled data (class mean minus the rest, in latent space), stored in the model file")
      .requiredOption("--model <path>", "model directory or .safetensors file (re-saved in place)")
      .addOption(dataOption())
      .addOption(new Option("--split <split>", "train|test").default("train").argParser(choiceArg(["train", "test"] as const)))
      .option("--limit <n>", "use at most n examples", intArg(2), 10000)
      .option("--json", "print the attributes as JSON", false),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const bundle = loadModel(o.model);
    const inf = makeInference(bundle);
    const { ds, mu } = await encodeData(inf, bundle, o.data, o.limit, o.split);
    if (!ds.labels) throw new VaekitError(`${ds.name} has no labels (give a labelled dataset or a folder of class sub-folders)`);
    const classNames = ds.classNames ?? Array.from({ length: Math.max(...ds.labels) + 1 }, (_, k) => String(k));
    const set = computeAttributes(mu, inf.config.latentDim, ds.labels, classNames, o.data ?? trainingDataSpec(bundle));
    const path = await resaveModel(o.model, { ...bundle, extras: { ...bundle.extras, [ATTRIBUTES_KEY]: set } });
    if (o.json) process.stdout.write(JSON.stringify(set) + "\n");
    else {
      process.stdout.write(`${set.classes.length} attribute vectors from ${ds.n} examples of ${ds.name}:\n`);
      for (const c of set.classes) process.stdout.write(`  ${c.name}: ${c.count} examples, |vector| ${Math.hypot(...c.vector).toFixed(3)}\n`);
    }
    process.stderr.write(`stored in ${path}\n`);
  });

  withInputOptions(
    withCommon(
      program
        .command("edit")
        .description('move an image along a stored attribute vector ("NAME", or "FROM->TO" for the difference of two class means)')
        .requiredOption("--model <path>", "model directory or .safetensors file with attributes (see `vaekit attributes`)")
        .requiredOption("--image <file>", "image to edit (PNG or JPEG)")
        .requiredOption("--attribute <name>", 'attribute name, or "FROM->TO"')
        .option("--strength <s>", "how far to move (negative: away)", floatArg(), 1)
        .option("--out <file>", "edited image (PNG, the model's size)", "edited.png")
        .option("--grid <file>", "also write a row: input, then strengths 0..s")
        .option("--steps <n>", "edits in the --grid row", intArg(2), 6),
    ),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const bundle = loadModel(o.model);
    const set = readAttributes(bundle.extras, bundle.config.latentDim, o.model);
    if (!set) throw new VaekitError(`${o.model} has no attribute vectors; run \`vaekit attributes --model ${o.model} --data <labelled data>\` first`);
    const direction = attributeDirection(set, o.attribute);
    const inf = makeInference(bundle);
    const x = readModelInput(o.image, inf.config, inputOptions(o));
    const z = (await inf.encode(x)).mu;
    writeImage(o.out, await inf.decode(applyDirection(z, direction, o.strength)), inf.config.inputShape);
    if (o.grid) {
      const L = inf.config.latentDim;
      const zs = new Float32Array(o.steps * L);
      linspace(0, o.strength, o.steps).forEach((s, i) => zs.set(applyDirection(z, direction, s), i * L));
      writeGrid(o.grid, concat(x, await inf.decode(zs)), inf.config.inputShape, o.steps + 1);
      process.stderr.write(`wrote ${o.grid}\n`);
    }
  });

  withInputOptions(
    withCommon(
      program
        .command("arithmetic")
        .description("latent arithmetic on images' latent means, e.g. `vaekit arithmetic --model M a.png - b.png + c.png`")
        .argument("<expression...>", "images joined by + and - (spaces around the signs)")
        .requiredOption("--model <path>", "model directory or .safetensors file")
        .option("--out <file>", "result image (PNG, the model's size)", "arithmetic.png")
        .option("--grid <file>", "also write a row: the inputs, then the result"),
    ),
  ).action(async (expression: string[], o) => {
    const terms = parseExpression(expression);
    await startEngine(o.device, o.quiet);
    const inf = makeInference(loadModel(o.model));
    const L = inf.config.latentDim;
    const x = readModelInputs(terms.map((t) => t.path), inf.config, inputOptions(o));
    const { mu } = await inf.encode(x);
    const result = await inf.decode(latentSum(terms.map((t, i) => ({ sign: t.sign, z: row(mu, L, i) }))));
    writeImage(o.out, result, inf.config.inputShape);
    if (o.grid) {
      writeGrid(o.grid, concat(x, result), inf.config.inputShape, terms.length + 1);
      process.stderr.write(`wrote ${o.grid}\n`);
    }
  });
}

/** "a.png - b.png + c.png" (as separate arguments) → signed terms; the first term may carry a sign. */
export function parseExpression(args: readonly string[]): { sign: 1 | -1; path: string }[] {
  const terms: { sign: 1 | -1; path: string }[] = [];
  let sign: 1 | -1 | undefined = 1;
  for (const arg of args) {
    if (arg === "+" || arg === "-") {
      if (sign !== undefined && terms.length > 0) throw new VaekitError(`arithmetic: two signs in a row near "${arg}"`);
      sign = arg === "+" ? 1 : -1;
    } else {
      if (sign === undefined) throw new VaekitError(`arithmetic: expected + or - before "${arg}"`);
      terms.push({ sign, path: arg });
      sign = undefined;
    }
  }
  if (sign !== undefined) throw new VaekitError("arithmetic: the expression ends with a sign");
  return terms;
}

function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
