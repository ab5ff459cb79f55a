import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, jitted, lax, np, random, tree, valueAndGrad, type Array } from "../src/engine/index.js";
import { conv2d, convOutputSize, convTranspose2d, convTransposeOutputSize, type ConvGeometry } from "../src/models/conv.js";
import { parseVaeConfig, referenceConfig, type VaeConfig } from "../src/models/config.js";
import { buildVae, type Vae, type VaeParams } from "../src/models/vae.js";
import { iwaeLogWeights } from "../src/objectives/elbo.js";
import { trainingLoss } from "../src/objectives/objective.js";
import { klWeightAt } from "../src/objectives/schedules.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, makeTrainStep, trainVae } from "../src/train/trainer.js";
import { VaekitError } from "../src/errors.js";
import { makeEvaluator } from "../src/train/evaluate.js";
import { loadDataset } from "../src/data/load.js";
import { binarize } from "../src/data/datasets.js";
import { encodeIdx } from "../src/data/idx.js";
import { modelConfigFrom } from "../src/cli/model-options.js";
import { decodeModel, encodeModel, toStateDict } from "../src/models/io.js";
import { DiagGaussian } from "../src/distributions/index.js";
import { ContinuousBernoulli, DiscretizedLogisticMixture, bitsPerDim, continuousBernoulliLogNorm, continuousBernoulliMean } from "../src/distributions/likelihoods.js";
import { Rng } from "../src/data/rng.js";
import { probeTorch } from "../bench/torch.js";

await initEngine("wasm");
const host = (a: Array) => Float64Array.from(a.dataSync() as Float32Array);

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let num = 0, den = 0;
  for (let i = 0; i < got.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
const randn = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());

// ---- naive direct convolutions (float64, loops) as the reference ----
interface Conv4 { B: number; H: number; W: number; C: number; O: number }

/** out[b,i,j,o] = bias[o] + Σ x[b, i·s+ki−p, j·s+kj−p, c] · w[ki,kj,c,o]; also dL/dx, dL/dw, dL/db for L = Σ out·R. */
function naiveConv(x: Float64Array, w: Float64Array, bias: Float64Array, d: Conv4, g: ConvGeometry, R?: Float64Array) {
  const { B, H, W, C, O } = d;
  const { kernel: k, stride: s, padding: p } = g;
  const Ho = Math.floor((H + 2 * p - k) / s) + 1, Wo = Math.floor((W + 2 * p - k) / s) + 1;
  const out = new Float64Array(B * Ho * Wo * O);
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length), db = new Float64Array(O);
  for (let b = 0; b < B; b++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) for (let o = 0; o < O; o++) {
    const oi = ((b * Ho + i) * Wo + j) * O + o;
    let acc = bias[o];
    const r = R ? R[oi] : 0;
    db[o] += r;
    for (let ki = 0; ki < k; ki++) for (let kj = 0; kj < k; kj++) {
      const y = i * s + ki - p, xx = j * s + kj - p;
      if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
      for (let c = 0; c < C; c++) {
        const xi = ((b * H + y) * W + xx) * C + c, wi = ((ki * k + kj) * C + c) * O + o;
        acc += x[xi] * w[wi];
        dx[xi] += r * w[wi];
        dw[wi] += r * x[xi];
      }
    }
    out[oi] = acc;
  }
  return { out, dx, dw, db, Ho, Wo };
}

/** Transposed: out[b, i·s+ki−p, j·s+kj−p, o] += y[b,i,j,c] · wt[c,ki,kj,o]; grads for L = Σ out·R. */
function naiveConvT(y: Float64Array, wt: Float64Array, bias: Float64Array, d: Conv4, g: ConvGeometry, op: number, R?: Float64Array) {
  const { B, H: n, W: m, C, O } = d;
  const { kernel: k, stride: s, padding: p } = g;
  const Ho = (n - 1) * s - 2 * p + k + op, Wo = (m - 1) * s - 2 * p + k + op;
  const out = new Float64Array(B * Ho * Wo * O);
  for (let i = 0; i < out.length; i++) out[i] = bias[i % O];
  const dy = new Float64Array(y.length), dw = new Float64Array(wt.length), db = new Float64Array(O);
  if (R) for (let i = 0; i < R.length; i++) db[i % O] += R[i];
  for (let b = 0; b < B; b++) for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) for (let ki = 0; ki < k; ki++) for (let kj = 0; kj < k; kj++) {
    const u = i * s + ki - p, v = j * s + kj - p;
    if (u < 0 || u >= Ho || v < 0 || v >= Wo) continue;
    for (let c = 0; c < C; c++) for (let o = 0; o < O; o++) {
      const yi = ((b * n + i) * m + j) * C + c, wi = ((c * k + ki) * k + kj) * O + o, oi = ((b * Ho + u) * Wo + v) * O + o;
      out[oi] += y[yi] * wt[wi];
      if (R) {
        dy[yi] += R[oi] * wt[wi];
        dw[wi] += R[oi] * y[yi];
      }
    }
  }
  return { out, dx: dy, dw, db, Ho, Wo };
}

const f32 = (a: Float64Array) => Float32Array.from(a);
const convCases: [Conv4, ConvGeometry][] = [
  [{ B: 2, H: 8, W: 8, C: 3, O: 5 }, { kernel: 4, stride: 2, padding: 1 }],
  [{ B: 2, H: 7, W: 9, C: 2, O: 3 }, { kernel: 4, stride: 2, padding: 1 }], // odd sizes
  [{ B: 1, H: 6, W: 5, C: 2, O: 4 }, { kernel: 3, stride: 1, padding: 1 }],
  [{ B: 2, H: 9, W: 9, C: 1, O: 2 }, { kernel: 5, stride: 3, padding: 2 }],
  [{ B: 2, H: 5, W: 6, C: 3, O: 2 }, { kernel: 1, stride: 1, padding: 0 }],
  [{ B: 1, H: 8, W: 7, C: 2, O: 3 }, { kernel: 2, stride: 2, padding: 0 }],
];

