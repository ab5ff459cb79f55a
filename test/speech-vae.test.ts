import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { elboTerms } from "../src/objectives/elbo.js";
import { initEngine, jitted, keyFromWords, np, random, tree, type Array } from "../src/engine/index.js";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";
import { decodePng } from "../src/io/image.js";
import { saveModel } from "../src/models/files.js";
import { buildVae, type VaeParams } from "../src/models/vae.js";
import { DiagGaussian } from "../src/distributions/index.js";
import { espeakVersion, generateEspeakDataset } from "../src/apps/speech/espeak.js";
import { melReconstructionScores, scoreSpeechModel } from "../src/apps/speech/evaluate.js";
import { DEFAULT_SPEECH_FEATURES } from "../src/apps/speech/features.js";
import { loadSpeechModel } from "../src/apps/speech/files.js";
import { makeSpeechGenerator } from "../src/apps/speech/generate.js";
import {
  DEFAULT_SPEECH_TRAINING,
  fitLengthModel,
  maskedElboTerms,
  predictLength,
  speechInfoOf,
  speechVaeConfig,
  type SpeechModel,
  type SpeechModelInfo,
} from "../src/apps/speech/model.js";
import { runSpeechTraining } from "../src/apps/speech/run.js";
import { audioToSegment, segmentContentLogMel, segmentToWavBytes } from "../src/apps/speech/synthesis.js";
import { decodeWav, encodeWav16 } from "../src/apps/speech/wav.js";

await initEngine("wasm");

const features = DEFAULT_SPEECH_FEATURES;
const root = mkdtempSync(join(tmpdir(), "vaekit-speech-vae-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A vowel-like test utterance: 0.1 s silence, `seconds` of a 140 Hz harmonic tone with a fade, 0.1 s silence. */
function vowel(seconds: number, rate = 16000, f0 = 140): Float32Array {
  const pad = Math.round(0.1 * rate);
  const n = Math.round(seconds * rate);
  const out = new Float32Array(n + 2 * pad);
  for (let i = 0; i < n; i++) {
    const env = Math.sin((Math.PI * i) / n);
    let v = 0;
    for (let h = 1; h <= 20; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / rate) / h;
    out[pad + i] = 0.3 * env * v;
  }
  return out;
}

/** An untrained but complete speech model (tiny MLP), saved like a trained one. */
function tinyModel(): SpeechModel {
  const config = speechVaeConfig({ network: "mlp", latentDim: 4, hidden: [16] });
  const info: SpeechModelInfo = {
    format: "vaekit.speech/1",
    features,
    frames: 64,
    trimDb: 40,
    peak: 0.9,
    length: { weights: [0, 0, 0, 0], bias: 40, min: 20, max: 64, rmse: 0 },
    trainVoices: [],
    testVoices: [],
    words: [],
  };
  return { bundle: { config, params: buildVae(config).init(random.key(1)), extras: { speech: info } }, info };
}

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, "../src/cli/main.js"), ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("masked objective", () => {
  const config = { ...speechVaeConfig({ network: "mlp", nMels: 3, frames: 5, latentDim: 2, hidden: [6] }) };
  const model = buildVae(config);
  const params = model.init(random.key(3));
  const B = 2, D = 15, F = 5;
  const x = Float32Array.from({ length: B * D }, (_, i) => ((i * 37) % 11) / 11);
  const mask = Float32Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);

  test("recon is −Σ log N(x; μ, σ²) over real frames only, KL unchanged", () => {
    const terms = jitted((p: VaeParams, xb: Array, mb: Array, key: Array) => {
      const t = maskedElboTerms(model, p, xb, mb, key);
      return [t.recon, t.kl];
    });
    const decoded = jitted((p: VaeParams, xb: Array, key: Array) => {
      const q = model.encode(p, xb);
      const d = model.decode(p, q.sample(key)) as DiagGaussian;
      return [d.loc.ref, d.logVar.ref];
    });
    const full = jitted((p: VaeParams, xb: Array, key: Array) => {
      const t = elboTerms(model, p, xb, key);
      return [t.recon, t.kl];
    });
    const key = () => keyFromWords(7, 9);
    const [recon, kl] = (terms(tree.ref(params), np.array(x).reshape([B, D]), np.array(mask).reshape([B, F]), key()) as Array[]).map((a) => a.dataSync());
    const [loc, logVar] = (decoded(tree.ref(params), np.array(x).reshape([B, D]), key()) as Array[]).map((a) => a.dataSync());
    for (let b = 0; b < B; b++) {
      let expected = 0;
      for (let m = 0; m < 3; m++) {
        for (let f = 0; f < F; f++) {
          if (!mask[b * F + f]) continue;
          const i = b * D + m * F + f; // mel-major: value of band m, frame f
          const v = Math.exp(logVar[i]);
          expected += 0.5 * (Math.log(2 * Math.PI * v) + (x[i] - loc[i]) ** 2 / v);
        }
      }
      assert.ok(Math.abs(recon[b] - expected) < 1e-3 * Math.max(1, Math.abs(expected)), `example ${b}: ${recon[b]} vs ${expected}`);
    }
    // With every frame real it equals the library's unmasked ELBO terms.
    const [r1, k1] = (terms(tree.ref(params), np.array(x).reshape([B, D]), np.ones([B, F]), key()) as Array[]).map((a) => a.dataSync());
    const [r2, k2] = (full(tree.ref(params), np.array(x).reshape([B, D]), key()) as Array[]).map((a) => a.dataSync());
    for (let b = 0; b < B; b++) {
      assert.ok(Math.abs(r1[b] - r2[b]) < 1e-3 * Math.max(1, Math.abs(r2[b])));
      assert.ok(Math.abs(k1[b] - k2[b]) < 1e-5);
      assert.ok(Math.abs(kl[b] - k2[b]) < 1e-5);
    }
  });
});

