/**
 * Short-time Fourier transform and its inverse (pure TypeScript on Float32Array, browser-safe).
 *
 * Conventions: periodic Hann window of length nFft; frames are hop samples apart; with
 * `center` (default) the signal is zero-padded by nFft/2 on both sides so frame f is
 * centred on sample f·hop and there are 1 + floor(length/hop) frames. Zero rather than
 * reflect padding keeps the STFT a linear map of the signal, so iSTFT below is its exact
 * least-squares inverse and Griffin–Lim's alternating projections stay true projections
 * (with reflect padding the edge frames drift; speech clips start and end in silence anyway).
 * Spectra are stored frame-major: bin k of frame f is at f·bins + k, bins = nFft/2 + 1.
 *
 * The inverse is weighted overlap-add: each frame is inverse-transformed, multiplied by the
 * window again and summed; the sum is divided by Σ window² at every sample. That normalisation
 * makes iSTFT(STFT(x)) = x for any hop ≤ nFft/2 (no COLA condition needed), and gives
 * the least-squares signal for spectra that are not exactly consistent (Griffin & Lim 1984).
 */
import FFT from "fft.js";
import { VaekitError } from "../../errors.js";

export interface StftConfig {
  /** FFT size and window length; a power of two ≥ 4. */
  nFft: number;
  /** Samples between frame starts; 1 ≤ hop ≤ nFft. */
  hop: number;
  /** Zero-pad by nFft/2 so frames are centred on multiples of hop (default true). */
  center?: boolean;
}

/** A complex spectrogram, frame-major. */
export interface ComplexSpectrogram {
  frames: number;
  bins: number;
  re: Float32Array;
  im: Float32Array;
}

const fftCache = new Map<number, FFT>();
function fftOfSize(n: number): FFT {
  let f = fftCache.get(n);
  if (!f) {
    f = new FFT(n);
    fftCache.set(n, f);
  }
  return f;
}

function checkConfig({ nFft, hop }: StftConfig): void {
  if (!Number.isInteger(nFft) || nFft < 4 || (nFft & (nFft - 1)) !== 0) {
    throw new VaekitError(`STFT: n_fft must be a power of two ≥ 4, got ${nFft}`);
  }
  if (!Number.isInteger(hop) || hop < 1 || hop > nFft) {
    throw new VaekitError(`STFT: hop must be an integer in [1, n_fft=${nFft}], got ${hop}`);
  }
}

/** Periodic Hann window (the DFT-even form that overlap-adds to a constant at hop = n/2, n/4). */
export function hannWindow(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

/** Number of frames the STFT produces for a signal of this length. */
export function frameCount(length: number, config: StftConfig): number {
  checkConfig(config);
  const { nFft, hop } = config;
  const padded = (config.center ?? true) ? length + nFft : Math.max(length, nFft);
  return 1 + Math.floor((padded - nFft) / hop);
}

export function stft(signal: Float32Array, config: StftConfig): ComplexSpectrogram {
  checkConfig(config);
  const { nFft, hop } = config;
  const center = config.center ?? true;
  const n = signal.length;
  if (n === 0) throw new VaekitError("STFT: empty signal");
  const frames = frameCount(n, config);
  const bins = nFft / 2 + 1;
  const window = hannWindow(nFft);
  const fft = fftOfSize(nFft);
  const frame = new Float64Array(nFft);
  const spectrum = fft.createComplexArray() as number[];
  const re = new Float32Array(frames * bins);
  const im = new Float32Array(frames * bins);
  const offset = center ? nFft / 2 : 0;
  for (let f = 0; f < frames; f++) {
    const start = f * hop - offset;
    for (let i = 0; i < nFft; i++) {
      const t = start + i;
      frame[i] = t >= 0 && t < n ? signal[t] * window[i] : 0;
    }
    fft.realTransform(spectrum, frame);
    for (let k = 0; k < bins; k++) {
      re[f * bins + k] = spectrum[2 * k];
      im[f * bins + k] = spectrum[2 * k + 1];
    }
  }
  return { frames, bins, re, im };
}

/**
 * Inverse STFT by window-normalised overlap-add. `length` is the output length (default: the
 * longest signal whose STFT has this many frames, (frames-1)·hop for centred frames).
 */
export function istft(spec: ComplexSpectrogram, config: StftConfig, length?: number): Float32Array {
  checkConfig(config);
  const { nFft, hop } = config;
  const center = config.center ?? true;
  const { frames, bins } = spec;
  if (bins !== nFft / 2 + 1) {
    throw new VaekitError(`iSTFT: spectrogram has ${bins} bins but n_fft=${nFft} needs ${nFft / 2 + 1}`);
  }
  if (spec.re.length !== frames * bins || spec.im.length !== frames * bins) {
    throw new VaekitError("iSTFT: spectrogram arrays do not match frames × bins");
  }
  const window = hannWindow(nFft);
  const fft = fftOfSize(nFft);
  const full = fft.createComplexArray() as number[];
  const time = fft.createComplexArray() as number[];
  const total = nFft + hop * Math.max(0, frames - 1);
  const acc = new Float64Array(total);
  const norm = new Float64Array(total);
  for (let f = 0; f < frames; f++) {
    // Rebuild the Hermitian-symmetric full spectrum of a real frame.
    for (let k = 0; k < bins; k++) {
      full[2 * k] = spec.re[f * bins + k];
      full[2 * k + 1] = spec.im[f * bins + k];
    }
    full[1] = 0; // DC and Nyquist bins of a real signal are real
    full[2 * (nFft / 2) + 1] = 0;
    for (let k = bins; k < nFft; k++) {
      full[2 * k] = full[2 * (nFft - k)];
      full[2 * k + 1] = -full[2 * (nFft - k) + 1];
    }
    fft.inverseTransform(time, full);
    const start = f * hop;
    for (let i = 0; i < nFft; i++) {
      acc[start + i] += time[2 * i] * window[i];
      norm[start + i] += window[i] * window[i];
    }
  }
  const offset = center ? nFft / 2 : 0;
  const outLength = length ?? (center ? hop * Math.max(0, frames - 1) : total);
  const out = new Float32Array(outLength);
  for (let t = 0; t < outLength; t++) {
    const j = t + offset;
    // Where no window reaches (or only its zero tail does) there is no information: output 0.
    if (j < total && norm[j] > 1e-10) out[t] = acc[j] / norm[j];
  }
  return out;
}

/** |X| per bin, frame-major like the spectrogram. */
export function magnitude(spec: ComplexSpectrogram): Float32Array {
  const out = new Float32Array(spec.re.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(spec.re[i] * spec.re[i] + spec.im[i] * spec.im[i]);
  return out;
}

/** |X|² per bin, frame-major like the spectrogram. */
export function powerSpectrum(spec: ComplexSpectrogram): Float32Array {
  const out = new Float32Array(spec.re.length);
  for (let i = 0; i < out.length; i++) out[i] = spec.re[i] * spec.re[i] + spec.im[i] * spec.im[i];
  return out;
}
