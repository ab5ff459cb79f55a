/**
 * Encoder and decoder networks composed from a config: MLP (the reference) or convolutional.
 * A network is a list of named parameter slots (init order = PRNG key order) and a pure apply.
 * Names follow PyTorch module names (enc_fc1, enc_conv1, dec_fc, dec_deconv1, …) so state dicts
 * are readable and load into an equivalent torch.nn model (see io.ts for the layouts).
 */
import { nn, np, type Array } from "../engine/index.js";
import { dense, initDense, type DenseParams } from "./layers.js";
import {
  conv2d,
  convOutputSize,
  convTranspose2d,
  initConv,
  initConvTranspose,
  outputPaddingFor,
  type ConvGeometry,
  type ConvParams,
  type ConvTransposeParams,
} from "./conv.js";
import { convPadding, type ConvConfig, type NetworkConfig } from "./config.js";
import { VaekitError } from "../errors.js";

/** Every layer is a {w, b} record; dense w is 2-D, conv w 4-D (see conv.ts for layouts). */
export type Layer = DenseParams | ConvParams | ConvTransposeParams;
export type ParamTree = Record<string, DenseParams | Array>;

/** Transposed convolutions are the layers named *deconv* (PyTorch ConvTranspose2d layout in files). */
export const isTransposedConvName = (name: string) => /(^|_)deconv/.test(name);

export interface Slot {
  name: string;
  init(key: Array): Layer;
}

export interface Network {
  slots: Slot[];
  /** Size of the output rows. */
  outputSize: number;
  /** Consumes x [N, inputSize]; borrows params. */
  apply(params: ParamTree, x: Array): Array;
}

type Shape3 = readonly [number, number, number];

const denseSlot = (name: string, fanIn: number, fanOut: number): Slot => ({ name, init: (k) => initDense(k, fanIn, fanOut) });
const convSlot = (name: string, cin: number, cout: number, kernel: number): Slot => ({ name, init: (k) => initConv(k, cin, cout, kernel) });
const deconvSlot = (name: string, cin: number, cout: number, kernel: number): Slot => ({
  name,
  init: (k) => initConvTranspose(k, cin, cout, kernel),
});

/** Kernel, stride and padding of a conv config (padding defaults to ⌊(k − s + 1)/2⌋). */
export function convGeometry(c: ConvConfig): ConvGeometry {
  return { kernel: c.kernel, stride: c.stride, padding: convPadding(c) };
}

/** Spatial sizes [h, w] after each strided conv of `c`, starting from the image: n + 1 entries. */
export function convSizes(c: ConvConfig, shape: Shape3): [number, number][] {
  const g = convGeometry(c);
  const sizes: [number, number][] = [[shape[0], shape[1]]];
  for (let i = 0; i < c.channels.length; i++) {
    const [h, w] = sizes[i];
    try {
      sizes.push([convOutputSize(h, g), convOutputSize(w, g)]);
    } catch {
      throw new VaekitError(`conv layer ${i + 1} (k${g.kernel} s${g.stride} p${g.padding}) does not fit a ${h}×${w} feature map: use fewer channels entries or a smaller kernel`);
    }
  }
  return sizes;
}

const RES_GEOMETRY: ConvGeometry = { kernel: 3, stride: 1, padding: 1 };

function residualSlots(prefix: string, width: number, blocks: number): Slot[] {
  const slots: Slot[] = [];
  for (let j = 1; j <= blocks; j++) slots.push(convSlot(`${prefix}_${j}a`, width, width, 3), convSlot(`${prefix}_${j}b`, width, width, 3));
  return slots;
}

/** h + conv_b(relu(conv_a(relu h))) per block, then relu. */
function residualStack(params: ParamTree, prefix: string, blocks: number, h: Array): Array {
  if (blocks === 0) return h;
  for (let j = 1; j <= blocks; j++) {
    const a = conv2d(nn.relu(h.ref), params[`${prefix}_${j}a`] as ConvParams, RES_GEOMETRY);
    h = h.add(conv2d(nn.relu(a), params[`${prefix}_${j}b`] as ConvParams, RES_GEOMETRY));
  }
  return nn.relu(h);
}

