/** `vaekit audio …`: the speech application (espeak-ng dataset, spectrogram VAE, reconstruct, sample, morph). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { VaekitError } from "../../errors.js";
import { parseVaeConfig, type VaeConfig } from "../../models/config.js";
import { defaultSpeechCacheDir } from "../../apps/speech/espeak.js";
import { loadSpeechSegments } from "../../apps/speech/dataset.js";
import { scoreSpeechModel } from "../../apps/speech/evaluate.js";
import { formatOf, loadSpeechModel, readSpeechSegment, writeSpeechOutput } from "../../apps/speech/files.js";
import { makeSpeechGenerator, type GeneratedSegment } from "../../apps/speech/generate.js";
import { makeSpeechDatasetMain } from "../../apps/speech/make-dataset.js";
import { DEFAULT_SPEECH_TRAINING, selectSegments, speechVaeConfig, type SpeechModel } from "../../apps/speech/model.js";
import { runSpeechTraining } from "../../apps/speech/run.js";
import { segmentContentLogMel, segmentToAudio, type SegmentFormat } from "../../apps/speech/synthesis.js";
import { startEngine, withCommon } from "../common.js";
import { choiceArg, floatArg, intArg } from "../options.js";
import { progressBar, type Progress } from "../progress.js";

const DEFAULT_MODEL = "runs/speech";

function defaultManifest(): string {
  return join(defaultSpeechCacheDir(), "manifest.json");
}

function manifestPath(data: string | undefined): string {
  const path = data ?? defaultManifest();
  const manifest = path.endsWith(".json") ? path : join(path, "manifest.json");
  if (!existsSync(manifest)) {
    throw new VaekitError(`no speech dataset at ${manifest}; generate it with "vaekit audio dataset${data ? ` --out ${data}` : ""}"`);
  }
  return manifest;
}

function parseSizes(flag: string, v: string): number[] {
  const xs = v.split(",").map(Number);
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new VaekitError(`${flag} expects sizes like 512,256, got "${v}"`);
  return xs;
}

function parseList(v: string): string[] {
  return v.split(",").map((s) => s.trim()).filter(Boolean);
}

/** The model config: the speech default shaped by --network/--channels/--hidden, or --config (JSON); --latent/--beta override either. */
function speechConfigFrom(o: Record<string, unknown>, frames: number): VaeConfig {
  let config: VaeConfig;
  if (o.config) {
    const shaping = ["network", "channels", "hidden"].filter((k) => o[k] !== undefined);
    if (shaping.length) throw new VaekitError(`--${shaping[0]} shapes the default model; with --config set the layers in the config file`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(o.config as string, "utf8"));
    } catch (e) {
      throw new VaekitError(`--config ${o.config}: ${(e as Error).message.split("\n")[0]}`);
    }
    config = parseVaeConfig(json, o.config as string);
  } else {
    config = speechVaeConfig({
      frames,
      network: o.network as "conv" | "mlp" | undefined,
      channels: o.channels ? parseSizes("--channels", o.channels as string) : undefined,
      hidden: o.hidden ? parseSizes("--hidden", o.hidden as string) : undefined,
    });
  }
  if (o.latent !== undefined) config = { ...config, latentDim: o.latent as number };
  if (o.beta !== undefined) config = { ...config, beta: o.beta as number };
  return parseVaeConfig(config, "speech model config");
}

function report(paths: { wav: string; png: string }): void {
  process.stderr.write(`wrote ${paths.wav} and ${paths.png}\n`);
}

function writeGenerated(path: string, seg: GeneratedSegment, format: SegmentFormat, o: { iterations: number; seed: number }) {
  const audio = segmentToAudio(seg.data, seg.length, format, { iterations: o.iterations, seed: o.seed });
  const logMel = segmentContentLogMel(seg.data, seg.length, format, 4);
  report(writeSpeechOutput(path, audio, logMel, { minDb: format.features.minDb, maxDb: format.features.maxDb }));
}

function readInput(path: string, model: SpeechModel) {
  const seg = readSpeechSegment(path, formatOf(model.info));
  if (seg.cropped) {
    const ms = Math.round((model.info.frames * model.info.features.hop * 1000) / model.info.features.sampleRate);
    process.stderr.write(`note: ${path} has more speech than the model's ${ms} ms window; only the middle ${ms} ms is used\n`);
  }
  return seg;
}

function vocoderOptions(cmd: Command): Command {
  return cmd
    .option("--iterations <n>", "Griffin-Lim iterations", intArg(1), 60)
    .option("--seed <n>", "random seed (Griffin-Lim phase, samples)", intArg(0), 0);
}