test("conv2d forward and gradients match a naive direct convolution (and lax.convGeneralDilated)", () => {
  const rng = new Rng(11);
  for (const [d, g] of convCases) {
    const { B, H, W, C, O } = d;
    const k = g.kernel;
    const x = randn(rng, B * H * W * C), w = randn(rng, k * k * C * O), bias = randn(rng, O);
    const Ho = convOutputSize(H, g), Wo = convOutputSize(W, g);
    const R = randn(rng, B * Ho * Wo * O);
    const ref = naiveConv(x, w, bias, d, g, R);
    const loss = jitted((p: { x: Array; w: Array; b: Array }, r: Array) => conv2d(p.x, { w: p.w, b: p.b }, g).mul(r).sum());
    const fwd = jitted((p: { x: Array; w: Array; b: Array }) => conv2d(p.x, { w: p.w, b: p.b }, g));
    const params = () => ({ x: np.array(f32(x)).reshape([B, H, W, C]), w: np.array(f32(w)).reshape([k, k, C, O]), b: np.array(f32(bias)) });
    const out = fwd(params());
    assert.deepEqual(out.shape, [B, Ho, Wo, O]);
    const tag = `k${k} s${g.stride} p${g.padding} ${H}×${W}`;
    assert.ok(relErr(host(out), ref.out) < 1e-5, `forward ${tag}`);
    const [, grads] = valueAndGrad((p: { x: Array; w: Array; b: Array }) => loss(p, np.array(f32(R)).reshape([B, Ho, Wo, O])))(params());
    const gr = grads as { x: Array; w: Array; b: Array };
    assert.ok(relErr(host(gr.x), ref.dx) < 1e-4, `dL/dx ${tag}`);
    assert.ok(relErr(host(gr.w), ref.dw) < 1e-4, `dL/dw ${tag}`);
    assert.ok(relErr(host(gr.b), ref.db) < 1e-4, `dL/db ${tag}`);
    // the engine's own convolution (NCHW, OIHW) agrees too
    const lhs = np.array(f32(x)).reshape([B, H, W, C]).transpose([0, 3, 1, 2]);
    const rhs = np.array(f32(w)).reshape([k, k, C, O]).transpose([3, 2, 0, 1]);
    const lx = lax.convGeneralDilated(lhs, rhs, [g.stride, g.stride], [[g.padding, g.padding], [g.padding, g.padding]]).transpose([0, 2, 3, 1]);
    const lxb = lx.add(np.array(f32(bias)));
    assert.ok(relErr(host(lxb), ref.out) < 1e-5, `lax forward ${tag}`);
  }
});

test("convTranspose2d forward and gradients match a naive direct transposed convolution", () => {
  const rng = new Rng(12);
  const cases: [Conv4, ConvGeometry, number][] = [
    [{ B: 2, H: 4, W: 4, C: 5, O: 3 }, { kernel: 4, stride: 2, padding: 1 }, 0],
    [{ B: 2, H: 3, W: 4, C: 2, O: 1 }, { kernel: 4, stride: 2, padding: 1 }, 1], // 3 → 7 (mirrors 7 → 3)
    [{ B: 1, H: 5, W: 4, C: 3, O: 2 }, { kernel: 3, stride: 1, padding: 1 }, 0],
    [{ B: 2, H: 3, W: 3, C: 2, O: 2 }, { kernel: 5, stride: 3, padding: 2 }, 2],
    [{ B: 1, H: 4, W: 3, C: 2, O: 3 }, { kernel: 2, stride: 2, padding: 0 }, 1],
    [{ B: 1, H: 3, W: 3, C: 2, O: 2 }, { kernel: 2, stride: 3, padding: 0 }, 0], // k < s: empty phases
  ];
  for (const [d, g, op] of cases) {
    const { B, H, W, C, O } = d;
    const k = g.kernel;
    const y = randn(rng, B * H * W * C), wt = randn(rng, C * k * k * O), bias = randn(rng, O);
    const Ho = convTransposeOutputSize(H, g, op), Wo = convTransposeOutputSize(W, g, op);
    const R = randn(rng, B * Ho * Wo * O);
    const ref = naiveConvT(y, wt, bias, d, g, op, R);
    const fwd = jitted((p: { x: Array; w: Array; b: Array }) => convTranspose2d(p.x, { w: p.w, b: p.b }, g, [op, op]));
    const params = () => ({ x: np.array(f32(y)).reshape([B, H, W, C]), w: np.array(f32(wt)).reshape([C, k, k, O]), b: np.array(f32(bias)) });
    const out = fwd(params());
    const tag = `k${k} s${g.stride} p${g.padding} op${op} ${H}×${W}`;
    assert.deepEqual(out.shape, [B, Ho, Wo, O], tag);
    assert.ok(relErr(host(out), ref.out) < 1e-5, `forward ${tag}`);
    const loss = jitted((p: { x: Array; w: Array; b: Array }, r: Array) => convTranspose2d(p.x, { w: p.w, b: p.b }, g, [op, op]).mul(r).sum());
    const [, grads] = valueAndGrad((p: { x: Array; w: Array; b: Array }) => loss(p, np.array(f32(R)).reshape([B, Ho, Wo, O])))(params());
    const gr = grads as { x: Array; w: Array; b: Array };
    assert.ok(relErr(host(gr.x), ref.dx) < 1e-4, `dL/dy ${tag}`);
    assert.ok(relErr(host(gr.w), ref.dw) < 1e-4, `dL/dw ${tag}`);
    assert.ok(relErr(host(gr.b), ref.db) < 1e-4, `dL/db ${tag}`);
  }
});

// ---------------------------------------------------------------------------------------------
// conv VAE: config, state dict in PyTorch layout, exact round trip, and PyTorch agreement

const convConfig = (over: Record<string, unknown> = {}): VaeConfig =>
  parseVaeConfig({
    inputShape: [13, 11, 2],
    latentDim: 3,
    encoder: { type: "conv", channels: [4, 6], kernel: 4, stride: 2, residualBlocks: 1, hidden: [10] },
    decoder: { type: "conv", channels: [6, 4], kernel: 4, stride: 2, residualBlocks: 1, hidden: [10] },
    likelihood: { type: "gaussian", variance: "network" },
    ...over,
  });