/** x [N, D] → features [N, F] (ReLU after every layer). */
export function encoderNetwork(cfg: NetworkConfig, shape: Shape3): Network {
  const D = shape[0] * shape[1] * shape[2];
  if (cfg.type === "mlp") {
    const sizes = [D, ...cfg.hidden];
    const slots = cfg.hidden.map((h, i) => denseSlot(`enc_fc${i + 1}`, sizes[i], h));
    return {
      slots,
      outputSize: sizes[sizes.length - 1],
      apply(params, x) {
        let h = x;
        for (let i = 0; i < slots.length; i++) h = nn.relu(dense(h, params[slots[i].name] as DenseParams));
        return h;
      },
    };
  }
  const g = convGeometry(cfg);
  const sizes = convSizes(cfg, shape);
  const chans = [shape[2], ...cfg.channels];
  const n = cfg.channels.length;
  const slots: Slot[] = [];
  for (let i = 1; i <= n; i++) slots.push(convSlot(`enc_conv${i}`, chans[i - 1], chans[i], g.kernel), ...residualSlots(`enc_res${i}`, chans[i], cfg.residualBlocks));
  const [hn, wn] = sizes[n];
  const flat = hn * wn * chans[n];
  const dims = [flat, ...cfg.hidden];
  cfg.hidden.forEach((h, i) => slots.push(denseSlot(`enc_fc${i + 1}`, dims[i], h)));
  return {
    slots,
    outputSize: dims[dims.length - 1],
    apply(params, x) {
      const N = x.shape[0];
      let h = x.reshape([N, shape[0], shape[1], shape[2]]);
      for (let i = 1; i <= n; i++) {
        h = nn.relu(conv2d(h, params[`enc_conv${i}`] as ConvParams, g));
        h = residualStack(params, `enc_res${i}`, cfg.residualBlocks, h);
      }
      h = h.reshape([N, flat]);
      for (let i = 1; i <= cfg.hidden.length; i++) h = nn.relu(dense(h, params[`enc_fc${i}`] as DenseParams));
      return h;
    },
  };
}

/**
 * z [N, L] → decoder outputs [N, P·D], parameter-major (P numbers per data value; see
 * likelihood.ts). No activation on the output.
 */
export function decoderNetwork(cfg: NetworkConfig, shape: Shape3, latentDim: number, P: number): Network {
  const D = shape[0] * shape[1] * shape[2];
  if (cfg.type === "mlp") {
    const sizes = [latentDim, ...cfg.hidden, P * D];
    const slots = sizes.slice(1).map((s, i) => denseSlot(`dec_fc${i + 1}`, sizes[i], s));
    return {
      slots,
      outputSize: P * D,
      apply(params, z) {
        let h = z;
        for (let i = 0; i < slots.length; i++) {
          h = dense(h, params[slots[i].name] as DenseParams);
          if (i < slots.length - 1) h = nn.relu(h);
        }
        return h;
      },
    };
  }
  const g = convGeometry(cfg);
  const n = cfg.channels.length;
  const sizes = convSizes(cfg, shape); // the encoder's path; the decoder walks it backwards
  const outC = P * shape[2];
  const chans = [...cfg.channels, outC];
  const [h0, w0] = sizes[n];
  // dense layers: dec_fc1 … for `hidden`, then dec_fc projects to the smallest feature map
  const dims = [latentDim, ...cfg.hidden, h0 * w0 * chans[0]];
  const denseNames = [...cfg.hidden.map((_, i) => `dec_fc${i + 1}`), "dec_fc"];
  const slots: Slot[] = denseNames.map((name, i) => denseSlot(name, dims[i], dims[i + 1]));
  const pads: [number, number][] = [];
  for (let i = 1; i <= n; i++) {
    slots.push(...residualSlots(`dec_res${i}`, chans[i - 1], cfg.residualBlocks), deconvSlot(`dec_deconv${i}`, chans[i - 1], chans[i], g.kernel));
    const [hi, wi] = sizes[n - i + 1];
    const [ho, wo] = sizes[n - i];
    pads.push([outputPaddingFor(hi, ho, g), outputPaddingFor(wi, wo, g)]);
  }
  return {
    slots,
    outputSize: P * D,
    apply(params, z) {
      const N = z.shape[0];
      let h = z;
      for (const name of denseNames) h = nn.relu(dense(h, params[name] as DenseParams));
      h = h.reshape([N, h0, w0, chans[0]]);
      for (let i = 1; i <= n; i++) {
        h = residualStack(params, `dec_res${i}`, cfg.residualBlocks, h);
        h = convTranspose2d(h, params[`dec_deconv${i}`] as ConvTransposeParams, g, pads[i - 1]);
        if (i < n) h = nn.relu(h);
      }
      if (P === 1) return h.reshape([N, D]);
      // [N, H, W, P·C] → parameter-major [N, P, H·W·C]
      return h.reshape([N, shape[0] * shape[1], P, shape[2]]).transpose([0, 2, 1, 3]).reshape([N, P * D]);
    },
  };
}