export function registerAudio(program: Command): void {
  const audio = program.command("audio").description("speech: a spectrogram VAE on espeak-ng words (dataset, train, eval, reconstruct, sample, morph)");

  audio
    .command("dataset")
    .description("speak the espeak-ng word set into a WAV folder with manifest.json (needs the espeak-ng package)")
    .option("--preset <name>", "default (20 words × 12 voices × 3 pitches × 2 speeds) or tiny", "default")
    .option("--out <dir>", `output folder (default ${defaultSpeechCacheDir()}[-preset])`)
    .option("--concurrency <n>", "parallel espeak-ng processes", intArg(1), 2)
    .action(async (o) => {
      await makeSpeechDatasetMain(["--preset", o.preset, "--concurrency", String(o.concurrency), ...(o.out ? ["--out", o.out] : [])]);
    });

  withCommon(
    audio
      .command("train")
      .description("train the spectrogram VAE on held-in voices; writes model.safetensors, config.json, metrics.jsonl to --out")
      .option("--data <manifest|dir>", "speech dataset (manifest.json or its folder)", undefined)
      .option("--config <file>", "model config JSON (inputShape [64, frames, 1], gaussian likelihood); --latent/--beta override it")
      .option("--network <kind>", "conv|mlp (default conv)", choiceArg(["conv", "mlp"] as const))
      .option("--channels <sizes>", "conv channels after each stride-2 layer, decoder mirrored (default 16,32,64)")
      .option("--hidden <sizes>", "dense hidden sizes, decoder mirrored (default 256 for conv, 512,256 for mlp)")
      .option("--latent <n>", "latent dimensions (default 32)", intArg(1))
      .option("--beta <x>", "weight of the KL term", floatArg(0))
      .option("--frames <n>", "segment width in frames (8 ms each)", intArg(8), 64)
      .option("--epochs <n>", "epochs", intArg(1), DEFAULT_SPEECH_TRAINING.epochs)
      .option("--batch-size <n>", "batch size", intArg(1), DEFAULT_SPEECH_TRAINING.batchSize)
      .option("--lr <x>", "Adam learning rate", floatArg(0, true), DEFAULT_SPEECH_TRAINING.lr)
      .option("--kl-warmup <n>", "epochs over which the KL weight rises from 0 to beta", intArg(0), DEFAULT_SPEECH_TRAINING.klWarmup)
      .option("--clip-norm <x>", "clip the global gradient norm (0 = off)", floatArg(0), DEFAULT_SPEECH_TRAINING.clipNorm)
      .option("--seed <n>", "random seed", intArg(0), 0)
      .option("--test-voices <list>", "comma-separated voices held out for evaluation (default: a quarter, drawn with --seed)")
      .option("--out <dir>", "output directory", DEFAULT_MODEL),
  ).action(async (o) => {
    const manifest = manifestPath(o.data);
    const config = speechConfigFrom(o, o.frames);
    await startEngine(o.device, o.quiet);
    const training = {
      ...DEFAULT_SPEECH_TRAINING,
      epochs: o.epochs,
      batchSize: o.batchSize,
      lr: o.lr,
      seed: o.seed,
      clipNorm: o.clipNorm,
      klWarmup: o.klWarmup,
    };
    if (!o.quiet) process.stderr.write(`loading ${manifest}\n`);
    const ui: { bar: Progress | null; batches: number } = { bar: null, batches: 1 };
    const result = await runSpeechTraining({
      manifest,
      outDir: o.out,
      config,
      training,
      testVoices: o.testVoices ? parseList(o.testVoices) : undefined,
      splitSeed: o.seed,
      onData: (segments, split) => {
        ui.batches = Math.floor(split.train.length / Math.min(training.batchSize, split.train.length));
        if (!o.quiet) {
          process.stderr.write(
            `${segments.count} utterances; training on ${split.trainVoices.length} voices (${split.train.length}), ` +
              `held out ${split.testVoices.join(", ")} (${split.test.length})\n`,
          );
        }
        ui.bar = progressBar("train", training.epochs * ui.batches, o.quiet);
      },
      hooks: {
        onStep: ({ epoch, batch, loss }) => ui.bar?.update((epoch - 1) * ui.batches + batch, { epoch, loss }),
        onEpoch: (_p, m) => {
          if (o.quiet) return;
          ui.bar?.stop();
          process.stdout.write(JSON.stringify(m) + "\n");
          if (m.epoch < training.epochs) {
            ui.bar = progressBar("train", training.epochs * ui.batches, o.quiet);
            ui.bar.update(m.epoch * ui.batches);
          }
        },
      },
    });
    ui.bar?.stop();
    const scores = await scoreSpeechModel(result.model, result.test, o.seed);
    process.stdout.write(
      `held-out voices (${scores.n} utterances): log-spectral distance ${scores.mel.lsdDb.toFixed(2)} dB, ` +
        `spectral convergence ${scores.mel.sc.toFixed(3)}, negative ELBO ${scores.negElboPerFrame.toFixed(2)} nats/frame\n`,
    );
    process.stderr.write(`model in ${join(o.out, "model.safetensors")}\n`);
  });

  withCommon(
    audio
      .command("eval")
      .description("log-spectral distance, spectral convergence and negative ELBO per frame on the model's held-out voices")
      .option("--model <path>", "model directory or .safetensors file", DEFAULT_MODEL)
      .option("--data <manifest|dir>", "speech dataset (default: the generated espeak-ng set)")
      .option("--seed <n>", "seed of the ELBO's latent sample", intArg(0), 0)
      .option("--json", "print one JSON object", false),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const model = loadSpeechModel(o.model);
    const manifest = manifestPath(o.data);
    const segments = loadSpeechSegments(manifest, { frames: model.info.frames, trimDb: model.info.trimDb, peak: model.info.peak, features: model.info.features });
    const held = new Set(model.info.testVoices);
    const indices = segments.entries.flatMap((e, i) => (held.has(e.voice) ? [i] : []));
    if (indices.length === 0) throw new VaekitError(`${manifest} has no utterances of the model's held-out voices (${model.info.testVoices.join(", ") || "none recorded"})`);
    const set = selectSegments({ count: segments.count, data: segments.data, mask: segments.mask }, indices);
    const s = await scoreSpeechModel(model, set, o.seed);
    const out = {
      voices: model.info.testVoices,
      n: s.n,
      lsd_db: s.mel.lsdDb,
      spectral_convergence: s.mel.sc,
      neg_elbo_per_frame: s.negElboPerFrame,
      recon_per_frame: s.reconPerFrame,
      kl_per_frame: s.klPerFrame,
    };
    if (o.json) process.stdout.write(JSON.stringify(out) + "\n");
    else {
      process.stdout.write(
        `held-out voices ${out.voices.join(", ")} (${out.n} utterances):\n` +
          `  log-spectral distance ${out.lsd_db.toFixed(2)} dB, spectral convergence ${out.spectral_convergence.toFixed(3)}\n` +
          `  negative ELBO ${out.neg_elbo_per_frame.toFixed(2)} nats/frame = reconstruction ${out.recon_per_frame.toFixed(2)} + KL ${out.kl_per_frame.toFixed(2)}\n`,
      );
    }
  });

  vocoderOptions(
    withCommon(
      audio
        .command("reconstruct")
        .description("encode a WAV and decode it again; writes the WAV and a spectrogram PNG beside it")
        .argument("<in.wav>", "input WAV (any rate and channel count)")
        .argument("<out.wav>", "output WAV (16-bit mono)")
        .option("--model <path>", "model directory or .safetensors file", DEFAULT_MODEL),
    ),
  ).action(async (input: string, output: string, o) => {
    await startEngine(o.device, o.quiet); // before the model: its weights must live on the chosen device
    const model = loadSpeechModel(o.model);
    const seg = readInput(input, model);
    const rec = await makeSpeechGenerator(model).reconstruct(seg.data, seg.length);
    writeGenerated(output, rec, formatOf(model.info), o);
  });

  vocoderOptions(
    withCommon(
      audio
        .command("sample")
        .description("decode samples from the prior into WAVs with spectrogram PNGs")
        .option("--model <path>", "model directory or .safetensors file", DEFAULT_MODEL)
        .option("-n, --count <n>", "number of samples", intArg(1), 8)
        .option("--temperature <t>", "scale of the prior's standard deviation", floatArg(0), 1)
        .option("--out <dir>", "output folder", "speech-samples"),
    ),
  ).action(async (o) => {
    await startEngine(o.device, o.quiet);
    const model = loadSpeechModel(o.model);
    const samples = await makeSpeechGenerator(model).sample(o.count, o.seed, o.temperature);
    const digits = String(o.count).length;
    samples.forEach((s, i) => writeGenerated(join(o.out, `sample_${String(i + 1).padStart(digits, "0")}.wav`), s, formatOf(model.info), o));
  });

  vocoderOptions(
    withCommon(
      audio
        .command("morph")
        .description("interpolate between two utterances in latent space; writes one WAV + PNG per step")
        .argument("<a.wav>", "first utterance")
        .argument("<b.wav>", "last utterance")
        .option("--model <path>", "model directory or .safetensors file", DEFAULT_MODEL)
        .option("--steps <n>", "points on the path, both ends included", intArg(2), 5)
        .option("--out <dir>", "output folder", "speech-morph"),
    ),
  ).action(async (a: string, b: string, o) => {
    await startEngine(o.device, o.quiet);
    const model = loadSpeechModel(o.model);
    const segA = readInput(a, model);
    const segB = readInput(b, model);
    const steps = await makeSpeechGenerator(model).morph(segA, segB, o.steps);
    const digits = String(o.steps).length;
    steps.forEach((s, i) => writeGenerated(join(o.out, `morph_${String(i + 1).padStart(digits, "0")}.wav`), s, formatOf(model.info), o));
  });

  for (const c of audio.commands) c.exitOverride();
  audio.exitOverride();
}