describe("length read-out and synthesis", () => {
  test("the length model recovers a linear relation and clamps to the training range", () => {
    const L = 3;
    const n = 50;
    const rng = new Rng(5);
    const zs = Float32Array.from({ length: n * L }, () => rng.normal() * 2);
    const lengths = globalThis.Array.from({ length: n }, (_, i) => 40 + 5 * zs[i * L] - 3 * zs[i * L + 2]);
    const m = fitLengthModel(zs, lengths, L, 0);
    assert.ok(Math.abs(m.weights[0] - 5) < 1e-6 && Math.abs(m.weights[1]) < 1e-6 && Math.abs(m.weights[2] + 3) < 1e-6 && Math.abs(m.bias - 40) < 1e-6);
    assert.ok(m.rmse < 1e-6);
    assert.equal(predictLength(m, [0, 0, 0]), 40);
    assert.equal(predictLength(m, [100, 0, 0]), m.max);
    assert.equal(predictLength(m, [-100, 0, 0]), m.min);
  });

  test("audio → segment → WAV bytes: the word's length is found and the WAV has the matching duration", () => {
    const format = { features, frames: 64 };
    const seg = audioToSegment(vowel(0.3), format);
    // 0.3 s of tone = 37.5 hops; the fades fall below −40 dB only in their first/last few frames.
    assert.ok(seg.length >= 30 && seg.length <= 40, `length ${seg.length}`);
    assert.ok(Math.abs(seg.start - 12.5) <= 4, `start ${seg.start}`);
    assert.ok(!seg.cropped);
    const bytes = segmentToWavBytes(seg.data, seg.length, format, { iterations: 4 });
    const wav = decodeWav(bytes, "generated");
    assert.equal(wav.sampleRate, 16000);
    assert.equal(wav.encoding, "16-bit PCM");
    assert.equal(wav.channels[0].length, (seg.length + 8 - 1) * features.hop);
    // The synthesised content keeps the input's spectral shape (mel domain, dB scale).
    const content = segmentContentLogMel(seg.data, seg.length, format);
    assert.equal(content.frames, seg.length);
    const long = audioToSegment(vowel(0.8), format);
    assert.ok(long.cropped && long.length === 64);
    assert.throws(() => audioToSegment(new Float32Array(1000), format), /silent/);
  });

  test("mel scores are zero for a perfect reconstruction and ignore padded frames", () => {
    const rng = new Rng(2);
    const data = Float32Array.from({ length: 64 * 64 }, () => 0.2 + 0.6 * rng.uniform());
    const length = 40;
    const mask = Float32Array.from({ length: 64 }, (_, f) => (f < length ? 1 : 0));
    const set = { count: 1, data, mask };
    const perfect = melReconstructionScores(set, data.slice(), features);
    assert.equal(perfect.lsdDb, 0);
    assert.equal(perfect.sc, 0);
    const garbage = data.slice();
    for (let m = 0; m < 64; m++) for (let f = length; f < 64; f++) garbage[m * 64 + f] = 1;
    assert.equal(melReconstructionScores(set, garbage, features).lsdDb, 0);
    // A uniform +8 dB error (0.1 of the 80 dB range) on real frames: LSD 8 dB, SC |10^(8/20) − 1|.
    const louder = melReconstructionScores(set, data.map((v) => v + 0.1), features);
    assert.ok(Math.abs(louder.lsdDb - 8) < 1e-3, `${louder.lsdDb}`);
    assert.ok(Math.abs(louder.sc - (10 ** 0.4 - 1)) < 1e-4, `${louder.sc}`);
  });

  test("speech settings are validated when a model is loaded", () => {
    const m = tinyModel();
    assert.deepEqual(speechInfoOf(m.bundle), m.info);
    assert.throws(() => speechInfoOf({ ...m.bundle, extras: {} }, "x.safetensors"), (e: Error) => e instanceof VaekitError && /x.safetensors is not a speech model/.test(e.message));
    assert.throws(() => speechInfoOf({ ...m.bundle, extras: { speech: { ...m.info, frames: 32 } } }), /does not match 64 mel bands × 32 frames/);
  });
});

