/**
 * The VAE as pure functions over a parameter tree, composed from a config:
 * encoder network → q(z|x) = DiagGaussian, decoder network → p(x|z) = the configured likelihood,
 * prior p(z) = N(0, I). Parameter names follow the seed's PyTorch module
 * (enc_fc1, enc_fc2, enc_mu, enc_logvar, dec_fc1..3) so weights move between the two.
 */
import { nn, np, random, type Array } from "../engine/index.js";
import { Bernoulli, DiagGaussian, StandardNormal, type Distribution } from "../distributions/index.js";
import { dense, initDense, type DenseParams } from "./layers.js";
import { inputSize, type VaeConfig } from "./config.js";

export type VaeParams = Record<string, DenseParams | Array>;

export interface Vae {
  config: VaeConfig;
  prior: StandardNormal;
  init(key: Array): VaeParams;
  /** q(z|x) for a batch x [B, D] (consumed). */
  encode(params: VaeParams, x: Array): DiagGaussian;
  /** p(x|z) for latents z [N, L] (consumed). */
  decode(params: VaeParams, z: Array): Distribution;
}

function decoderOutputSize(config: VaeConfig): number {
  const d = inputSize(config);
  return config.likelihood.type === "gaussian" && config.likelihood.variance === "network" ? 2 * d : d;
}

function mlpLayerSizes(config: VaeConfig) {
  const d = inputSize(config);
  const enc = [d, ...config.encoder.hidden];
  const dec = [config.latentDim, ...config.decoder.hidden, decoderOutputSize(config)];
  return { enc, dec };
}

export function buildVae(config: VaeConfig): Vae {
  const { enc, dec } = mlpLayerSizes(config);
  const L = config.latentDim;
  const D = inputSize(config);
  const nEnc = enc.length - 1;
  const nDec = dec.length - 1;
  const lik = config.likelihood;

  function init(key: Array): VaeParams {
    const keys = np.unstack(random.split(key, nEnc + 2 + nDec));
    const p: VaeParams = {};
    for (let i = 0; i < nEnc; i++) p[`enc_fc${i + 1}`] = initDense(keys[i], enc[i], enc[i + 1]);
    const h = enc[nEnc];
    p.enc_mu = initDense(keys[nEnc], h, L);
    p.enc_logvar = initDense(keys[nEnc + 1], h, L);
    for (let i = 0; i < nDec; i++) p[`dec_fc${i + 1}`] = initDense(keys[nEnc + 2 + i], dec[i], dec[i + 1]);
    if (lik.type === "gaussian" && lik.variance === "learned") p.dec_logvar = np.zeros([D]);
    return p;
  }

  function encode(params: VaeParams, x: Array): DiagGaussian {
    let h = x;
    for (let i = 0; i < nEnc; i++) h = nn.relu(dense(h, params[`enc_fc${i + 1}`] as DenseParams));
    const mu = dense(h.ref, params.enc_mu as DenseParams);
    const logVar = dense(h, params.enc_logvar as DenseParams);
    return new DiagGaussian(mu, logVar);
  }

  function decode(params: VaeParams, z: Array): Distribution {
    let h = z;
    for (let i = 0; i < nDec; i++) {
      h = dense(h, params[`dec_fc${i + 1}`] as DenseParams);
      if (i < nDec - 1) h = nn.relu(h);
    }
    if (lik.type === "bernoulli") return new Bernoulli(h);
    if (lik.variance === "network") {
      const [mean, logVar] = np.split(h, 2, -1);
      return new DiagGaussian(mean, logVar);
    }
    const mean = h; // real-valued data: identity mean, so any value range works
    const logVar =
      lik.variance === "learned"
        ? np.broadcastTo((params.dec_logvar as Array).ref, mean.shape)
        : np.full(mean.shape, 2 * Math.log(lik.sigma));
    return new DiagGaussian(mean, logVar);
  }

  return { config, prior: new StandardNormal(L), init, encode, decode };
}
