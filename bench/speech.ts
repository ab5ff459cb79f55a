/**
 * `npm run bench:speech`: the spectrogram VAE on the espeak-ng word set, evaluated on held-out
 * voices. Generates the dataset if missing (needs espeak-ng), trains the default speech model
 * (or --config), and writes results/speech.md with
 *  - negative ELBO per frame (masked: real frames only) on held-out and training voices,
 *  - log-spectral distance and spectral convergence of reconstructions, mel domain (the model
 *    alone) with the mean-training-segment baseline, and waveform domain (after mel inversion +
 *    Griffin–Lim, against the original audio's STFT) with the vocoder's own ceiling,
 * and a few WAVs + spectrogram PNGs under results/speech/ (reconstructions, prior samples, a morph).
 * `vaekit audio train` + `vaekit audio eval` reproduce the training and the mel-domain numbers.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { initEngine } from "../src/engine/index.js";
import { VaekitError } from "../src/errors.js";
import { choiceArg, intArg, floatArg } from "../src/cli/options.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { writePng } from "../src/io/files.js";
import { parseVaeConfig, type VaeConfig } from "../src/models/config.js";
import { normalizePeak } from "../src/apps/speech/audio.js";
import { DEFAULT_ESPEAK_SPEC, defaultSpeechCacheDir, generateEspeakDataset } from "../src/apps/speech/espeak.js";
import { melReconstructionScores, scoreSpeechModel, waveformReconstructionScores, type SpectralScores, type WaveformReference } from "../src/apps/speech/evaluate.js";
import { formatOf, writeSpeechOutput } from "../src/apps/speech/files.js";
import { makeSpeechGenerator, type GeneratedSegment } from "../src/apps/speech/generate.js";
import { DEFAULT_SPEECH_TRAINING, selectSegments, speechVaeConfig, type SpeechModel } from "../src/apps/speech/model.js";
import { runSpeechTraining } from "../src/apps/speech/run.js";
import { spectrogramImage } from "../src/apps/speech/spectrogram-image.js";
import { audioToSegment, segmentContentLogMel, segmentToAudio } from "../src/apps/speech/synthesis.js";
import { readWavFileMono } from "../src/apps/speech/wav-file.js";

interface Options {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  network: "conv" | "mlp";
  config?: string;
  waveformCount: number;
  iterations: number;
  data?: string;
  model: string;
  out: string;
  quiet: boolean;
}

function parseOptions(argv: string[]): Options {
  const program = new Command("bench-speech")
    .option("--epochs <n>", "training epochs", intArg(1), 40)
    .option("--batch-size <n>", "batch size", intArg(1), 16)
    .option("--lr <x>", "Adam learning rate", floatArg(0, true), DEFAULT_SPEECH_TRAINING.lr)
    .option("--seed <n>", "seed (voice split, init, shuffling)", intArg(0), 0)
    .option("--network <kind>", "conv|mlp default architecture (ignored with --config)", choiceArg(["conv", "mlp"] as const), "conv")
    .option("--config <file>", "model config JSON instead of the default")
    .option("--waveform-count <n>", "held-out utterances scored in the waveform domain (Griffin-Lim each)", intArg(1), 60)
    .option("--iterations <n>", "Griffin-Lim iterations", intArg(1), 60)
    .option("--data <manifest>", "speech dataset manifest (default: the generated espeak-ng set)")
    .option("--model <dir>", "where the trained model is written", "runs/bench-speech")
    .option("--out <dir>", "directory for speech.md and speech/", "results")
    .option("--quiet", "no progress output", false)
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2));
  program.parse(argv);
  return program.opts<Options>();
}

const f2 = (v: number) => v.toFixed(2);
const f3 = (v: number) => v.toFixed(3);

async function ensureDataset(o: Options): Promise<string> {
  if (o.data) return o.data;
  const dir = defaultSpeechCacheDir();
  const manifest = join(dir, "manifest.json");
  if (!existsSync(manifest)) {
    if (!o.quiet) process.stderr.write(`generating the espeak-ng dataset in ${dir}\n`);
    await generateEspeakDataset(DEFAULT_ESPEAK_SPEC, dir);
  }
  return manifest;
}

/** Evenly spaced picks of `count` out of `n`. */
function spread(n: number, count: number): number[] {
  const k = Math.min(n, count);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

function writeOutput(dir: string, name: string, model: SpeechModel, seg: { data: Float32Array; length: number }, iterations: number) {
  const format = formatOf(model.info);
  const audio = segmentToAudio(seg.data, seg.length, format, { iterations });
  const logMel = segmentContentLogMel(seg.data, seg.length, format, 4);
  writeSpeechOutput(join(dir, `${name}.wav`), audio, logMel, { minDb: format.features.minDb, maxDb: format.features.maxDb });
  return name;
}

/** Spectrograms side by side with a 2-frame gap (one PNG for a morph). */
function stripImage(model: SpeechModel, segs: GeneratedSegment[]) {
  const format = formatOf(model.info);
  const nMels = format.features.nMels;
  const parts = segs.map((s) => segmentContentLogMel(s.data, s.length, format, 1));
  const frames = parts.reduce((s, p) => s + p.frames, 0);
  const db = new Float32Array(frames * nMels).fill(format.features.minDb);
  let at = 0;
  for (const p of parts) {
    db.set(p.db, at * nMels);
    at += p.frames;
  }
  return spectrogramImage({ frames, nMels, db }, { minDb: format.features.minDb, maxDb: format.features.maxDb, scale: 2 });
}

function row(name: string, s: SpectralScores) {
  return `| ${name} | ${f2(s.lsdDb)} | ${f3(s.sc)} |`;
}

async function main() {
  const o = parseOptions(process.argv);
  await initEngine("wasm");
  const manifest = await ensureDataset(o);
  let config: VaeConfig;
  if (o.config) config = parseVaeConfig(JSON.parse(readFileSync(o.config, "utf8")), o.config);
  else config = speechVaeConfig({ network: o.network });
  const training = { ...DEFAULT_SPEECH_TRAINING, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const run = await runSpeechTraining({
    manifest,
    outDir: o.model,
    config,
    training,
    splitSeed: o.seed,
    onData: (segments, split) => {
      if (!o.quiet) process.stderr.write(`${segments.count} utterances; held out ${split.testVoices.join(", ")} (${split.test.length})\n`);
    },
    hooks: {
      onEpoch: (_p, m) => {
        if (!o.quiet) process.stderr.write(`epoch ${m.epoch}/${o.epochs}: train recon ${f2(m.train_recon_per_frame)} KL ${f2(m.train_kl_per_frame)} nats/frame, held-out neg-ELBO ${f2(m.val_neg_elbo_per_frame ?? NaN)} (${m.seconds.toFixed(0)} s)\n`);
      },
    },
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6;
  const { model, segments, split, train, test } = run;
  const features = model.info.features;

  // Likelihood and mel-domain reconstruction on held-out and (a sample of) training voices.
  const held = await scoreSpeechModel(model, test, o.seed);
  const trainPick = spread(train.count, test.count);
  const trainScores = await scoreSpeechModel(model, selectSegments(train, trainPick), o.seed);
  const D = features.nMels * model.info.frames;
  const mean = new Float32Array(D);
  for (let i = 0; i < train.count; i++) for (let d = 0; d < D; d++) mean[d] += train.data[i * D + d] / train.count;
  const meanRec = new Float32Array(test.data.length);
  for (let i = 0; i < test.count; i++) meanRec.set(mean, i * D);
  const meanBaseline = melReconstructionScores(test, meanRec, features);

  // Waveform domain on a spread of held-out utterances: re-read each WAV for its reference STFT.
  const format = formatOf(model.info);
  const root = dirname(manifest);
  const picks = spread(test.count, o.waveformCount);
  const refs: WaveformReference[] = [];
  const inputs = new Float32Array(picks.length * D);
  const recs = new Float32Array(picks.length * D);
  picks.forEach((p, i) => {
    const entry = segments.entries[split.test[p]];
    const audio = readWavFileMono(join(root, entry.file), features.sampleRate);
    const seg = audioToSegment(audio.samples, format);
    refs.push({ samples: normalizePeak(audio.samples, model.info.peak), start: seg.start, length: seg.length });
    inputs.set(test.data.subarray(p * D, (p + 1) * D), i * D);
    recs.set(held.reconstructions.subarray(p * D, (p + 1) * D), i * D);
  });
  const gl = { iterations: o.iterations };
  const waveModel = waveformReconstructionScores(refs, recs, format, gl);
  const waveCeiling = waveformReconstructionScores(refs, inputs, format, gl);

  // Listening material: two held-out voices saying the same word (input vocoded, reconstruction), a morph between them, prior samples.
  const media = join(o.out, "speech");
  rmSync(media, { recursive: true, force: true });
  mkdirSync(media, { recursive: true });
  const gen = makeSpeechGenerator(model);
  const word = "seven";
  const [voiceA, voiceB] = split.testVoices;
  const find = (voice: string) => {
    const i = Array.from(split.test).findIndex((j) => segments.entries[j].word === word && segments.entries[j].voice === voice && segments.entries[j].pitch === 50);
    if (i < 0) throw new VaekitError(`no held-out "${word}" by ${voice} at pitch 50`);
    const length = test.mask.subarray(i * model.info.frames, (i + 1) * model.info.frames).reduce((s, v) => s + v, 0);
    return { data: test.data.slice(i * D, (i + 1) * D), length, entry: segments.entries[split.test[i]] };
  };
  const a = find(voiceA);
  const b = find(voiceB);
  const safe = (v: string) => v.replace(/[^a-z0-9]+/gi, "-");
  const files: string[] = [];
  for (const [tag, s] of [["a", a], ["b", b]] as const) {
    files.push(writeOutput(media, `${tag}-${safe(s.entry.voice)}-input`, model, s, o.iterations));
    files.push(writeOutput(media, `${tag}-${safe(s.entry.voice)}-reconstruction`, model, await gen.reconstruct(s.data, s.length), o.iterations));
  }
  const morph = await gen.morph(a, b, 5);
  morph.forEach((s, i) => files.push(writeOutput(media, `morph-${i + 1}`, model, s, o.iterations)));
  writePng(join(media, "morph-strip.png"), stripImage(model, morph));
  const samples = await gen.sample(4, o.seed, 1);
  samples.forEach((s, i) => files.push(writeOutput(media, `sample-${i + 1}`, model, s, o.iterations)));
  writePng(join(media, "samples-strip.png"), stripImage(model, samples));
  const mediaBytes = readdirSync(media).reduce((s, f) => s + statSync(join(media, f)).size, 0);

  const last = run.history[run.history.length - 1];
  const cfgLine = JSON.stringify({ encoder: config.encoder, decoder: config.decoder, latentDim: config.latentDim, likelihood: config.likelihood, beta: config.beta });
  const md = `# Speech: spectrogram VAE on espeak-ng words

Generated by \`npm run bench:speech\` (bench/speech.ts) on ${new Date().toISOString().slice(0, 10)}.

- Data: ${segments.count} utterances (${DEFAULT_ESPEAK_SPEC.words.length} words × ${DEFAULT_ESPEAK_SPEC.voices.length} voices × ${DEFAULT_ESPEAK_SPEC.pitches.length} pitches × ${DEFAULT_ESPEAK_SPEC.speeds.length} speeds) spoken by espeak-ng, 16 kHz,
  ${features.nMels}-band log-mel (${features.nFft}-point STFT, hop ${features.hop}), dB range [${features.minDb}, ${features.maxDb}] → [0, 1];
  segments of ${model.info.frames} frames (${((model.info.frames * features.hop) / features.sampleRate).toFixed(3)} s), silence trimmed, shorter words padded and masked (${segments.croppedCount} longer ones centre-cropped).
- Held-out voices (never trained on): ${split.testVoices.join(", ")} — ${test.count} utterances; training: ${split.trainVoices.length} voices, ${train.count} utterances.
- Model: \`${cfgLine}\`
- Training: ${o.epochs} epochs, batch ${o.batchSize}, Adam ${o.lr}, KL warm-up ${training.klWarmup} epochs, decoder σ initialised at ${training.decoderSigmaInit}; masked ELBO (padding frames do not count).
  ${trainSeconds.toFixed(0)} s wall, ${cpuSeconds.toFixed(0)} s CPU on ${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"} (wasm; load average ${loadavg()[0].toFixed(1)} at the end, shared machine).

## Likelihood (masked: real frames only; 1 frame = ${features.nMels} normalised log-mel values)

| voices | negative ELBO (nats/frame) | reconstruction | KL |
|---|---:|---:|---:|
| held out (${held.n} utterances) | ${f2(held.negElboPerFrame)} | ${f2(held.reconPerFrame)} | ${f2(held.klPerFrame)} |
| training (${trainScores.n} utterances) | ${f2(trainScores.negElboPerFrame)} | ${f2(trainScores.reconPerFrame)} | ${f2(trainScores.klPerFrame)} |

Densities of continuous values can be negative; these are in the model's units (1 = 80 dB).
Last epoch: train reconstruction ${f2(last.train_recon_per_frame)}, KL ${f2(last.train_kl_per_frame)} nats/frame.

## Reconstruction of held-out voices (posterior mean)

Mel domain, all ${held.n} held-out utterances (what the VAE itself reproduces):

| | log-spectral distance (dB) | spectral convergence |
|---|---:|---:|
${row("VAE reconstruction", held.mel)}
${row("mean training segment (baseline)", meanBaseline)}
${row("VAE on training voices (" + trainScores.n + ")", trainScores.mel)}

Waveform domain, ${picks.length} held-out utterances: STFT magnitude (${features.nFft / 2 + 1} bins) of the audio that comes out
(mel inversion + ${o.iterations} Griffin–Lim iterations) against the original recording over the same frames:

| | log-spectral distance (dB) | spectral convergence |
|---|---:|---:|
${row("VAE reconstruction → audio", waveModel)}
${row("input log-mel → audio (vocoder ceiling)", waveCeiling)}

## Listening (results/speech/, ${(mediaBytes / 1024).toFixed(0)} KB)

Each WAV has its spectrogram PNG beside it (time → right, frequency ↑, ${features.minDb}…${features.maxDb} dB).

- "${word}" by two held-out voices, input (vocoded) and reconstruction: ${files.slice(0, 4).map((f) => `\`${f}.wav\``).join(", ")}
- Morph between them in 5 steps (latent interpolation, length interpolated): \`morph-1.wav\` … \`morph-5.wav\`, all in \`morph-strip.png\`
- Prior samples (length read from z, training RMSE ${f2(model.info.length.rmse)} frames): \`sample-1.wav\` … \`sample-4.wav\`, \`samples-strip.png\`

Reproduce: \`vaekit audio train --epochs ${o.epochs} --batch-size ${o.batchSize} --out ${o.model}\` then \`vaekit audio eval --model ${o.model}\`.
`;
  mkdirSync(o.out, { recursive: true });
  writeFileAtomic(join(o.out, "speech.md"), md);
  writeFileAtomic(join(o.out, "speech.json"), JSON.stringify({
    heldOut: { negElboPerFrame: held.negElboPerFrame, reconPerFrame: held.reconPerFrame, klPerFrame: held.klPerFrame, lsdDb: held.mel.lsdDb, sc: held.mel.sc, n: held.n },
    train: { negElboPerFrame: trainScores.negElboPerFrame, lsdDb: trainScores.mel.lsdDb, sc: trainScores.mel.sc, n: trainScores.n },
    meanBaseline: { lsdDb: meanBaseline.lsdDb, sc: meanBaseline.sc },
    waveform: { model: { lsdDb: waveModel.lsdDb, sc: waveModel.sc }, vocoderCeiling: { lsdDb: waveCeiling.lsdDb, sc: waveCeiling.sc }, n: picks.length },
    config,
    training,
    trainSeconds,
    cpuSeconds,
    history: run.history,
  }, null, 1) + "\n");
  process.stdout.write(md);
}

main().then(
  () => process.exit(0),
  (e) => {
    if (e instanceof VaekitError) {
      process.stderr.write(`bench:speech: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    throw e;
  },
);