describe("audio CLI", () => {
  const dir = join(root, "cli");
  const modelDir = join(dir, "model");
  const m = tinyModel();
  const a = join(dir, "a.wav");
  const b = join(dir, "b.wav");
  before(async () => {
    await saveModel(modelDir, m.bundle); // creates dir
    writeFileSync(a, encodeWav16(vowel(0.3, 22050, 120), 22050)); // a different rate: resampled on reading
    writeFileSync(b, encodeWav16(vowel(0.45, 16000, 220), 16000));
  });

  function assertWavAndPng(wavPath: string) {
    const wav = decodeWav(new Uint8Array(readFileSync(wavPath)), wavPath);
    assert.equal(wav.sampleRate, 16000);
    assert.equal(wav.channels.length, 1);
    assert.ok(wav.channels[0].length > 8 * features.hop);
    assert.ok(wav.channels[0].every(Number.isFinite));
    const png = decodePng(new Uint8Array(readFileSync(wavPath.replace(/\.wav$/, ".png"))));
    assert.equal(png.height, 64 * 3);
    assert.equal(png.width, (wav.channels[0].length / features.hop + 1) * 3);
  }

  test("reconstruct writes a valid WAV and a spectrogram PNG beside it", () => {
    const out = join(dir, "rec", "out.wav");
    const r = cli("audio", "reconstruct", a, out, "--model", modelDir, "--iterations", "4");
    assert.equal(r.code, 0, r.stderr);
    assertWavAndPng(out);
  });

  test("morph writes one WAV + PNG per step; lengths run from a's to b's", () => {
    const out = join(dir, "morph");
    const r = cli("audio", "morph", a, b, "--model", modelDir, "--steps", "3", "--out", out, "--iterations", "4");
    assert.equal(r.code, 0, r.stderr);
    const lengths = [1, 2, 3].map((i) => {
      const p = join(out, `morph_${i}.wav`);
      assertWavAndPng(p);
      return decodeWav(new Uint8Array(readFileSync(p))).channels[0].length;
    });
    assert.ok(lengths[0] < lengths[1] && lengths[1] < lengths[2], `lengths ${lengths}`);
  });

  test("sample writes n WAV + PNG pairs", () => {
    const out = join(dir, "samples");
    const r = cli("audio", "sample", "-n", "2", "--model", modelDir, "--out", out, "--iterations", "2");
    assert.equal(r.code, 0, r.stderr);
    for (const i of [1, 2]) assertWavAndPng(join(out, `sample_${i}.wav`));
  });

  test("a malformed or truncated WAV is one clear error line and exit code 1", () => {
    const bad = join(dir, "bad.wav");
    writeFileSync(bad, "this is not audio at all");
    let r = cli("audio", "reconstruct", bad, join(dir, "never.wav"), "--model", modelDir);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^vaekit: .*bad\.wav: not a WAV file/);
    const truncated = join(dir, "truncated.wav");
    writeFileSync(truncated, readFileSync(a).subarray(0, 2000));
    r = cli("audio", "morph", a, truncated, "--model", modelDir, "--out", join(dir, "never"));
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /truncated\.wav: truncated WAV data/);
    assert.ok(!existsSync(join(dir, "never.wav")) && !existsSync(join(dir, "never")));
    r = cli("audio", "reconstruct", a, join(dir, "x.wav"), "--model", join(dir, "nope"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^vaekit: model not found/);
  });
});

