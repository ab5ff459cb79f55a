import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";
import { downmixToMono, resample } from "../src/apps/speech/audio.js";
import { splitByVoice, loadSpeechSegments } from "../src/apps/speech/dataset.js";
import { espeakVersion, generateEspeakDataset, TINY_ESPEAK_SPEC } from "../src/apps/speech/espeak.js";
import {
  DEFAULT_SPEECH_FEATURES,
  fixedLengthSegment,
  logMelSpectrogram,
  logMelToAudio,
  segmentToLogMel,
  type LogMel,
} from "../src/apps/speech/features.js";
import { griffinLim } from "../src/apps/speech/griffin-lim.js";
import { applyFilterbank, hzToMel, melFilterbank, melToHz, melToLinearPower } from "../src/apps/speech/mel.js";
import { logSpectralDistance, spectralConvergence } from "../src/apps/speech/metrics.js";
import { spectrogramImage } from "../src/apps/speech/spectrogram-image.js";
import { hannWindow, istft, magnitude, stft } from "../src/apps/speech/stft.js";
import { decodeWav, decodeWavMono, encodeWav16, WaveFileClass } from "../src/apps/speech/wav.js";
import { readWavFile, readWavFileMono, writeWavFile } from "../src/apps/speech/wav-file.js";

const WaveFile = WaveFileClass;

function sine(freq: number, rate: number, n: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / (to - from));
}

/** Frequency of a sinusoid by projecting onto a fine grid of complex exponentials (independent of the STFT code). */
function dominantFrequency(x: Float32Array, rate: number, lo: number, hi: number, step: number): number {
  let best = lo;
  let bestPower = -1;
  for (let f = lo; f <= hi; f += step) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < x.length; i++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / x.length); // taper against leakage
      re += w * x[i] * Math.cos((2 * Math.PI * f * i) / rate);
      im -= w * x[i] * Math.sin((2 * Math.PI * f * i) / rate);
    }
    const p = re * re + im * im;
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}

function errorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof VaekitError, `expected VaekitError, got ${err}`);
    assert.ok(!err.message.includes("\n"), "error message must be one line");
    return err.message;
  }
  assert.fail("expected an error");
}