test("conv VAE: odd image sizes round-trip through the mirrored decoder; state dict uses PyTorch names and layouts", async () => {
  const config = convConfig();
  const model = buildVae(config);
  const params = model.init(random.key(4));
  const dict = await toStateDict(params);
  // 13×11 → 6×5 → 3×2 (k4 s2 p1); decoder 3×2 → 6×5 → 13×11 with output padding (1,1) then (1,1)
  assert.deepEqual(dict["enc_conv1.weight"].shape, [4, 2, 4, 4]); // Conv2d [out, in, k, k]
  assert.deepEqual(dict["enc_conv2.weight"].shape, [6, 4, 4, 4]);
  assert.deepEqual(dict["enc_res1_1a.weight"].shape, [4, 4, 3, 3]);
  assert.deepEqual(dict["enc_fc1.weight"].shape, [10, 3 * 2 * 6]);
  assert.deepEqual(dict["enc_mu.weight"].shape, [3, 10]);
  assert.deepEqual(dict["dec_fc1.weight"].shape, [10, 3]);
  assert.deepEqual(dict["dec_fc.weight"].shape, [3 * 2 * 6, 10]);
  assert.deepEqual(dict["dec_deconv1.weight"].shape, [6, 4, 4, 4]); // ConvTranspose2d [in, out, k, k]
  assert.deepEqual(dict["dec_deconv2.weight"].shape, [4, 4, 4, 4]); // 2 parameters × 2 channels out
  // Conv2d weight[o][c][ki][kj] = w[ki][kj][c][o] in memory
  const w = host((params.enc_conv1 as { w: Array }).w.ref);
  assert.equal(dict["enc_conv1.weight"].data[((3 * 2 + 1) * 4 + 2) * 4 + 1], Math.fround(w[((2 * 4 + 1) * 2 + 1) * 4 + 3]));
  const x = np.array(Float32Array.from({ length: 5 * 13 * 11 * 2 }, (_, i) => Math.sin(i))).reshape([5, 286]);
  const z = np.array(Float32Array.from({ length: 5 * 3 }, (_, i) => Math.cos(i))).reshape([5, 3]);
  const run = jitted((p: VaeParams, xb: Array, zb: Array) => {
    const q = model.encode(p, xb);
    const d = model.decode(p, zb) as DiagGaussian;
    return [q.loc, q.logVar, d.loc, d.logVar];
  });
  const before = (run(tree.ref(params), x.ref, z.ref) as Array[]).map(host);
  assert.deepEqual([before[2].length, before[3].length], [5 * 286, 5 * 286]);
  const bytes = await encodeModel({ config, params, extras: {} });
  const loaded = decodeModel(bytes, "conv model");
  assert.deepEqual(loaded.config, config);
  const after = (run(tree.ref(loaded.params), x.ref, z.ref) as Array[]).map(host);
  assert.deepEqual(after, before);
});