describe("training on espeak-ng speech", () => {
  const haveEspeak = espeakVersion() !== null;
  const skip = haveEspeak ? false : "espeak-ng not installed (apt-get install espeak-ng)";
  const data = join(root, "espeak");
  // 4 words × 4 voices × 2 pitches: 24 training utterances, 8 of the held-out voice en+f2.
  const spec = { words: ["zero", "one", "two", "three"], voices: ["en-us+m1", "en-us+f3", "en+m2", "en+f2"], pitches: [40, 60], speeds: [170] };
  const train = (config: ReturnType<typeof speechVaeConfig>, epochs: number, out: string) =>
    runSpeechTraining({
      manifest: join(data, "manifest.json"),
      outDir: join(root, out),
      config,
      training: { ...DEFAULT_SPEECH_TRAINING, epochs, batchSize: 8, klWarmup: 5 },
      testVoices: ["en+f2"],
    });

  test("a short run lowers held-out log-spectral distance below 12 dB and below the mean-segment baseline", { skip }, async (t) => {
    await generateEspeakDataset(spec, data);
    // The MLP variant of the speech config: the same masked objective and pipeline as the
    // convolutional default, fast enough for a test (the conv model is measured by bench:speech).
    const config = speechVaeConfig({ network: "mlp", latentDim: 8, hidden: [128] });
    const run = await train(config, 40, "trained");
    assert.equal(run.train.count, 24);
    assert.equal(run.test.count, 8);
    const untrained: SpeechModel = { ...run.model, bundle: { ...run.model.bundle, params: buildVae(config).init(random.key(0)) } };
    const before = await scoreSpeechModel(untrained, run.test);
    const afterTraining = await scoreSpeechModel(run.model, run.test);
    // Baseline: every held-out segment "reconstructed" as the mean training segment.
    const D = 64 * 64;
    const mean = new Float32Array(D);
    for (let i = 0; i < run.train.count; i++) for (let d = 0; d < D; d++) mean[d] += run.train.data[i * D + d] / run.train.count;
    const meanRec = new Float32Array(run.test.data.length);
    for (let i = 0; i < run.test.count; i++) meanRec.set(mean, i * D);
    const baseline = melReconstructionScores(run.test, meanRec, features);
    t.diagnostic(`held-out LSD ${before.mel.lsdDb.toFixed(2)} → ${afterTraining.mel.lsdDb.toFixed(2)} dB (mean segment ${baseline.lsdDb.toFixed(2)}), neg-ELBO/frame ${before.negElboPerFrame.toFixed(1)} → ${afterTraining.negElboPerFrame.toFixed(1)}`);
    assert.ok(afterTraining.mel.lsdDb < 12, `held-out LSD ${afterTraining.mel.lsdDb.toFixed(2)} dB (untrained ${before.mel.lsdDb.toFixed(2)} dB)`);
    assert.ok(afterTraining.mel.lsdDb < baseline.lsdDb - 2, `LSD ${afterTraining.mel.lsdDb.toFixed(2)} vs mean-segment baseline ${baseline.lsdDb.toFixed(2)}`);
    assert.ok(afterTraining.negElboPerFrame < before.negElboPerFrame);
    const h = run.history;
    assert.ok(h[h.length - 1].val_neg_elbo_per_frame! < h[0].val_neg_elbo_per_frame!);
    // The saved model is complete: it loads as a speech model and reconstructs like the one in memory.
    const out = join(root, "trained");
    assert.ok(existsSync(join(out, "model.safetensors")) && existsSync(join(out, "metrics.jsonl")));
    const loaded = loadSpeechModel(out);
    assert.deepEqual(loaded.info.testVoices, ["en+f2"]);
    const seg = { data: run.test.data.subarray(0, D), length: run.test.mask.subarray(0, 64).reduce((s, v) => s + v, 0) };
    const a = await makeSpeechGenerator(run.model).reconstruct(seg.data, seg.length);
    const b = await makeSpeechGenerator(loaded).reconstruct(seg.data, seg.length);
    assert.equal(b.length, seg.length);
    assert.ok(a.data.every((v, i) => Math.abs(v - b.data[i]) < 1e-5));
  });

  test("the convolutional default config trains with the masked objective", { skip }, async () => {
    await generateEspeakDataset(spec, data);
    const config = speechVaeConfig({ latentDim: 8 });
    assert.equal(config.encoder.type, "conv");
    const run = await train(config, 2, "trained-conv");
    const h = run.history;
    assert.ok(h.every((m) => Number.isFinite(m.val_neg_elbo_per_frame)));
    assert.ok(h[1].train_recon_per_frame < h[0].train_recon_per_frame);
    assert.ok(h[1].val_neg_elbo_per_frame! < h[0].val_neg_elbo_per_frame!);
  });
});