describe("WAV IO", () => {
  test("16-bit write → read round trip is exact (mono and stereo, bytes and files)", () => {
    const rng = new Rng(1);
    const ints = Int16Array.from({ length: 1001 }, () => rng.int(65536) - 32768);
    ints[0] = -32768;
    ints[1] = 32767;
    const left = Float32Array.from(ints, (v) => v / 32768);
    const right = Float32Array.from(ints, (v) => -v / 32768).map((v) => Math.min(v, 32767 / 32768));
    const bytes = encodeWav16(left, 22050);
    assert.equal(bytes.length, 44 + 2 * left.length); // canonical header + 2 bytes per sample
    const mono = decodeWav(bytes);
    assert.equal(mono.sampleRate, 22050);
    assert.equal(mono.encoding, "16-bit PCM");
    assert.deepEqual(mono.channels[0], left);

    const dir = mkdtempSync(join(tmpdir(), "vaekit-wav-"));
    try {
      const path = join(dir, "stereo.wav");
      writeWavFile(path, { sampleRate: 8000, channels: [left, right] });
      const stereo = readWavFile(path);
      assert.equal(stereo.channels.length, 2);
      assert.deepEqual(stereo.channels[0], left);
      assert.deepEqual(stereo.channels[1], right);
      // Mono read averages the channels.
      const down = readWavFileMono(path);
      for (let i = 0; i < left.length; i++) assert.equal(down.samples[i], Math.fround((left[i] + right[i]) / 2));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("writing clips to the 16-bit range and rounds to nearest", () => {
    const decoded = decodeWav(encodeWav16(Float32Array.of(2, -2, 0.5, 1.4 / 32768, 1.6 / 32768), 8000));
    assert.deepEqual(Array.from(decoded.channels[0]), [32767 / 32768, -1, 0.5, 1 / 32768, 2 / 32768]);
  });

  test("reads 8-bit, 24-bit and float WAVs with the right scaling", () => {
    const cases: [string, number[], number[]][] = [
      ["8", [0, 128, 255], [-1, 0, 127 / 128]],
      ["24", [-8388608, 4194304, 8388607], [-1, 0.5, 8388607 / 8388608]],
      ["32f", [0.25, -0.75, 1], [0.25, -0.75, 1]],
      ["64", [0.125, -1, 0.5], [0.125, -1, 0.5]],
    ];
    for (const [code, raw, expected] of cases) {
      const w = new WaveFile();
      w.fromScratch(1, 16000, code, raw);
      const decoded = decodeWav(w.toBuffer());
      assert.deepEqual(Array.from(decoded.channels[0]), expected.map(Math.fround), `bit depth ${code}`);
    }
  });

  test("reads WAVE_FORMAT_EXTENSIBLE float (hand-built header)", () => {
    const values = [0.5, -0.25, 0.75, 1]; // stereo, 2 frames, interleaved
    const bytes = new Uint8Array(12 + 8 + 40 + 8 + 4 * values.length);
    const view = new DataView(bytes.buffer);
    const ascii = (at: number, s: string) => [...s].forEach((ch, i) => view.setUint8(at + i, ch.charCodeAt(0)));
    ascii(0, "RIFF");
    view.setUint32(4, bytes.length - 8, true);
    ascii(8, "WAVE");
    ascii(12, "fmt ");
    view.setUint32(16, 40, true);
    view.setUint16(20, 0xfffe, true); // WAVE_FORMAT_EXTENSIBLE
    view.setUint16(22, 2, true); // channels
    view.setUint32(24, 44100, true);
    view.setUint32(28, 44100 * 8, true); // byte rate
    view.setUint16(32, 8, true); // block align
    view.setUint16(34, 32, true); // bits per sample
    view.setUint16(36, 22, true); // cbSize
    view.setUint16(38, 32, true); // valid bits
    view.setUint32(40, 3, true); // channel mask: front left + right
    view.setUint32(44, 3, true); // subformat GUID starts with the format tag: IEEE float
    [0x00100000, 0xaa000080, 0x719b3800].forEach((w, i) => view.setUint32(48 + 4 * i, w, true));
    ascii(60, "data");
    view.setUint32(64, 4 * values.length, true);
    values.forEach((v, i) => view.setFloat32(68 + 4 * i, v, true));
    const decoded = decodeWav(bytes, "ext.wav");
    assert.equal(decoded.encoding, "32-bit float");
    assert.deepEqual(decoded.channels.map((c) => Array.from(c)), [[0.5, 0.75], [-0.25, 1]]);
    assert.deepEqual(Array.from(decodeWavMono(bytes).samples), [0.125, 0.875]);
  });

  test("downmix averages channels; decodeWavMono resamples on request", () => {
    assert.deepEqual(Array.from(downmixToMono([Float32Array.of(1, 0.5), Float32Array.of(0, -0.5)])), [0.5, 0]);
    const bytes = encodeWav16([sine(300, 22050, 22050), sine(300, 22050, 22050)], 22050);
    const audio = decodeWavMono(bytes, "tone.wav", 16000);
    assert.equal(audio.sampleRate, 16000);
    assert.equal(audio.samples.length, 16000);
  });

  test("malformed WAVs fail with one clear line naming the file", () => {
    const good = encodeWav16(sine(440, 8000, 800), 8000);
    const badMagic = good.slice();
    badMagic.set([0x4a, 0x55, 0x4e, 0x4b], 0); // "JUNK"
    assert.match(errorMessage(() => decodeWav(badMagic, "a.wav")), /^a\.wav: not a WAV file \(missing RIFF\/WAVE header\)$/);
    assert.match(errorMessage(() => decodeWav(new Uint8Array(5), "tiny.wav")), /^tiny\.wav: not a WAV file/);
    assert.match(errorMessage(() => decodeWav(good.subarray(0, 1000), "cut.wav")), /^cut\.wav: truncated WAV data \(header promises 1600 bytes, file has 956\)$/);
    assert.match(errorMessage(() => decodeWav(good.subarray(0, 30), "hdr.wav")), /^hdr\.wav: malformed WAV/);
    const mulaw = new WaveFile();
    mulaw.fromScratch(1, 8000, "16", [0, 1000, -1000, 5]);
    mulaw.toMuLaw();
    assert.match(errorMessage(() => decodeWav(mulaw.toBuffer(), "mu.wav")), /^mu\.wav: unsupported WAV encoding \(µ-law, 8 bits per sample\)/);
    const dir = mkdtempSync(join(tmpdir(), "vaekit-wav-"));
    try {
      const path = join(dir, "noise.wav");
      writeFileSync(path, "this is not audio at all");
      assert.ok(errorMessage(() => readWavFile(path)).startsWith(`${path}: not a WAV file`));
      assert.equal(errorMessage(() => readWavFile(join(dir, "missing.wav"))), `${join(dir, "missing.wav")}: no such file`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("resampling", () => {
  test("a sine keeps its frequency and level when downsampled and upsampled", () => {
    const down = resample(sine(440, 22050, 22050), 22050, 16000);
    assert.equal(down.length, 16000);
    assert.equal(dominantFrequency(down, 16000, 430, 450, 0.25), 440);
    assert.ok(Math.abs(rms(down, 1000, 15000) - 0.5 / Math.SQRT2) < 1e-3);
    const up = resample(sine(1234, 16000, 8000), 16000, 44100);
    assert.equal(up.length, 22050);
    assert.equal(dominantFrequency(up, 44100, 1224, 1244, 0.25), 1234);
    assert.ok(Math.abs(rms(up, 2000, 20000) - 0.5 / Math.SQRT2) < 1e-3);
  });

  test("content above the new Nyquist frequency is removed, not aliased", () => {
    // 10 kHz at 22.05 kHz would fold to 6 kHz at 16 kHz without the low-pass.
    const out = resample(sine(10000, 22050, 22050), 22050, 16000);
    assert.ok(rms(out, 1000, 15000) < 0.5 * 1e-3, `alias level ${rms(out, 1000, 15000)}`);
  });

  test("rejects non-integer rates", () => {
    assert.match(errorMessage(() => resample(new Float32Array(4), 44100.5, 16000)), /source sample rate must be a positive integer/);
  });
});

describe("STFT", () => {
  test("STFT → iSTFT round trip on a random signal is within 1e-4", () => {
    const rng = new Rng(7);
    const x = Float32Array.from({ length: 5000 }, () => 0.3 * rng.normal());
    for (const [nFft, hop] of [[512, 128], [512, 256], [256, 64], [64, 16]]) {
      const config = { nFft, hop };
      const y = istft(stft(x, config), config, x.length);
      let maxErr = 0;
      for (let i = 0; i < x.length; i++) maxErr = Math.max(maxErr, Math.abs(x[i] - y[i]));
      assert.ok(maxErr < 1e-4, `n_fft ${nFft} hop ${hop}: max error ${maxErr}`);
    }
  });

  test("frames match a direct DFT of the zero-padded, Hann-windowed signal", () => {
    const rng = new Rng(3);
    const x = Float32Array.from({ length: 300 }, () => rng.uniform() - 0.5);
    const nFft = 64;
    const hop = 16;
    const spec = stft(x, { nFft, hop });
    assert.equal(spec.frames, 1 + Math.floor(300 / hop));
    assert.equal(spec.bins, 33);
    const at = (t: number) => (t < 0 || t >= x.length ? 0 : x[t]);
    for (const f of [0, 5, spec.frames - 1]) {
      for (const k of [0, 1, 7, 32]) {
        let re = 0;
        let im = 0;
        for (let n = 0; n < nFft; n++) {
          const v = at(f * hop - nFft / 2 + n) * (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / nFft));
          re += v * Math.cos((2 * Math.PI * k * n) / nFft);
          im -= v * Math.sin((2 * Math.PI * k * n) / nFft);
        }
        assert.ok(Math.abs(spec.re[f * 33 + k] - re) < 1e-5 && Math.abs(spec.im[f * 33 + k] - im) < 1e-5, `frame ${f} bin ${k}`);
      }
    }
    assert.equal(hannWindow(4)[2], 1); // periodic Hann peaks at n/2
  });

  test("rejects a non-power-of-two FFT size", () => {
    assert.match(errorMessage(() => stft(new Float32Array(100), { nFft: 500, hop: 100 })), /n_fft must be a power of two/);
  });
});

describe("mel", () => {
  test("mel scales: known values and inverse", () => {
    assert.ok(Math.abs(hzToMel(1000, "slaney") - 15) < 1e-12);
    assert.ok(Math.abs(hzToMel(1000, "htk") - 2595 * Math.log10(1 + 1000 / 700)) < 1e-12);
    assert.ok(Math.abs(hzToMel(6400, "slaney") - 42) < 1e-12); // 15 + 27 at 6.4 kHz by construction
    for (const scale of ["slaney", "htk"] as const) {
      for (const hz of [0, 300, 999, 1000, 4321, 8000]) assert.ok(Math.abs(melToHz(hzToMel(hz, scale), scale) - hz) < 1e-6);
    }
  });

  test("filterbank rows are non-negative, non-empty and cover the band", () => {
    for (const scale of ["slaney", "htk"] as const) {
      const sampleRate = 16000;
      const nFft = 512;
      const fb = melFilterbank({ sampleRate, nFft, nMels: 64, fMin: 0, fMax: 8000, scale, norm: "none" });
      assert.equal(fb.weights.length, 64 * 257);
      for (let m = 0; m < 64; m++) {
        let sum = 0;
        for (let k = 0; k < 257; k++) {
          assert.ok(fb.weights[m * 257 + k] >= 0);
          sum += fb.weights[m * 257 + k];
        }
        assert.ok(sum > 0, `band ${m} is empty`);
      }
      // Peak-1 triangles sum to exactly 1 between the first and last centre frequencies,
      // and every bin strictly inside (fMin, fMax) has some weight.
      for (let k = 1; k < 256; k++) {
        const hz = (k * sampleRate) / nFft;
        let col = 0;
        for (let m = 0; m < 64; m++) col += fb.weights[m * 257 + k];
        assert.ok(col > 0, `${scale}: bin ${k} (${hz} Hz) is not covered`);
        if (hz >= fb.centersHz[0] && hz <= fb.centersHz[63]) assert.ok(Math.abs(col - 1) < 1e-5, `${scale}: bin ${k} sums to ${col}`);
      }
    }
    // Slaney area normalisation: a wide band's weights integrate to ~1 over frequency.
    const fb = melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 64 });
    let area = 0;
    for (let k = 0; k < 257; k++) area += fb.weights[60 * 257 + k] * (16000 / 512);
    assert.ok(Math.abs(area - 1) < 0.02, `area ${area}`);
  });

  test("too many bands for the FFT size is a clear error", () => {
    assert.match(errorMessage(() => melFilterbank({ sampleRate: 16000, nFft: 64, nMels: 128 })), /contains no FFT bin; use fewer mel bands or a larger n_fft/);
  });

  test("mel → linear is non-negative and exact for a flat spectrum", () => {
    const fb = melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, fMin: 100, fMax: 7000 });
    const flat = new Float32Array(2 * 257).fill(3);
    const back = melToLinearPower(applyFilterbank(flat, fb), fb);
    for (let k = 0; k < 257; k++) {
      const hz = (k * 16000) / 512;
      assert.ok(back[k] >= 0);
      if (hz >= fb.centersHz[0] && hz <= fb.centersHz[39]) assert.ok(Math.abs(back[k] - 3) < 1e-4, `bin ${k}: ${back[k]}`);
      if (hz <= 100 || hz >= 7000) assert.equal(back[k], 0);
    }
    // Refinement keeps non-negativity and reduces the mel-domain misfit on an uneven spectrum.
    const rng = new Rng(2);
    const uneven = Float32Array.from({ length: 257 }, () => rng.uniform() ** 4);
    const mel = applyFilterbank(uneven, fb);
    const misfit = (p: Float32Array) => applyFilterbank(p, fb).reduce((s, v, i) => s + (v - mel[i]) ** 2, 0);
    const plain = melToLinearPower(mel, fb);
    const refined = melToLinearPower(mel, fb, { refineIterations: 30 });
    assert.ok(refined.every((v) => v >= 0));
    assert.ok(misfit(refined) < misfit(plain));
  });
});

describe("Griffin-Lim and metrics", () => {
  test("metrics agree with their definitions", () => {
    const ref = Float32Array.of(1, 2, 3, 4);
    assert.equal(spectralConvergence(ref, ref), 0);
    assert.equal(spectralConvergence(ref, new Float32Array(4)), 1);
    assert.ok(Math.abs(spectralConvergence(ref, ref.map((v) => 1.1 * v)) - 0.1) < 1e-6);
    const louder = ref.map((v) => v * 10 ** (6 / 20));
    assert.ok(Math.abs(logSpectralDistance(ref, louder, 2) - 6) < 1e-5);
    // Per frame RMS in dB, then mean over frames: frame 0 differs by 20 dB in one of 2 bins.
    const est = Float32Array.of(10, 2, 3, 4);
    assert.ok(Math.abs(logSpectralDistance(ref, est, 2) - Math.sqrt(400 / 2) / 2) < 1e-5);
    assert.match(errorMessage(() => spectralConvergence(ref, Float32Array.of(1, 2))), /sizes differ/);
    assert.match(errorMessage(() => spectralConvergence(ref, Float32Array.of(1, 2, NaN, 4))), /estimate magnitude at index 2 is NaN/);
  });

  test("Griffin-Lim recovers a pure tone from its magnitude", () => {
    const config = { nFft: 512, hop: 128 };
    const x = sine(1000, 16000, 8000);
    const target = magnitude(stft(x, config));
    const y = griffinLim(target, config, { iterations: 100, length: x.length, seed: 1 });
    assert.equal(y.length, x.length);
    const sc = spectralConvergence(target, magnitude(stft(y, config)));
    assert.ok(sc < 0.05, `spectral convergence ${sc}`);
    assert.ok(Math.abs(rms(y, 1000, 7000) - rms(x, 1000, 7000)) < 0.02);
    assert.ok(Math.abs(dominantFrequency(y, 16000, 990, 1010, 0.25) - 1000) <= 1);
  });

  test("log-mel → audio gives a finite, WAV-encodable signal of the right length", () => {
    const cfg = DEFAULT_SPEECH_FEATURES;
    const high = sine(1700, 16000, 8000, 0.25);
    const x = sine(220, 16000, 8000).map((v, i) => v + high[i]);
    const logMel = logMelSpectrogram(x, cfg);
    assert.equal(logMel.frames, 1 + Math.floor(8000 / 128));
    assert.equal(logMel.nMels, 64);
    const y = logMelToAudio(logMel, cfg, { iterations: 32, length: x.length });
    assert.equal(y.length, x.length);
    assert.ok(y.every(Number.isFinite));
    const again = logMelSpectrogram(y, cfg);
    // The resynthesised audio has nearly the same log-mel spectrum in the bands that carry the sound.
    const peak = logMel.db.reduce((a, b) => Math.max(a, b), -Infinity);
    let diff = 0;
    let count = 0;
    for (let i = 0; i < logMel.db.length; i++) {
      if (logMel.db[i] > peak - 30) {
        diff += Math.abs(logMel.db[i] - again.db[i]);
        count++;
      }
    }
    assert.ok(diff / count < 2, `mean log-mel difference ${diff / count} dB over ${count} cells`);
    assert.equal(decodeWav(encodeWav16(y, 16000)).channels[0].length, y.length);
  });
});

describe("segments and images", () => {
  const cfg = DEFAULT_SPEECH_FEATURES;
  const nMels = 4;
  const toneLogMel = (frames: number, on: [number, number]): LogMel => {
    const db = new Float32Array(frames * nMels).fill(-100);
    for (let f = on[0]; f < on[1]; f++) for (let m = 0; m < nMels; m++) db[f * nMels + m] = m === 0 ? 0 : -20;
    return { frames, nMels, db };
  };

  test("silence is trimmed, short words are padded with a mask, long ones centre-cropped", () => {
    const short = fixedLengthSegment(toneLogMel(30, [10, 15]), cfg, { frames: 8 });
    assert.deepEqual(Array.from(short.mask), [1, 1, 1, 1, 1, 0, 0, 0]);
    assert.equal(short.sourceFrames, 5);
    assert.equal(short.cropped, false);
    const v0 = (0 - cfg.minDb) / (cfg.maxDb - cfg.minDb);
    assert.ok(Math.abs(short.data[0] - v0) < 1e-6); // band 0, frame 0
    assert.equal(short.data[5], 0); // band 0, padded frame 5
    const long = fixedLengthSegment(toneLogMel(40, [5, 25]), cfg, { frames: 8 });
    assert.equal(long.cropped, true);
    assert.equal(long.sourceFrames, 20);
    assert.ok(long.mask.every((v) => v === 1));
    const back = segmentToLogMel(short.data, nMels, 8, cfg);
    assert.ok(Math.abs(back.db[0] - 0) < 1e-4 && Math.abs(back.db[1] + 20) < 1e-4); // frame 0, bands 0 and 1
  });

  test("spectrogram image puts time on x and the highest band on the top row", () => {
    const logMel = toneLogMel(6, [0, 6]);
    logMel.db[2 * nMels + 3] = 10; // frame 2, top band: loudest
    const image = spectrogramImage(logMel, { minDb: -40, maxDb: 10, colormap: "gray", scale: 2 });
    assert.equal(image.width, 12);
    assert.equal(image.height, 8);
    assert.equal(image.channels, 1);
    assert.equal(image.data[0 * 12 + 4], 1); // top row, x = 2·2
    assert.ok(Math.abs(image.data[7 * 12 + 0] - 0.8) < 1e-6); // bottom row = band 0 at 0 dB
    assert.equal(spectrogramImage(logMel).channels, 3);
  });

  test("voice split is disjoint, seeded and honours explicit voices", () => {
    const entries = ["a", "b", "c", "d", "e", "f", "g", "h"].flatMap((voice) => [0, 1, 2].map(() => ({ voice })));
    const s1 = splitByVoice(entries, { seed: 5 });
    const s2 = splitByVoice(entries, { seed: 5 });
    assert.deepEqual(s1, s2);
    assert.equal(s1.testVoices.length, 2);
    assert.equal(s1.train.length + s1.test.length, entries.length);
    const testSet = new Set(s1.testVoices);
    for (const i of s1.test) assert.ok(testSet.has(entries[i].voice));
    for (const i of s1.train) assert.ok(!testSet.has(entries[i].voice));
    const explicit = splitByVoice(entries, { testVoices: ["h", "c"] });
    assert.deepEqual(explicit.testVoices, ["c", "h"]);
    assert.match(errorMessage(() => splitByVoice(entries, { testVoices: ["zz"] })), /unknown voice\(s\) zz/);
  });
});

describe("espeak-ng dataset", () => {
  const haveEspeak = espeakVersion() !== null;

  test("missing espeak-ng is reported in one line naming the package", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await assert.rejects(generateEspeakDataset(TINY_ESPEAK_SPEC, join(tmpdir(), "vaekit-never")), (err: Error) => {
        assert.ok(err instanceof VaekitError);
        assert.match(err.message, /^espeak-ng is not installed: .*apt-get install espeak-ng/);
        return true;
      });
    } finally {
      process.env.PATH = path;
    }
  });

  test("tiny set (2 words × 2 voices) generates loadable segments of the right shape", { skip: haveEspeak ? false : "espeak-ng not installed (apt-get install espeak-ng)" }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "vaekit-speech-"));
    try {
      const manifest = await generateEspeakDataset(TINY_ESPEAK_SPEC, dir);
      assert.equal(manifest.entries.length, 4);
      assert.match(manifest.espeakVersion, /^espeak-ng \d/);
      const first = readWavFileMono(join(dir, manifest.entries[0].file));
      assert.equal(first.sampleRate, 22050);
      assert.ok(first.samples.length > 2205, "an utterance is longer than 0.1 s");
      const ds = loadSpeechSegments(join(dir, "manifest.json"), { frames: 64 });
      assert.equal(ds.count, 4);
      assert.equal(ds.data.length, 4 * 64 * 64);
      assert.equal(ds.mask.length, 4 * 64);
      assert.ok(ds.data.every((v) => v >= 0 && v <= 1));
      assert.deepEqual(ds.words, ["one", "zero"]);
      assert.deepEqual(Array.from(ds.labels), [1, 1, 0, 0]);
      for (let i = 0; i < 4; i++) {
        const voiced = ds.mask.subarray(i * 64, (i + 1) * 64).reduce((a, b) => a + b, 0);
        assert.ok(voiced > 15, `utterance ${i} has only ${voiced} voiced frames`);
      }
      const split = splitByVoice(ds.entries, { seed: 0 });
      assert.equal(split.test.length, 2);
      // Unknown variants would silently fall back to the default voice: refused up front.
      await assert.rejects(generateEspeakDataset({ ...TINY_ESPEAK_SPEC, voices: ["en+nosuchvariant"] }, dir), /no voice variant "nosuchvariant"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

});