const probe = probeTorch();
test("conv VAE weights load into an equivalent torch.nn model (load_state_dict strict) and compute the same outputs", { skip: probe.ok ? false : `PyTorch unavailable: ${!probe.ok && probe.reason}` }, async () => {
  const config = convConfig();
  const model = buildVae(config);
  const params = model.init(random.key(7));
  const dir = mkdtempSync(join(tmpdir(), "vaekit-zoo-"));
  const rng = new Rng(3);
  const N = 4, D = 286;
  const x = Float32Array.from({ length: N * D }, () => rng.uniform());
  const z = Float32Array.from({ length: N * 3 }, () => rng.normal());
  writeFileSync(join(dir, "model.safetensors"), await encodeModel({ config, params, extras: {} }));
  writeFileSync(join(dir, "x.f32"), x);
  writeFileSync(join(dir, "z.f32"), z);
  const r = spawnSync(probe.python, ["-c", TORCH_CONV_VAE, dir], { encoding: "utf8", env: { ...process.env, OPENBLAS_NUM_THREADS: "1" }, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const read = (f: string) => {
    const b = readFileSync(join(dir, f));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  const run = jitted((p: VaeParams, xb: Array, zb: Array) => {
    const q = model.encode(p, xb);
    const d = model.decode(p, zb) as DiagGaussian;
    return [q.loc, q.logVar, np.concatenate([d.loc, d.logVar], -1)];
  });
  const [mu, lv, dec] = (run(tree.ref(params), np.array(x).reshape([N, D]), np.array(z).reshape([N, 3])) as Array[]).map(host);
  assert.ok(relErr(mu, read("mu.f32")) < 1e-5, "encoder μ");
  assert.ok(relErr(lv, read("logvar.f32")) < 1e-5, "encoder log σ²");
  assert.ok(relErr(dec, read("dec.f32")) < 1e-5, "decoder outputs");
});

/** A torch.nn rebuild of vaekit's conv VAE from the config in the model file (NCHW, PyTorch's own layers). */
const TORCH_CONV_VAE = String.raw`
import json, struct, sys, os
import numpy as np, torch
from torch import nn
import torch.nn.functional as F
d = sys.argv[1]
raw = open(os.path.join(d, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
cfg = json.loads(head.pop("__metadata__")["config"])
sd = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]: 8 + n + v["data_offsets"][1]], dtype="<f4").reshape(v["shape"]).copy()) for k, v in head.items()}
H, W, C = cfg["inputShape"]; L = cfg["latentDim"]; enc = cfg["encoder"]; dec = cfg["decoder"]
k, s = enc["kernel"], enc["stride"]; p = enc.get("padding", max(0, (k - s + 1) // 2))
P = 2
sizes = [(H, W)]
for _ in enc["channels"]:
    h, w = sizes[-1]; sizes.append(((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1))
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        ch = [C] + enc["channels"]
        for i in range(1, len(ch)):
            setattr(self, f"enc_conv{i}", nn.Conv2d(ch[i - 1], ch[i], k, s, p))
            for j in range(1, enc["residualBlocks"] + 1):
                setattr(self, f"enc_res{i}_{j}a", nn.Conv2d(ch[i], ch[i], 3, 1, 1)); setattr(self, f"enc_res{i}_{j}b", nn.Conv2d(ch[i], ch[i], 3, 1, 1))
        dims = [sizes[-1][0] * sizes[-1][1] * ch[-1]] + enc["hidden"]
        for i in range(1, len(dims)): setattr(self, f"enc_fc{i}", nn.Linear(dims[i - 1], dims[i]))
        self.enc_mu = nn.Linear(dims[-1], L); self.enc_logvar = nn.Linear(dims[-1], L)
        dch = dec["channels"] + [P * C]
        ddims = [L] + dec["hidden"]
        for i in range(1, len(ddims)): setattr(self, f"dec_fc{i}", nn.Linear(ddims[i - 1], ddims[i]))
        self.dec_fc = nn.Linear(ddims[-1], sizes[-1][0] * sizes[-1][1] * dch[0])
        n = len(dec["channels"])
        self.pads = []
        for i in range(1, n + 1):
            for j in range(1, dec["residualBlocks"] + 1):
                setattr(self, f"dec_res{i}_{j}a", nn.Conv2d(dch[i - 1], dch[i - 1], 3, 1, 1)); setattr(self, f"dec_res{i}_{j}b", nn.Conv2d(dch[i - 1], dch[i - 1], 3, 1, 1))
            (hi, wi), (ho, wo) = sizes[n - i + 1], sizes[n - i]
            op = (ho - ((hi - 1) * s - 2 * p + k), wo - ((wi - 1) * s - 2 * p + k))
            setattr(self, f"dec_deconv{i}", nn.ConvTranspose2d(dch[i - 1], dch[i], k, s, p, output_padding=op))
        self.n = n
    def res(self, prefix, blocks, h):
        if blocks == 0: return h
        for j in range(1, blocks + 1):
            a = getattr(self, f"{prefix}_{j}a")(F.relu(h)); h = h + getattr(self, f"{prefix}_{j}b")(F.relu(a))
        return F.relu(h)
    def encode(self, x):
        h = x.view(-1, H, W, C).permute(0, 3, 1, 2)
        for i in range(1, len(enc["channels"]) + 1):
            h = self.res(f"enc_res{i}", enc["residualBlocks"], F.relu(getattr(self, f"enc_conv{i}")(h)))
        h = h.flatten(1)
        for i in range(1, len(enc["hidden"]) + 1): h = F.relu(getattr(self, f"enc_fc{i}")(h))
        return self.enc_mu(h), self.enc_logvar(h)
    def decode(self, z):
        h = z
        for i in range(1, len(dec["hidden"]) + 1): h = F.relu(getattr(self, f"dec_fc{i}")(h))
        h = F.relu(self.dec_fc(h)).view(-1, dec["channels"][0], sizes[-1][0], sizes[-1][1])
        for i in range(1, self.n + 1):
            h = getattr(self, f"dec_deconv{i}")(self.res(f"dec_res{i}", dec["residualBlocks"], h))
            if i < self.n: h = F.relu(h)
        N = h.shape[0]
        return h.view(N, P, C, H, W).permute(0, 1, 3, 4, 2).reshape(N, -1)  # parameter-major, NHWC within
m = VAE()
m.load_state_dict(sd, strict=True)
x = torch.from_numpy(np.fromfile(os.path.join(d, "x.f32"), dtype="<f4").reshape(-1, H * W * C))
z = torch.from_numpy(np.fromfile(os.path.join(d, "z.f32"), dtype="<f4").reshape(-1, L))
with torch.no_grad():
    mu, lv = m.encode(x); out = m.decode(z)
for name, t in [("mu", mu), ("logvar", lv), ("dec", out)]: t.numpy().astype("<f4").tofile(os.path.join(d, name + ".f32"))
`;

// ---------------------------------------------------------------------------------------------
// likelihoods: log-densities against independent float64 formulas, and normalisation

/** Composite Simpson's rule for samples f_0..f_G (G even) on [0, 1]. */
function simpson(f: ArrayLike<number>): number {
  const G = f.length - 1;
  let s = f[0] + f[G];
  for (let i = 1; i < G; i++) s += (i % 2 ? 4 : 2) * f[i];
  return (s / (3 * G));
}
const sigmoid64 = (t: number) => 1 / (1 + Math.exp(-t));
/**
 * log C(λ) for the continuous Bernoulli, from the paper's definition C = 2 artanh(1 − 2λ)/(1 − 2λ)
 * (float64; past |η| = 10 λ rounds towards 1, so there the equivalent η/tanh(η/2) is used).
 */
function cbLogNorm64(eta: number): number {
  if (eta === 0) return Math.LN2;
  if (Math.abs(eta) > 10) return Math.log(eta / Math.tanh(eta / 2));
  const u = 1 - 2 * sigmoid64(eta);
  return Math.log((2 * Math.atanh(u)) / u);
}
const logSigmoid64 = (t: number) => (t > 0 ? -Math.log1p(Math.exp(-t)) : t - Math.log1p(Math.exp(t)));
const ETAS = [-30, -5, -1, -0.1001, -0.1, -0.05, -1e-3, 0, 1e-4, 0.03, 0.0999, 0.1, 0.5, 2, 8, 40];

test("continuous Bernoulli: log-density matches the definition, integrates to 1 for every λ (also near ½), mean and samples agree", () => {
  const G = 2000;
  const grid = Float32Array.from({ length: G + 1 }, (_, i) => i / G);
  const logProb = jitted((eta: Array, x: Array) => new ContinuousBernoulli(eta).logProb(x));
  for (const eta of ETAS) {
    const lp = host(logProb(np.full([G + 1, 1], eta), np.array(grid).reshape([G + 1, 1])));
    const integral = simpson(lp.map(Math.exp));
    assert.ok(Math.abs(integral - 1) < 1e-4, `η=${eta}: ∫p = ${integral}`);
    for (const i of [0, 137, 1000, 1999, 2000]) {
      const x = grid[i];
      const want = x * logSigmoid64(eta) + (1 - x) * logSigmoid64(-eta) + cbLogNorm64(eta);
      assert.ok(Math.abs(lp[i] - want) < 2e-5 * Math.max(1, Math.abs(want)), `η=${eta}, x=${x}: ${lp[i]} vs ${want}`);
    }
  }
  // log C near ½ (η → 0): value and slope continuous across the series/closed-form switch, gradient finite at 0
  const logNorm = jitted((e: Array) => continuousBernoulliLogNorm(e));
  const vals = host(logNorm(np.array([0.0999, 0.1, 0.1001, 0, 1e-6])));
  assert.ok(Math.abs(vals[0] - cbLogNorm64(0.0999)) < 1e-6 && Math.abs(vals[2] - cbLogNorm64(0.1001)) < 1e-6);
  assert.ok(Math.abs(vals[3] - Math.LN2) < 1e-7 && Math.abs(vals[4] - Math.LN2) < 1e-7);
  const slope = jitted((e: Array) => valueAndGrad((t: Array) => continuousBernoulliLogNorm(t).sum())(e)[1]);
  const g = host(slope(np.array([0, 0.0999, 0.1001, -3])));
  const fd = (e: number) => (cbLogNorm64(e + 1e-6) - cbLogNorm64(e - 1e-6)) / 2e-6;
  assert.equal(g[0], 0);
  for (const [i, e] of [[1, 0.0999], [2, 0.1001], [3, -3]] as const) assert.ok(Math.abs(g[i] - fd(e)) < 1e-4, `d log C/dη at ${e}: ${g[i]} vs ${fd(e)}`);
  // mean = ∫ x p(x) dx, and the sample mean agrees
  const means = host(jitted((e: Array) => continuousBernoulliMean(e))(np.array(ETAS)));
  ETAS.forEach((eta, j) => {
    const dens = Float64Array.from({ length: G + 1 }, (_, i) => (i / G) * Math.exp((i / G) * eta - Math.log1p(Math.exp(eta)) + cbLogNorm64(eta)));
    const want = eta > 20 ? 1 - 1 / eta : eta < -20 ? -1 / eta : simpson(dens);
    assert.ok(Math.abs(means[j] - want) < 1e-4, `mean at η=${eta}: ${means[j]} vs ${want}`);
  });
  const n = 40_000;
  for (const [eta, m] of [[-3, 0], [0.5, 0], [4, 0], [0, 0]] as const) {
    const s = host(new ContinuousBernoulli(np.full([n], eta)).sample(random.key(5 + m)));
    assert.ok(s.every((v) => v >= 0 && v <= 1));
    const sampleMean = s.reduce((a, b) => a + b, 0) / n;
    const want = host(continuousBernoulliMean(np.array([eta])))[0];
    assert.ok(Math.abs(sampleMean - want) < 0.01, `sample mean at η=${eta}: ${sampleMean} vs ${want}`);
  }
});

/** Probability of bin v/(bins−1) under a logistic(μ, s) discretised to `bins` levels, float64. */
function logisticBinProb(v: number, mu: number, s: number, bins: number): number {
  const x = v / (bins - 1), half = 0.5 / (bins - 1);
  const cdf = (t: number) => 1 / (1 + Math.exp(-(t - mu) / s));
  if (v === 0) return cdf(x + half);
  if (v === bins - 1) return 1 - cdf(x - half);
  return cdf(x + half) - cdf(x - half);
}

test("discretised logistic (mixture): bin log-probabilities match the CDF difference and sum to 1 over the 256 bins", () => {
  const bins = 256;
  const xs = np.array(Float32Array.from({ length: bins }, (_, v) => v / (bins - 1))).reshape([bins, 1]);
  const cases: [number, number][] = [[0.3, -3], [0.5, -6], [0.02, -1], [1.2, 0.5], [-0.3, -2], [0.7, -7.9], [0.5, 2], [0.999, -5]];
  const lpFn = jitted((loc: Array, logScale: Array, x: Array) => new DiscretizedLogisticMixture(np.zeros([bins, 1, 1]), loc, logScale, bins).logProb(x));
  for (const [mu, ls] of cases) {
    const lp = host(lpFn(np.full([bins, 1, 1], mu), np.full([bins, 1, 1], ls), xs.ref));
    const total = lp.reduce((a, l) => a + Math.exp(l), 0);
    assert.ok(Math.abs(total - 1) < 1e-4, `μ=${mu} log s=${ls}: Σ P = ${total}`);
    for (let v = 0; v < bins; v += 15) {
      const p = logisticBinProb(v, mu, Math.exp(ls), bins);
      if (p < 1e-12) continue; // float64 CDF differences lose accuracy deep in the tails
      assert.ok(Math.abs(lp[v] - Math.log(p)) < 1e-3 * Math.max(1, Math.abs(Math.log(p))), `μ=${mu} log s=${ls} v=${v}: ${lp[v]} vs ${Math.log(p)}`);
    }
  }
  // a 3-component mixture with its own weights: log Σ π_k P_k, still normalised
  const K = 3, mus = [0.1, 0.5, 0.93], lss = [-4, -2.5, -5], logits = [0.3, -1, 1.2];
  const mix = jitted((x: Array) =>
    new DiscretizedLogisticMixture(
      np.broadcastTo(np.array(logits).reshape([1, K, 1]), [bins, K, 1]),
      np.broadcastTo(np.array(mus).reshape([1, K, 1]), [bins, K, 1]),
      np.broadcastTo(np.array(lss).reshape([1, K, 1]), [bins, K, 1]),
      bins,
    ).logProb(x),
  );
  const lp = host(mix(xs.ref));
  const z = logits.reduce((a, l) => a + Math.exp(l), 0);
  let total = 0;
  for (let v = 0; v < bins; v++) {
    const p = mus.reduce((a, m, k) => a + (Math.exp(logits[k]) / z) * logisticBinProb(v, m, Math.exp(lss[k]), bins), 0);
    total += Math.exp(lp[v]);
    if (p > 1e-12) assert.ok(Math.abs(lp[v] - Math.log(p)) < 1e-3 * Math.max(1, Math.abs(Math.log(p))), `mixture v=${v}: ${lp[v]} vs ${Math.log(p)}`);
  }
  assert.ok(Math.abs(total - 1) < 1e-4, `mixture Σ P = ${total}`);
  // samples lie on the 8-bit grid
  const s = host(new DiscretizedLogisticMixture(np.zeros([500, K, 4]), np.full([500, K, 4], 0.4), np.full([500, K, 4], -3), bins).sample(random.key(2)));
  assert.ok(s.every((v) => v >= 0 && v <= 1 && Math.abs(v * 255 - Math.round(v * 255)) < 1e-4));
});

test("Gaussian likelihood with one learned global variance, and bits/dim", () => {
  const config = parseVaeConfig({ inputShape: [2, 3, 1], latentDim: 2, encoder: { type: "mlp", hidden: [5] }, decoder: { type: "mlp", hidden: [5] }, likelihood: { type: "gaussian", variance: "learned-global" } });
  const model = buildVae(config);
  const params = model.init(random.key(1));
  assert.deepEqual((params.dec_logvar as Array).shape, [1]);
  params.dec_logvar = np.array([Math.log(0.25)]);
  const x = [0.1, 0.9, 0.4, 0.0, 1.0, 0.5];
  const [lp, mean] = (jitted((p: VaeParams, z: Array, xb: Array) => {
    const d = model.decode(p, z);
    return [d.logProb(xb), d.mean()];
  })(tree.ref(params), np.array([[0.3, -0.7]]), np.array([x])) as Array[]).map(host);
  const want = x.reduce((a, v, i) => a - 0.5 * (Math.log(2 * Math.PI * 0.25) + (v - mean[i]) ** 2 / 0.25), 0);
  assert.ok(Math.abs(lp[0] - want) < 1e-4, `${lp[0]} vs ${want}`);
  assert.equal(bitsPerDim(784 * Math.LN2 * 1.5, 784), 1.5);
  assert.ok(Math.abs(bitsPerDim(100, 784) - 100 / (784 * Math.LN2)) < 1e-15);
});

// ---------------------------------------------------------------------------------------------
// objectives: schedules, free bits, IWAE

test("KL schedules: constant, linear warm-up and cyclical annealing as specified", () => {
  assert.equal(klWeightAt({ type: "constant" }, 12345), 1);
  const lin = { type: "linear" as const, warmupSteps: 100 };
  assert.deepEqual([0, 1, 50, 99, 100, 101, 10_000].map((t) => klWeightAt(lin, t)), [0, 0.01, 0.5, 0.99, 1, 1, 1]);
  const cyc = { type: "cyclical" as const, periodSteps: 10, rampFraction: 0.5, cycles: 0 };
  assert.deepEqual([0, 1, 2, 4, 5, 9, 10, 12, 15, 1003].map((t) => klWeightAt(cyc, t)), [0, 0.2, 0.4, 0.8, 1, 1, 0, 0.4, 1, 0.6]);
  const twice = { type: "cyclical" as const, periodSteps: 8, rampFraction: 1, cycles: 2 };
  assert.deepEqual([0, 4, 7, 8, 12, 15, 16, 20, 100].map((t) => klWeightAt(twice, t)), [0, 0.5, 0.875, 0, 0.5, 0.875, 1, 1, 1]);
  // the config rejects what the schedules cannot mean
  assert.throws(() => parseVaeConfig({ ...referenceConfig(2), objective: { klSchedule: { type: "linear", warmupSteps: 0 } } }), VaekitError);
  assert.throws(() => parseVaeConfig({ ...referenceConfig(2), objective: { klSchedule: { type: "cyclical", periodSteps: 10, rampFraction: 0 } } }), VaekitError);
  assert.throws(() => parseVaeConfig({ ...referenceConfig(2), objective: { type: "iwae", k: 5, freeBits: 1 } }), /free bits apply to the elbo objective/);
  assert.throws(() => parseVaeConfig({ ...referenceConfig(2), objective: { k: 5 } }), /k > 1 needs the iwae objective/);
});

const tinyMlp = (objective?: Record<string, unknown>) =>
  parseVaeConfig({ inputShape: [4, 4, 1], latentDim: 3, encoder: { type: "mlp", hidden: [8] }, decoder: { type: "mlp", hidden: [8] }, likelihood: { type: "bernoulli" }, objective });
const tinyBatch = (seed: number, B = 6) => {
  const rng = new Rng(seed);
  return np.array(Float32Array.from({ length: B * 16 }, () => (rng.uniform() < 0.4 ? 1 : 0))).reshape([B, 16]);
};
const w32 = (v: number) => np.array(v, { dtype: np.float32 });

test("free bits: Σ_j max(λ, batch-mean KL_j); dimensions under λ get no KL gradient", () => {
  const lambda = 0.6;
  const model = buildVae(tinyMlp({ freeBits: lambda }));
  const params = model.init(random.key(2));
  const x = tinyBatch(1);
  const key = () => random.key(9);
  const [loss] = (jitted((p: VaeParams, xb: Array) => trainingLoss(model, p, xb, key(), w32(0.7))[0])(tree.ref(params), x.ref) as Array).dataSync();
  const terms = jitted((p: VaeParams, xb: Array) => {
    const t = model.elboTerms(p, xb, key());
    return [t.recon, t.klPerDim!];
  })(tree.ref(params), x.ref) as Array[];
  const recon = host(terms[0]);
  const kpd = host(terms[1]);
  const B = recon.length, L = 3;
  let fb = 0;
  for (let j = 0; j < L; j++) {
    let m = 0;
    for (let b = 0; b < B; b++) m += kpd[b * L + j];
    fb += Math.max(lambda, m / B);
  }
  const want = recon.reduce((a, v) => a + v, 0) / B + 0.7 * fb;
  assert.ok(Math.abs(loss - want) < 1e-4 * Math.abs(want), `${loss} vs ${want}`);
  // λ above every dimension's KL: the KL term is constant, so the gradient is the reconstruction's alone
  const gradOf = (m: Vae, w: number) =>
    jitted((p: VaeParams, xb: Array) => valueAndGrad((q: VaeParams) => trainingLoss(m, q, xb, key(), w32(w))[0])(p)[1])(tree.ref(params), x.ref) as VaeParams;
  const gFree = gradOf(buildVae(tinyMlp({ freeBits: 100 })), 1);
  const gRecon = gradOf(buildVae(tinyMlp()), 0);
  for (const layer of ["enc_mu", "enc_logvar", "enc_fc1", "dec_fc1"]) {
    const a = host((gFree[layer] as { w: Array }).w);
    const b = host((gRecon[layer] as { w: Array }).w.ref);
    assert.ok(relErr(a, b) < 1e-5, layer);
  }
  // and the plain ELBO objective's gradient does include the KL (it differs)
  const gElbo = gradOf(buildVae(tinyMlp()), 1);
  assert.ok(relErr(host((gElbo.enc_logvar as { w: Array }).w), host((gRecon.enc_logvar as { w: Array }).w)) > 1e-2);
});

test("IWAE objective: the loss is −log-mean-exp of the weights (≤ the same samples' negative ELBO) and its gradient matches finite differences", () => {
  const k = 5;
  const model = buildVae(tinyMlp({ type: "iwae", k }));
  const params = model.init(random.key(5));
  const x = tinyBatch(4);
  const key = () => random.key(21);
  const lossAt = jitted((p: VaeParams, xb: Array) => trainingLoss(model, p, xb, key(), w32(1))[0]);
  const [loss] = (lossAt(tree.ref(params), x.ref) as Array).dataSync();
  const lw = host(jitted((p: VaeParams, xb: Array) => iwaeLogWeights(model, p, xb, key(), k))(tree.ref(params), x.ref) as Array);
  const B = lw.length / k;
  let iwae = 0, elbo = 0;
  for (let b = 0; b < B; b++) {
    const col = Float64Array.from({ length: k }, (_, i) => lw[i * B + b]);
    const m = Math.max(...col);
    iwae += m + Math.log(col.reduce((a, v) => a + Math.exp(v - m), 0) / k);
    elbo += col.reduce((a, v) => a + v, 0) / k;
  }
  assert.ok(Math.abs(loss - -iwae / B) < 1e-4 * Math.abs(loss), `${loss} vs ${-iwae / B}`);
  assert.ok(loss <= -elbo / B + 1e-4, "IWAE loss ≤ negative ELBO on the same samples");
  const grads = jitted((p: VaeParams, xb: Array) => valueAndGrad((q: VaeParams) => trainingLoss(model, q, xb, key(), w32(1))[0])(p)[1])(tree.ref(params), x.ref) as VaeParams;
  for (const [layer, leaf] of [["enc_fc1", "w"], ["enc_logvar", "b"], ["enc_mu", "w"], ["dec_fc2", "w"]] as const) {
    const g = host((grads[layer] as Record<string, Array>)[leaf]);
    assert.ok(g.every(Number.isFinite) && g.some((v) => v !== 0), `${layer}.${leaf} gradient finite and non-zero`);
    const base = host((params[layer] as Record<string, Array>)[leaf].ref);
    const shape = (params[layer] as Record<string, Array>)[leaf].shape;
    for (const idx of [0, Math.floor(base.length / 2), base.length - 1]) {
      const h = 1e-2;
      const at = (delta: number) => {
        const v = Float32Array.from(base);
        v[idx] += delta;
        const p2 = { ...tree.ref(params), [layer]: { ...(tree.ref(params[layer]) as Record<string, Array>), [leaf]: np.array(v).reshape(shape) } } as VaeParams;
        return (lossAt(p2, x.ref) as Array).dataSync()[0];
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(fd - g[idx]) < 2e-2 * Math.max(1, Math.abs(g[idx])), `${layer}.${leaf}[${idx}]: fd ${fd} vs grad ${g[idx]}`);
    }
  }
});

test("the train step takes β·w(t) as a traced scalar: loss = mean(recon + w·KL) for any w; the trainer follows the schedule", async () => {
  const config = tinyMlp({ klSchedule: { type: "linear", warmupSteps: 7 } });
  const model = buildVae(config);
  const tc = TrainConfig.parse({ epochs: 2, batchSize: 6, seed: 0, binarize: "none" });
  const step = makeTrainStep(model, tc);
  const stats = (w: number) => {
    const st = initTrainState(model, 0);
    return [...step(st.params, st.opt, tinyBatch(2), random.key(3), w32(w)).stats.dataSync()];
  };
  const [l0, r0, k0] = stats(0);
  assert.equal(l0, r0);
  const [l1, r1, k1] = stats(0.35);
  assert.deepEqual([r1, k1], [r0, k0]);
  assert.ok(Math.abs(l1 - (r1 + 0.35 * k1)) < 1e-4 * l1);
  // traced once: the model's ELBO code runs while tracing only, not again for a new weight
  let traces = 0;
  const counted: Vae = { ...model, elboTerms: (...a) => (traces++, model.elboTerms(...a)) };
  const countedStep = makeTrainStep(counted, tc);
  const st0 = initTrainState(model, 0);
  for (const w of [0, 0.5, 1, 0.25]) {
    const out = countedStep(st0.params, st0.opt, tinyBatch(2), random.key(3), w32(w));
    out.stats.dataSync();
    st0.params = out.params;
    st0.opt = out.opt;
  }
  assert.equal(traces, 1);
  // 4 batches per epoch: the last step of epoch 1 is t = 3 (w = 3/7), of epoch 2 t = 7 (w = 1)
  const data = new Float32Array(24 * 16).map((_, i) => (Math.sin(i * 12.9898) > 0.2 ? 1 : 0));
  const st = await trainVae({ ...config, beta: 2 }, tc, { train: data, validation: data.slice(0, 6 * 16) }, initTrainState(model, 0));
  assert.deepEqual(st.history.map((m) => m.kl_weight), [(2 * 3) / 7, 2]);
});

// ---------------------------------------------------------------------------------------------
// end to end: a conv VAE learns real digits; the CLI selects every variant

const digits = loadDataset("mnist", "train");

test("a conv VAE (k4 s2, 16→32 channels) trains on a few hundred real digits and lowers its loss", async () => {
  const config = parseVaeConfig({
    inputShape: [28, 28, 1],
    latentDim: 16,
    encoder: { type: "conv", channels: [16, 32] },
    decoder: { type: "conv", channels: [32, 16] },
    likelihood: { type: "bernoulli" },
  });
  const D = 784, n = 640, nVal = 200;
  const tc = TrainConfig.parse({ epochs: 3, batchSize: 64, lr: 2e-3, seed: 0, binarize: "dynamic" });
  const validation = binarize({ ...digits, n: nVal, x: digits.x.slice(n * D, (n + nVal) * D), labels: undefined }, "static", 1).x;
  const model = buildVae(config);
  const st = await trainVae(config, tc, { train: digits.x.slice(0, n * D), validation }, initTrainState(model, 0));
  const v = st.history.map((m) => m.val_neg_elbo);
  assert.ok(v[1] < v[0] && v[2] < v[1], `validation negative ELBO decreases: ${v}`);
  assert.ok(v[2] < 300, `validation negative ELBO ${v[2]} should be < 300 nats (untrained ≈ 545)`);
  const r = await makeEvaluator(model)(st.params, validation.slice(0, 64 * D), { iwaeK: 8, seed: 3 });
  assert.ok(Number.isFinite(r.iwae_nll!) && r.iwae_nll! < r.neg_elbo + 1, `IWAE ${r.iwae_nll} vs ELBO ${r.neg_elbo}`);
  assert.ok(Math.abs(r.neg_elbo_bpd! - r.neg_elbo / (D * Math.LN2)) < 1e-12);
});

test("train flags build the model config; a --config file is the base and only given flags override it", () => {
  const shape: [number, number, number] = [28, 28, 1];
  const build = (flags: Record<string, unknown>, config?: string) => {
    const o: Record<string, unknown> = { latent: 20, beta: 1, sigma: 1, mixtures: 1, klRamp: 0.5, klCycles: 0, ...flags, config };
    return modelConfigFrom(o, (name) => name in flags, shape);
  };
  assert.deepEqual(build({}), referenceConfig(20));
  const conv = build({ arch: "conv", channels: [32, 64], resBlocks: 1, likelihood: "discretized-logistic", mixtures: 5, objective: "iwae", klWarmup: 1000 });
  assert.deepEqual(conv.encoder, { type: "conv", channels: [32, 64], kernel: 4, stride: 2, residualBlocks: 1, hidden: [] });
  assert.deepEqual(conv.decoder, { type: "conv", channels: [64, 32], kernel: 4, stride: 2, residualBlocks: 1, hidden: [] });
  assert.deepEqual(conv.likelihood, { type: "discretized-logistic", mixtures: 5, bins: 256 });
  assert.deepEqual(conv.objective, { type: "iwae", k: 5, freeBits: 0, klSchedule: { type: "linear", warmupSteps: 1000 } });
  const cyc = build({ freeBits: 0.25, klCycle: 500, klRamp: 0.25, klCycles: 4, likelihood: "gaussian-global" });
  assert.deepEqual(cyc.objective, { type: "elbo", k: 1, freeBits: 0.25, klSchedule: { type: "cyclical", periodSteps: 500, rampFraction: 0.25, cycles: 4 } });
  assert.deepEqual(cyc.likelihood, { type: "gaussian", variance: "learned-global", sigma: 1 });
  // a config file keeps its own settings; a given flag overrides one of them
  const dir = mkdtempSync(join(tmpdir(), "vaekit-zoo-"));
  const file = join(dir, "model.json");
  writeFileSync(file, JSON.stringify({ ...conv, latentDim: 7, beta: 0.5 }));
  const fromFile = build({}, file);
  assert.deepEqual(fromFile, { ...conv, latentDim: 7, beta: 0.5 });
  const over = build({ kernel: 3, beta: 2 }, file);
  assert.deepEqual([over.encoder.type === "conv" && over.encoder.kernel, over.beta, over.latentDim, over.likelihood.type], [3, 2, 7, "discretized-logistic"]);
  assert.throws(() => build({ channels: [8] }), /--channels applies to conv models; add --arch conv/);
  assert.throws(() => build({ klWarmup: 10, klCycle: 10 }), /choose one of --kl-warmup and --kl-cycle/);
  assert.throws(() => build({ objective: "iwae", freeBits: 1 }), /free bits apply to the elbo objective/);
  assert.throws(() => build({ arch: "conv", channels: [8, 8, 8, 8, 8, 8] }), /does not fit a 1×1 feature map/);
});

test("vaekit train/eval run a conv VAE with a discretised logistic mixture, IWAE objective and KL warm-up", () => {
  const dir = mkdtempSync(join(tmpdir(), "vaekit-zoo-cli-"));
  const n = 300;
  const images = join(dir, "digits.idx");
  writeFileSync(images, encodeIdx([n, 28, 28], Uint8Array.from(digits.x.subarray(0, n * 784), (v) => Math.round(v * 255))));
  const cli = (args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "dist/src/cli/main.js"), ...args], { encoding: "utf8", timeout: 300_000 });
  const out = join(dir, "run");
  const flags = ["--data", images, "--arch", "conv", "--channels", "8,16", "--latent", "4", "--likelihood", "discretized-logistic", "--mixtures", "2"];
  const t = cli(["train", ...flags, "--objective", "iwae", "--iwae-k", "3", "--kl-warmup", "4", "--epochs", "2", "--batch-size", "50", "--validation", "100", "--out", out, "--quiet"]);
  assert.equal(t.status, 0, t.stderr);
  const metrics = t.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(metrics.length, 2);
  assert.deepEqual(metrics.map((m) => m.kl_weight), [0.75, 1]); // 4 steps an epoch: t = 3 → 3/4, t = 7 → 1
  const saved = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
  assert.deepEqual(saved.objective, { type: "iwae", k: 3, freeBits: 0, klSchedule: { type: "linear", warmupSteps: 4 } });
  assert.deepEqual(saved.likelihood, { type: "discretized-logistic", mixtures: 2, bins: 256 });
  const e = cli(["eval", "--model", out, "--data", images, "--iwae-k", "4", "--limit", "40", "--json", "--quiet"]);
  assert.equal(e.status, 0, e.stderr);
  const r = JSON.parse(e.stdout);
  assert.equal(r.binarize, "none");
  assert.ok(Number.isFinite(r.neg_elbo) && Number.isFinite(r.iwae_nll) && r.neg_elbo > 0);
  assert.ok(Math.abs(r.iwae_bpd - r.iwae_nll / (784 * Math.LN2)) < 1e-9);
  const bad = cli(["train", "--data", images, "--channels", "8", "--out", out]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr.trim(), /^[^\n]*--channels applies to conv models; add --arch conv[^\n]*$/);
});
