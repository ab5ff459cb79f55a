/**
 * Mono audio buffers, downmixing and band-limited resampling. Pure TypeScript, browser-safe.
 *
 * Resampling uses a Kaiser-windowed sinc kernel evaluated at the exact rational positions
 * n·inRate/outRate (one cached tap set per phase). Why not linear interpolation: it has a poor,
 * slowly falling frequency response, so when downsampling (22.05 kHz espeak output → 16 kHz)
 * everything above the new Nyquist folds back as audible aliasing. The windowed sinc is an
 * (approximately) ideal low-pass at `rolloff` × the lower of the two Nyquist frequencies, so it
 * removes those components before they can alias and keeps the passband flat.
 */
import { VaekitError } from "../../errors.js";

/** A single-channel signal with samples nominally in [-1, 1]. */
export interface MonoAudio {
  sampleRate: number;
  samples: Float32Array;
}

/** Average the channels into one (equal weights, so a centred source keeps its level). */
export function downmixToMono(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 0) throw new VaekitError("cannot downmix audio with no channels");
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const out = new Float32Array(n);
  for (const ch of channels) {
    if (ch.length !== n) throw new VaekitError("cannot downmix channels of different lengths");
    for (let i = 0; i < n; i++) out[i] += ch[i];
  }
  const scale = 1 / channels.length;
  for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}

export interface ResampleOptions {
  /** Kernel half-width in zero crossings of the low-pass sinc; more = sharper transition band. */
  zeroCrossings?: number;
  /** Cutoff as a fraction of the lower Nyquist frequency; below 1 leaves room for the transition band. */
  rolloff?: number;
  /** Kaiser window shape; 8.6 gives roughly 90 dB of stop-band attenuation. */
  kaiserBeta?: number;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for |x| < 30). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 60; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-16) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Resample a mono signal from `fromRate` to `toRate` (both positive integers, in Hz). */
export function resample(
  samples: Float32Array,
  fromRate: number,
  toRate: number,
  options: ResampleOptions = {},
): Float32Array {
  for (const [name, rate] of [["source", fromRate], ["target", toRate]] as const) {
    if (!Number.isInteger(rate) || rate <= 0) {
      throw new VaekitError(`resample: ${name} sample rate must be a positive integer, got ${rate}`);
    }
  }
  if (fromRate === toRate) return samples.slice();
  const zeroCrossings = options.zeroCrossings ?? 16;
  const rolloff = options.rolloff ?? 0.945;
  const beta = options.kaiserBeta ?? 8.6;

  // Output n sits at input position n·M/L with L/M the reduced rate ratio; its fractional
  // part is (n·M mod L)/L, so there are only L distinct tap sets ("phases").
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  const cutoff = rolloff * Math.min(1, toRate / fromRate); // in cycles per input sample × 2
  const halfWidth = zeroCrossings / cutoff; // kernel half-length in input samples
  const i0Beta = besselI0(beta);

  const outLength = Math.round((samples.length * toRate) / fromRate);
  const out = new Float32Array(outLength);
  // Lazily built tap sets, one per phase (at most `up` of them, and at most one per output).
  const phaseTaps: ({ first: number; taps: Float64Array } | undefined)[] = [];

  const tapsFor = (phase: number) => {
    let entry = phaseTaps[phase];
    if (entry) return entry;
    const frac = phase / up; // position of the output sample past its integer input index
    const first = Math.ceil(frac - halfWidth);
    const last = Math.floor(frac + halfWidth);
    const taps = new Float64Array(last - first + 1);
    let sum = 0;
    for (let j = first; j <= last; j++) {
      const d = frac - j;
      const x = cutoff * d;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const r = d / halfWidth;
      const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
      const v = cutoff * sinc * w;
      taps[j - first] = v;
      sum += v;
    }
    // Exact unit DC gain for every phase removes a faint phase-dependent ripple.
    for (let k = 0; k < taps.length; k++) taps[k] /= sum;
    entry = { first, taps };
    phaseTaps[phase] = entry;
    return entry;
  };

  const n = samples.length;
  for (let o = 0; o < outLength; o++) {
    const pos = o * down;
    const base = Math.floor(pos / up);
    const { first, taps } = tapsFor(pos - base * up);
    const start = base + first;
    // Samples outside the signal count as zero: clamp the tap range instead of testing each index.
    const kLo = Math.max(0, -start);
    const kHi = Math.min(taps.length, n - start);
    let acc = 0;
    for (let k = kLo; k < kHi; k++) acc += taps[k] * samples[start + k];
    out[o] = acc;
  }
  return out;
}

/** Scale so the largest absolute sample equals `peak` (silence is returned unchanged). */
export function normalizePeak(samples: Float32Array, peak = 0.9): Float32Array {
  let max = 0;
  for (let i = 0; i < samples.length; i++) max = Math.max(max, Math.abs(samples[i]));
  const out = samples.slice();
  if (max === 0) return out;
  const gain = peak / max;
  for (let i = 0; i < out.length; i++) out[i] *= gain;
  return out;
}
